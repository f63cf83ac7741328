import type { StatementLine } from '../lib/statement';
import type { Currency } from '../lib/money';
import { formatDateTime } from '../lib/dates';
import { Money } from './Money';

export function EntriesTable({ lines, currency }: { lines: StatementLine[]; currency: Currency }) {
  if (lines.length === 0) return <p className="empty">No entries in this period.</p>;
  const anyDerived = lines.some((l) => l.derived);
  return (
    <>
      <table className="entries">
        <caption className="visually-hidden">Entries, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Date</th>
            <th scope="col">Transfer</th>
            <th scope="col" className="num">Amount</th>
            <th scope="col" className="num">Balance after</th>
          </tr>
        </thead>
        <tbody>
          {lines.map((line) => (
            <tr key={line.id} data-entry-id={line.id}>
              <td data-label="Date">{formatDateTime(line.created_at)}</td>
              <td data-label="Transfer">#{line.transfer_id}</td>
              <td data-label="Amount" className="num"><Money minor={line.amount} currency={currency} signed /></td>
              <td data-label="Balance after" className="num">
                {line.balance === null ? '—' : <Money minor={line.balance} currency={currency} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {anyDerived && <p className="hint">Balances after each entry are worked out from the account's current balance.</p>}
    </>
  );
}
