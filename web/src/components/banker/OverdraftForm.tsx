import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../lib/api';
import { SubmissionKey } from '../../lib/idempotency';
import { formatMoney, minorToInput } from '../../lib/money';
import { parseOverdraft } from '../../lib/overdraft';
import { keys } from '../../lib/queries';
import type { Account } from '../../lib/types';
import { ErrorAlert, Notice } from '../ErrorAlert';
import { Field } from '../Field';

/** A banker sets how far below 0 an account's balance may go (0: not at all). */
export function OverdraftForm({ account }: { account: Account }) {
  const queryClient = useQueryClient();
  const [text, setText] = useState(minorToInput(account.overdraft, account.currency));
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  // One key per limit asked: a retry replays it.
  const key = useRef(new SubmissionKey());
  const inFlight = useRef(false);

  const set = useMutation({
    onSettled: () => {
      inFlight.current = false;
    },
    mutationFn: (overdraft: number) => api.setOverdraft(account.id, overdraft, key.current.forSubmission()),
    onSuccess: (updated) => {
      key.current.reset();
      queryClient.setQueryData(keys.account(updated.id), updated);
      void queryClient.invalidateQueries({ queryKey: keys.accounts });
      setDone(
        updated.overdraft === 0
          ? `Account #${updated.id} has no overdraft: its balance may not go below 0.`
          : `Account #${updated.id} may go down to ${formatMoney(-updated.overdraft, updated.currency)}; ${formatMoney(updated.available, updated.currency)} available.`,
      );
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (set.isPending || inFlight.current) return;
    setProblem(null);
    setDone(null);
    const parsed = parseOverdraft(text, account.currency);
    if (!parsed.ok) return setProblem(`Overdraft limit: ${parsed.error}`);
    inFlight.current = true;
    set.mutate(parsed.minor);
  }

  return (
    <form className="inline-form" onSubmit={submit} noValidate aria-label={`Overdraft of account #${account.id}`}>
      <Field id={`overdraft-${account.id}`} label="Overdraft limit" inputMode="decimal" autoComplete="off"
        hint={`In ${account.currency}; 0 for none`} value={text}
        onChange={(e) => { key.current.reset(); setDone(null); setText(e.target.value); }} />
      <button type="submit" disabled={set.isPending}>Set overdraft</button>
      <ErrorAlert text={problem} error={set.error} />
      <Notice text={done} />
    </form>
  );
}
