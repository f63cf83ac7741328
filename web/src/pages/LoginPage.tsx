import { useState, type FormEvent } from 'react';
import { Link, Navigate, useLocation, useNavigate } from 'react-router-dom';
import { useAuth } from '../auth';
import { api } from '../lib/api';
import { ErrorAlert, Notice } from '../components/ErrorAlert';
import { Field } from '../components/Field';
import { AuthFrame } from './AuthFrame';

export function LoginPage() {
  const { user, ended } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  if (user) return <Navigate to="/" replace />;
  const from = (location.state as { from?: string } | null)?.from ?? '/';

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      await api.login(username.trim(), password);
      navigate(from, { replace: true });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <AuthFrame title="Log in">
      {ended === 'expired' && !error && <Notice text="Your session has ended. Please log in again." />}
      {ended === 'logout' && !error && <Notice text="You are logged out." />}
      <form onSubmit={submit} className="stack">
        <Field id="login-username" label="Username" autoComplete="username" autoCapitalize="none" required
          value={username} onChange={(e) => setUsername(e.target.value)} />
        <Field id="login-password" label="Password" type="password" autoComplete="current-password" required
          value={password} onChange={(e) => setPassword(e.target.value)} />
        <ErrorAlert error={error} />
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
      <p className="switch">
        New to Tally? <Link to="/signup">Create an account</Link>
      </p>
    </AuthFrame>
  );
}
