import { useState } from 'react';
import { formatDateTime } from '../../lib/dates';
import { isReserve, transferRefundLeft } from '../../lib/rules';
import type { Account, Transfer } from '../../lib/types';
import { Money } from '../Money';
import { RefundForm } from './RefundForm';

/** "#42", or "#1 (reserve)" for a currency's reserve, once the account is known. */
function party(id: number, account: Account | undefined): string {
  return account && isReserve(account) ? `#${id} (reserve)` : `#${id}`;
}

/** One transfer of the banker's list; `Refund` opens a refund of all or part of what is left. */
export function TransferRow({ transfer, payer, payee, onDone }: {
  transfer: Transfer;
  payer: Account | undefined;
  payee: Account | undefined;
  onDone: (message: string) => void;
}) {
  const [refunding, setRefunding] = useState(false);
  const left = transferRefundLeft(transfer, payer, payee);
  return (
    <>
      <tr data-transfer-id={transfer.id}>
        <td data-label="Date">{formatDateTime(transfer.created_at)}</td>
        <td data-label="Transfer">
          #{transfer.id}
          {transfer.reversal_of != null && <small className="hint"> refund of #{transfer.reversal_of}</small>}
          {transfer.description && <small className="hint"> {transfer.description}</small>}
        </td>
        <td data-label="From">{party(transfer.from_account_id, payer)}</td>
        <td data-label="To">{party(transfer.to_account_id, payee)}</td>
        <td data-label="Status">{transfer.status}</td>
        <td data-label="Amount" className="num"><Money minor={transfer.amount} currency={transfer.currency} /></td>
        <td data-label="Refunded" className="num">
          {transfer.reversed_amount > 0 ? <Money minor={transfer.reversed_amount} currency={transfer.currency} /> : '—'}
        </td>
        <td className="actions">
          {left > 0 && !refunding && (
            <button type="button" className="secondary" aria-label={`Refund transfer #${transfer.id}`}
              onClick={() => setRefunding(true)}>
              Refund
            </button>
          )}
        </td>
      </tr>
      {left > 0 && refunding && (
        <tr className="refund-row">
          <td colSpan={8}>
            <RefundForm transfer={transfer} left={left} onCancel={() => setRefunding(false)}
              onDone={(message) => { setRefunding(false); onDone(message); }} />
          </td>
        </tr>
      )}
    </>
  );
}
