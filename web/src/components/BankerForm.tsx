import { useRef, useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../lib/api';
import { formatMoney, parseAmount } from '../lib/money';
import { SubmissionKey } from '../lib/idempotency';
import { keys } from '../lib/queries';
import { movementRefusal } from '../lib/rules';
import type { MovementResult } from '../lib/types';
import { ErrorAlert, Notice } from './ErrorAlert';
import { Field } from './Field';

type Kind = 'deposit' | 'withdraw';

/** A banker's deposit to, or withdrawal from, any customer account (money from/to the reserve). */
export function BankerForm() {
  const queryClient = useQueryClient();
  const [accountId, setAccountId] = useState('');
  const [amount, setAmount] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const key = useRef(new SubmissionKey());
  // Set synchronously, so a second click before React re-renders cannot submit again.
  const inFlight = useRef(false);
  const lastKind = useRef<Kind | null>(null);

  const move = useMutation({
    onSettled: () => {
      inFlight.current = false;
    },
    mutationFn: async ({ kind, id, text }: { kind: Kind; id: number; text: string }): Promise<MovementResult> => {
      // The amount is typed in major units of the account's currency: ask the bank which.
      const account = await api.getAccount(id);
      const parsed = parseAmount(text, account.currency);
      if (!parsed.ok) throw new Error(`Amount: ${parsed.error}`);
      const refusal = movementRefusal(kind, account, parsed.minor);
      if (refusal) throw new Error(refusal);
      const idempotencyKey = key.current.forSubmission();
      return kind === 'deposit'
        ? api.deposit(id, parsed.minor, idempotencyKey)
        : api.withdraw(id, parsed.minor, idempotencyKey);
    },
    onSuccess: (result, { kind }) => {
      key.current.reset();
      const { transfer, account } = result;
      const verb = kind === 'deposit' ? 'Deposited' : 'Withdrew';
      const preposition = kind === 'deposit' ? 'to' : 'from';
      setDone(
        `${verb} ${formatMoney(transfer.amount, transfer.currency)} ${preposition} account #${account.id}; its balance is now ${formatMoney(account.balance, account.currency)}.`,
      );
      setAmount('');
      void queryClient.invalidateQueries({ queryKey: keys.accounts });
      void queryClient.invalidateQueries({ queryKey: ['statement'] });
      void queryClient.invalidateQueries({ queryKey: ['account'] });
    },
  });

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (move.isPending || inFlight.current) return;
    const submitter = (event.nativeEvent as SubmitEvent).submitter as HTMLButtonElement | null;
    const kind: Kind = submitter?.value === 'withdraw' ? 'withdraw' : 'deposit';
    if (lastKind.current !== kind) key.current.reset();
    lastKind.current = kind;
    setProblem(null);
    setDone(null);
    if (!/^\d+$/.test(accountId.trim())) return setProblem('Account: enter the account number, e.g. 42.');
    if (amount.trim() === '') return setProblem('Amount: enter an amount.');
    inFlight.current = true;
    move.mutate({ kind, id: Number(accountId.trim()), text: amount });
  }

  function edit(setter: (value: string) => void) {
    return (event: { target: { value: string } }) => {
      key.current.reset();
      setDone(null);
      setter(event.target.value);
    };
  }

  return (
    <form onSubmit={submit} className="stack" noValidate>
      <Field id="banker-account" label="Account" inputMode="numeric" autoComplete="off" placeholder="e.g. 42"
        value={accountId} onChange={edit(setAccountId)} />
      <Field id="banker-amount" label="Amount" inputMode="decimal" autoComplete="off"
        hint="In the account's currency, e.g. 100.00 (USD) or 5000 (JPY)" value={amount} onChange={edit(setAmount)} />
      <ErrorAlert text={problem} error={move.error} />
      <Notice text={done} />
      <div className="buttons">
        <button type="submit" value="deposit" disabled={move.isPending}>
          Deposit
        </button>
        <button type="submit" value="withdraw" className="secondary" disabled={move.isPending}>
          Withdraw
        </button>
      </div>
    </form>
  );
}
