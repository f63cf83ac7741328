import type { Account } from '../lib/types';
import { formatMinor } from '../lib/money';

/** A select of the caller's accounts, labelled by the caller (e.g. "From account"). */
export function AccountSelect({
  id,
  label,
  accounts,
  value,
  onChange,
}: {
  id: string;
  label: string;
  accounts: Account[];
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} required>
        {accounts.length === 0 && <option value="">No accounts yet</option>}
        {accounts.map((account) => (
          <option key={account.id} value={String(account.id)}>
            #{account.id} · {account.currency} · {formatMinor(account.available, account.currency)} available
          </option>
        ))}
      </select>
    </div>
  );
}
