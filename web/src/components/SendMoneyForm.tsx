import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../lib/api';
import { formatMoney, parseAmount } from '../lib/money';
import { SubmissionKey } from '../lib/idempotency';
import { keys } from '../lib/queries';
import type { Account, NewTransfer, TransferResult } from '../lib/types';
import { AccountSelect } from './AccountSelect';
import { ErrorAlert, Notice } from './ErrorAlert';
import { Field } from './Field';
import { HoldOption, NO_HOLD, holdFields, type HoldChoice } from './holds/HoldOption';

/** docs/api.md: a transfer's description is at most 140 characters. */
const DESCRIPTION_MAX = 140;

export function SendMoneyForm({ accounts }: { accounts: Account[] }) {
  const queryClient = useQueryClient();
  const [fromId, setFromId] = useState(accounts[0] ? String(accounts[0].id) : '');
  const [toId, setToId] = useState('');
  const [amount, setAmount] = useState('');
  const [description, setDescription] = useState('');
  const [hold, setHold] = useState<HoldChoice>(NO_HOLD);
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  // One key per submission: kept while the same values are re-sent, new once they change.
  const key = useRef(new SubmissionKey());
  // Set synchronously, so a second click before React re-renders cannot submit again.
  const inFlight = useRef(false);

  const from = accounts.find((a) => String(a.id) === fromId) ?? accounts[0];

  const send = useMutation({
    onSettled: () => {
      inFlight.current = false;
    },
    mutationFn: ({ body, idempotencyKey }: { body: NewTransfer; idempotencyKey: string }) =>
      api.transfer(body, idempotencyKey),
    onSuccess: (result: TransferResult) => {
      key.current.reset();
      const t = result.transfer;
      const what = t.status === 'pending' ? 'Held' : 'Sent';
      setDone(`${what} ${formatMoney(t.amount, t.currency)} to account #${t.to_account_id} (transfer #${t.id}).`);
      setAmount('');
      setDescription('');
      setHold(NO_HOLD);
      void queryClient.invalidateQueries({ queryKey: keys.accounts });
      void queryClient.invalidateQueries({ queryKey: ['statement'] });
      void queryClient.invalidateQueries({ queryKey: keys.holds });
    },
  });

  function changed<T>(setter: (value: T) => void) {
    return (value: T) => {
      key.current.reset();
      setDone(null);
      setter(value);
    };
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    if (send.isPending || inFlight.current) return; // a second click while the first is in flight
    setProblem(null);
    setDone(null);
    if (!from) return setProblem('Open an account first.');
    if (!/^\d+$/.test(toId.trim())) return setProblem('To account: enter the account number, e.g. 42.');
    const parsed = parseAmount(amount, from.currency);
    if (!parsed.ok) return setProblem(`Amount: ${parsed.error}`);
    const extra = holdFields(hold);
    if (typeof extra === 'string') return setProblem(extra);
    const said = description.trim();
    if ([...said].length > DESCRIPTION_MAX) return setProblem(`Description: at most ${DESCRIPTION_MAX} characters.`);
    const body: NewTransfer = {
      from_account_id: from.id,
      to_account_id: Number(toId.trim()),
      amount: parsed.minor,
      currency: from.currency,
      ...(said ? { description: said } : {}),
      ...extra,
    };
    inFlight.current = true;
    send.mutate({ body, idempotencyKey: key.current.forSubmission() });
  }

  return (
    <form onSubmit={submit} className="stack" noValidate>
      <AccountSelect id="send-from" label="From account" accounts={accounts} value={from ? String(from.id) : ''}
        onChange={changed(setFromId)} />
      <Field id="send-to" label="To account" inputMode="numeric" autoComplete="off" placeholder="e.g. 42"
        value={toId} onChange={(e) => changed(setToId)(e.target.value)} />
      <Field id="send-amount" label="Amount" inputMode="decimal" autoComplete="off"
        hint={from ? `In ${from.currency}, e.g. ${from.currency === 'JPY' || from.currency === 'KRW' ? '1250' : '12.50'}` : undefined}
        value={amount} onChange={(e) => changed(setAmount)(e.target.value)} />
      <Field id="send-description" label="Description" autoComplete="off" maxLength={DESCRIPTION_MAX}
        hint="Optional: what it is for, shown to both of you" value={description}
        onChange={(e) => changed(setDescription)(e.target.value)} />
      <HoldOption value={hold} onChange={changed(setHold)} />
      <ErrorAlert text={problem} error={send.error} />
      <Notice text={done} />
      <button type="submit" disabled={send.isPending || !from}>
        Send
      </button>
    </form>
  );
}
