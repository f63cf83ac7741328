import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../../lib/api';
import { keys } from '../../lib/queries';
import { isEmpty, isReserve, statusActions, type StatusAction } from '../../lib/rules';
import type { Account } from '../../lib/types';
import { ErrorAlert, Notice } from '../ErrorAlert';

const DONE: Record<StatusAction, string> = {
  freeze: 'frozen: it can receive money but not pay',
  unfreeze: 'unfrozen: it can pay again',
  close: 'closed',
};

const LABEL: Record<StatusAction, string> = { freeze: 'Freeze', unfreeze: 'Unfreeze', close: 'Close account' };

/** Why an action is not offered, in words; null when nothing needs saying. */
function whyNot(account: Account): string | null {
  if (isReserve(account)) return "A currency's reserve account is never frozen or closed.";
  if (account.status === 'closed') return 'This account is closed for good.';
  if (!isEmpty(account)) return 'It can be closed once empty: nothing in it and nothing held.';
  return null;
}

/** A banker freezes, unfreezes or closes an account: only the actions its status and kind allow. */
export function StatusActions({ account }: { account: Account }) {
  const queryClient = useQueryClient();
  const [done, setDone] = useState<string | null>(null);
  const change = useMutation({
    mutationFn: (action: StatusAction): Promise<Account> => {
      if (action === 'freeze') return api.freeze(account.id);
      if (action === 'unfreeze') return api.unfreeze(account.id);
      return api.closeAccount(account.id);
    },
    onSuccess: (updated, action) => {
      queryClient.setQueryData(keys.account(updated.id), updated);
      setDone(`Account #${updated.id} is ${DONE[action]}.`);
      void queryClient.invalidateQueries({ queryKey: keys.accounts });
    },
  });

  function act(action: StatusAction) {
    if (change.isPending) return;
    setDone(null);
    change.mutate(action);
  }

  const actions = statusActions(account);
  const note = whyNot(account);
  return (
    <div className="stack">
      <div className="buttons status-actions">
        {actions.map((action, index) => (
          <button key={action} type="button" className={index === 0 ? undefined : 'secondary'}
            onClick={() => act(action)} disabled={change.isPending}>
            {LABEL[action]}
          </button>
        ))}
        {note && <p className="hint">{note}</p>}
      </div>
      <ErrorAlert error={change.error} />
      <Notice text={done} />
    </div>
  );
}
