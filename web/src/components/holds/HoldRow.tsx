import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../lib/api';
import { formatMoney, minorToInput, parseAmount } from '../../lib/money';
import { SubmissionKey } from '../../lib/idempotency';
import { formatDateTime } from '../../lib/dates';
import { keys } from '../../lib/queries';
import { canReceive } from '../../lib/rules';
import type { Account, Transfer } from '../../lib/types';
import { ErrorAlert } from '../ErrorAlert';

/**
 * A hold waiting for me, the payee: confirm all or part of it (post), or release it (void). Into
 * my closed account (`payee`) it can only be released: the bank refuses to credit it (409).
 */
export function HoldRow({ hold, payee, onDone }: { hold: Transfer; payee?: Account; onDone: (message: string) => void }) {
  const queryClient = useQueryClient();
  const [amount, setAmount] = useState(minorToInput(hold.amount, hold.currency));
  const [problem, setProblem] = useState<string | null>(null);
  const key = useRef(new SubmissionKey());
  // Set synchronously, so a second click before React re-renders cannot submit again.
  const inFlight = useRef(false);
  const kindRef = useRef<'post' | 'void' | null>(null);

  const act = useMutation({
    onSettled: () => {
      inFlight.current = false;
    },
    mutationFn: ({ kind, minor }: { kind: 'post' | 'void'; minor?: number }) =>
      kind === 'post'
        ? api.postTransfer(hold.id, minor, key.current.forSubmission())
        : api.voidTransfer(hold.id, key.current.forSubmission()),
    onSuccess: ({ transfer }) => {
      key.current.reset();
      // Told by the page: this row leaves the list once the holds are fetched again.
      onDone(
        transfer.status === 'voided'
          ? `Hold #${hold.id} released: ${formatMoney(hold.amount, hold.currency)} stays with account #${hold.from_account_id}.`
          : `Hold #${hold.id} confirmed: ${formatMoney(transfer.amount, transfer.currency)} received in account #${hold.to_account_id}.`,
      );
      void queryClient.invalidateQueries({ queryKey: keys.holds });
      void queryClient.invalidateQueries({ queryKey: keys.accounts });
      void queryClient.invalidateQueries({ queryKey: ['statement'] });
    },
  });

  const confirmable = !payee || canReceive(payee);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (act.isPending || inFlight.current) return;
    const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const kind = submitter?.value === 'void' ? 'void' : 'post';
    if (kindRef.current !== kind) key.current.reset();
    kindRef.current = kind;
    setProblem(null);
    if (kind === 'void') {
      inFlight.current = true;
      return act.mutate({ kind });
    }
    const parsed = parseAmount(amount, hold.currency);
    if (!parsed.ok) return setProblem(`Amount to confirm: ${parsed.error}`);
    if (parsed.minor > hold.amount) return setProblem('Amount to confirm: at most the amount held.');
    // The whole hold is the default; a smaller amount releases the rest.
    inFlight.current = true;
    act.mutate({ kind, minor: parsed.minor === hold.amount ? undefined : parsed.minor });
  }

  return (
    <li className="hold" data-hold-id={hold.id}>
      <div className="hold-head">
        <strong>{formatMoney(hold.amount, hold.currency)}</strong> from account #{hold.from_account_id} to your
        account #{hold.to_account_id}
        {hold.expires_at && <span className="hint"> · expires {formatDateTime(hold.expires_at)}</span>}
      </div>
      {act.isSuccess ? null : (
        <form className="inline-form" onSubmit={submit} aria-label={`Hold #${hold.id}`}>
          {confirmable ? (
            <div className="field narrow">
              <label htmlFor={`hold-${hold.id}-amount`}>Amount to confirm</label>
              <input id={`hold-${hold.id}-amount`} inputMode="decimal" value={amount}
                onChange={(e) => { key.current.reset(); setAmount(e.target.value); }} />
            </div>
          ) : (
            <p className="hint">Your account #{hold.to_account_id} is closed: this hold can only be released.</p>
          )}
          <div className="buttons">
            {confirmable && <button type="submit" value="post" disabled={act.isPending}>Confirm</button>}
            <button type="submit" value="void" className="secondary" disabled={act.isPending}>Release</button>
          </div>
          <ErrorAlert text={problem} error={act.error} />
        </form>
      )}
    </li>
  );
}
