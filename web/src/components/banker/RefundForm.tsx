import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../lib/api';
import { SubmissionKey } from '../../lib/idempotency';
import { formatMoney, minorToInput, parseAmount } from '../../lib/money';
import { keys } from '../../lib/queries';
import type { Transfer } from '../../lib/types';
import { ErrorAlert } from '../ErrorAlert';

/**
 * A banker refunds `transfer`: the most that can be refunded now (`left`, minor units: what is left
 * of it within what its payee has available) by default, or a part. The
 * amount is always sent, so a refund made meanwhile by someone else cannot make this one larger
 * than what the banker saw.
 */
export function RefundForm({ transfer, left, onCancel, onDone }: {
  transfer: Transfer;
  left: number;
  onCancel: () => void;
  onDone: (message: string) => void;
}) {
  const queryClient = useQueryClient();
  const [amount, setAmount] = useState(minorToInput(left, transfer.currency));
  const [problem, setProblem] = useState<string | null>(null);
  // One key per refund asked: a retry of the same one replays it, never refunds twice.
  const key = useRef(new SubmissionKey());
  const inFlight = useRef(false);

  const refund = useMutation({
    onSettled: () => {
      inFlight.current = false;
    },
    mutationFn: (minor: number) => api.reverseTransfer(transfer.id, key.current.forSubmission(), minor),
    onSuccess: ({ transfer: made }) => {
      key.current.reset();
      onDone(`Refunded ${formatMoney(made.amount, made.currency)} of transfer #${transfer.id} to account #${made.to_account_id}.`);
      for (const id of [transfer.from_account_id, transfer.to_account_id]) {
        void queryClient.invalidateQueries({ queryKey: keys.account(id) });
        void queryClient.invalidateQueries({ queryKey: keys.transfersOf(id) });
      }
      void queryClient.invalidateQueries({ queryKey: ['statement'] });
      void queryClient.invalidateQueries({ queryKey: keys.accounts });
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (refund.isPending || inFlight.current) return;
    setProblem(null);
    const parsed = parseAmount(amount, transfer.currency);
    if (!parsed.ok) return setProblem(`Amount to refund: ${parsed.error}`);
    if (parsed.minor > left) {
      return setProblem(`Amount to refund: at most ${formatMoney(left, transfer.currency)}, what is left of it that account #${transfer.to_account_id} can pay.`);
    }
    inFlight.current = true;
    refund.mutate(parsed.minor);
  }

  const id = `refund-${transfer.id}-amount`;
  return (
    <form className="inline-form" onSubmit={submit} noValidate aria-label={`Refund of transfer #${transfer.id}`}>
      <div className="field narrow">
        <label htmlFor={id}>Amount to refund</label>
        <input id={id} inputMode="decimal" autoComplete="off" value={amount} aria-describedby={`${id}-hint`}
          onChange={(e) => { key.current.reset(); setProblem(null); setAmount(e.target.value); }} />
        <small id={`${id}-hint`} className="hint">At most {formatMoney(left, transfer.currency)}, in {transfer.currency}</small>
      </div>
      <div className="buttons">
        <button type="submit" disabled={refund.isPending}>Confirm refund</button>
        <button type="button" className="secondary" onClick={onCancel} disabled={refund.isPending}>Cancel</button>
      </div>
      <ErrorAlert text={problem} error={refund.error} />
    </form>
  );
}
