import { useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate } from 'react-router-dom';
import { useAuth } from '../auth';
import { api } from '../lib/api';
import { ErrorAlert } from '../components/ErrorAlert';
import { Field } from '../components/Field';
import { AuthFrame } from './AuthFrame';

/** The API's rules for a new user (docs/api.md, Auth), checked here first to say what is wrong. */
function problems(fields: { username: string; full_name: string; email: string; password: string }): string | null {
  if (!/^[a-z0-9_]{3,64}$/.test(fields.username)) {
    return 'Username: 3 to 64 characters, lower-case letters, digits and _ only.';
  }
  if (fields.full_name.trim().length < 1 || fields.full_name.length > 100) return 'Full name: 1 to 100 characters.';
  if (!/^[^\s@]+@[^\s@]+$/.test(fields.email)) return 'Email: enter an address like name@example.com.';
  const bytes = new TextEncoder().encode(fields.password).length;
  if (bytes < 8 || bytes > 72) return 'Password: 8 to 72 characters.';
  return null;
}

export function SignupPage() {
  const { user } = useAuth();
  const navigate = useNavigate();
  const [fields, setFields] = useState({ username: '', full_name: '', email: '', password: '' });
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  if (user) return <Navigate to="/" replace />;
  const set = (name: keyof typeof fields) => (event: { target: { value: string } }) =>
    setFields((previous) => ({ ...previous, [name]: event.target.value }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    const wanted = { ...fields, username: fields.username.trim(), email: fields.email.trim() };
    const problem = problems(wanted);
    if (problem) {
      setError(new Error(problem));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await api.signup(wanted);
      navigate('/', { replace: true });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <AuthFrame title="Sign up">
      <form onSubmit={submit} className="stack" noValidate>
        <Field id="signup-username" label="Username" autoComplete="username" autoCapitalize="none" required
          hint="Lower-case letters, digits and _" value={fields.username} onChange={set('username')} />
        <Field id="signup-full-name" label="Full name" autoComplete="name" required value={fields.full_name}
          onChange={set('full_name')} />
        <Field id="signup-email" label="Email" type="email" autoComplete="email" required value={fields.email}
          onChange={set('email')} />
        <Field id="signup-password" label="Password" type="password" autoComplete="new-password" required
          hint="8 to 72 characters" value={fields.password} onChange={set('password')} />
        <ErrorAlert error={error} />
        <button type="submit" disabled={busy}>
          Sign up
        </button>
      </form>
      <p className="switch">
        Already a customer? <Link to="/login">Log in</Link>
      </p>
    </AuthFrame>
  );
}
