import type { StatementLine } from '../lib/statement';
import type { Currency } from '../lib/money';
import { formatDateTime } from '../lib/dates';
import { Money } from './Money';

/** `onRefund`: offered on each received entry (a credit); the payee refunds what is left of it. */
export function EntriesTable({
  lines,
  currency,
  onRefund,
  refunding,
}: {
  lines: StatementLine[];
  currency: Currency;
  onRefund?: (line: StatementLine) => void;
  refunding?: boolean;
}) {
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
            <th scope="col">Counterparty</th>
            <th scope="col">Description</th>
            <th scope="col" className="num">Amount</th>
            <th scope="col" className="num">Balance after</th>
            {onRefund && <th scope="col"><span className="visually-hidden">Actions</span></th>}
          </tr>
        </thead>
        <tbody>
          {lines.map((line) => (
            <tr key={line.id} data-entry-id={line.id}>
              <td data-label="Date">{formatDateTime(line.created_at)}</td>
              <td data-label="Transfer">#{line.transfer_id}</td>
              <td data-label="Counterparty">
                {line.counterparty_account_id == null ? '—' : `#${line.counterparty_account_id}`}
              </td>
              <td data-label="Description">
                {line.description ?? ''}
                {line.reference && <small className="hint"> {line.reference}</small>}
              </td>
              <td data-label="Amount" className="num"><Money minor={line.amount} currency={currency} signed /></td>
              <td data-label="Balance after" className="num">
                {line.balance === null ? '—' : <Money minor={line.balance} currency={currency} />}
              </td>
              {onRefund && (
                <td data-label="">
                  {line.amount > 0 && (
                    <button type="button" className="secondary" disabled={refunding}
                      aria-label={`Refund transfer #${line.transfer_id}`} onClick={() => onRefund(line)}>
                      Refund
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {anyDerived && <p className="hint">Balances after each entry are worked out from the account's current balance.</p>}
    </>
  );
}
