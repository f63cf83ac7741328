import { useState, type FormEvent } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api } from '../lib/api';
import { CURRENCIES, type Currency } from '../lib/money';
import { keys } from '../lib/queries';
import type { Account } from '../lib/types';
import { ErrorAlert, Notice } from './ErrorAlert';

/** Opens an account in a currency the user has none in yet (one per currency, docs/api.md). */
export function OpenAccountForm({ accounts }: { accounts: Account[] }) {
  const queryClient = useQueryClient();
  const taken = new Set(accounts.map((a) => a.currency));
  const free = CURRENCIES.filter((c) => !taken.has(c));
  const [currency, setCurrency] = useState<Currency | ''>('');
  const chosen: Currency | '' = currency && free.includes(currency) ? currency : (free[0] ?? '');

  const open = useMutation({
    mutationFn: (c: Currency) => api.openAccount(c),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: keys.accounts }),
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    if (chosen && !open.isPending) open.mutate(chosen);
  }

  if (free.length === 0) return <p className="hint">You have an account in every currency Tally offers.</p>;
  return (
    <form onSubmit={submit} className="inline-form" aria-label="Open an account">
      <div className="field">
        <label htmlFor="open-currency">Currency</label>
        <select id="open-currency" value={chosen} onChange={(e) => setCurrency(e.target.value as Currency)}>
          {free.map((c) => (
            <option key={c} value={c}>
              {c}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" disabled={open.isPending}>
        Open account
      </button>
      <ErrorAlert error={open.error} />
      {open.isSuccess && <Notice text={`Account #${open.data.id} in ${open.data.currency} is open.`} />}
    </form>
  );
}
