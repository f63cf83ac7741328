import { useState, type FormEvent } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../lib/api';
import { formatMoney } from '../lib/money';
import type { Account } from '../lib/types';
import { ErrorAlert, Notice } from './ErrorAlert';
import { Field } from './Field';

type Action = 'freeze' | 'unfreeze' | 'close';

const DONE: Record<Action, string> = {
  freeze: 'frozen: it can receive money but not pay',
  unfreeze: 'unfrozen: it can pay again',
  close: 'closed',
};

/** A banker looks an account up by its number and freezes, unfreezes or closes it. */
export function AccountAdmin() {
  const queryClient = useQueryClient();
  const [text, setText] = useState('');
  const [id, setId] = useState<number | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const account = useQuery({
    queryKey: ['account', id],
    queryFn: () => api.getAccount(id as number),
    enabled: id !== null,
    retry: false,
  });
  const change = useMutation({
    mutationFn: ({ action, target }: { action: Action; target: number }): Promise<Account> => {
      if (action === 'freeze') return api.freeze(target);
      if (action === 'unfreeze') return api.unfreeze(target);
      return api.closeAccount(target);
    },
    onSuccess: (updated, { action }) => {
      queryClient.setQueryData(['account', updated.id], updated);
      setDone(`Account #${updated.id} is ${DONE[action]}.`);
      void queryClient.invalidateQueries({ queryKey: ['accounts'] });
    },
  });

  function lookUp(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setProblem(null);
    setDone(null);
    change.reset();
    if (!/^\d+$/.test(text.trim())) return setProblem('Account number: enter the account number, e.g. 42.');
    setId(Number(text.trim()));
  }

  function act(action: Action) {
    if (!account.data || change.isPending) return;
    setDone(null);
    change.mutate({ action, target: account.data.id });
  }

  const shown = account.data;
  return (
    <div className="stack">
      <form onSubmit={lookUp} className="stack" noValidate aria-label="Look up an account">
        <Field id="admin-account" label="Account number" inputMode="numeric" autoComplete="off" placeholder="e.g. 42"
          value={text} onChange={(event) => setText(event.target.value)} />
        <div className="buttons">
          <button type="submit">Look up</button>
        </div>
      </form>
      <ErrorAlert text={problem} error={account.error ?? change.error} />
      <Notice text={done} />
      {shown && (
        <section aria-label={`Account #${shown.id}`} className="stack">
          <dl className="facts">
            <dt>Account</dt>
            <dd>#{shown.id}</dd>
            <dt>Owner</dt>
            <dd>{shown.owner ?? 'the reserve'}</dd>
            <dt>Status</dt>
            <dd data-testid="account-status">{shown.status}</dd>
            <dt>Balance</dt>
            <dd>{formatMoney(shown.balance, shown.currency)}</dd>
            <dt>Held</dt>
            <dd>{formatMoney(shown.held, shown.currency)}</dd>
          </dl>
          <div className="buttons">
            <button type="button" onClick={() => act('freeze')} disabled={change.isPending || shown.status !== 'active'}>
              Freeze
            </button>
            <button type="button" className="secondary" onClick={() => act('unfreeze')}
              disabled={change.isPending || shown.status !== 'frozen'}>
              Unfreeze
            </button>
            <button type="button" className="secondary" onClick={() => act('close')}
              disabled={change.isPending || shown.status === 'closed'}>
              Close account
            </button>
          </div>
        </section>
      )}
    </div>
  );
}
