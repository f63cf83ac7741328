import { useState, type FormEvent } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api } from '../../lib/api';
import { keys } from '../../lib/queries';
import { ErrorAlert } from '../ErrorAlert';
import { Field } from '../Field';
import { AccountFacts } from './AccountFacts';
import { AccountTransfers } from './AccountTransfers';
import { OverdraftForm } from './OverdraftForm';
import { canSetOverdraft } from '../../lib/rules';
import { StatusActions } from './StatusActions';

/** A banker looks an account up by its number: what it holds, its status actions, its transfers. */
export function AccountAdmin() {
  const [text, setText] = useState('');
  const [id, setId] = useState<number | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const account = useQuery({
    queryKey: keys.account(id ?? 0),
    queryFn: () => api.getAccount(id as number),
    enabled: id !== null,
    retry: false,
  });

  function lookUp(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setProblem(null);
    if (!/^\d+$/.test(text.trim())) return setProblem('Account number: enter the account number, e.g. 42.');
    setId(Number(text.trim()));
  }

  const shown = account.data;
  return (
    <div className="stack">
      <form onSubmit={lookUp} className="inline-form" noValidate aria-label="Look up an account">
        <Field id="admin-account" label="Account number" inputMode="numeric" autoComplete="off" placeholder="e.g. 42"
          value={text} onChange={(event) => setText(event.target.value)} />
        <button type="submit">Look up</button>
      </form>
      <ErrorAlert text={problem} error={problem ? null : account.error} />
      {shown && !problem && (
        // Keyed by the account: a notice or a half-typed refund never carries over to the next one.
        <section key={shown.id} aria-label={`Account #${shown.id}`} className="stack">
          <AccountFacts account={shown} />
          <StatusActions account={shown} />
          {canSetOverdraft(shown) && <OverdraftForm account={shown} />}
          <AccountTransfers account={shown} />
        </section>
      )}
    </div>
  );
}
