import { useState } from 'react';
import { useInfiniteQuery, useQueries } from '@tanstack/react-query';
import { api } from '../../lib/api';
import { keys } from '../../lib/queries';
import type { Account, Transfer } from '../../lib/types';
import { ErrorAlert, Notice } from '../ErrorAlert';
import { TransferRow } from './TransferRow';

/** Transfers per page (GET /transfers allows 1–100). */
const PAGE = 20;

/**
 * The other accounts of the transfers shown, read once each (a banker reads any account): whether
 * each is a reserve and may pay or be paid decides where a refund is offered.
 */
function useParties(account: Account, transfers: Transfer[]): Map<number, Account> {
  const others = [...new Set(transfers.flatMap((t) => [t.from_account_id, t.to_account_id]))].filter((id) => id !== account.id);
  const answers = useQueries({
    queries: others.map((id) => ({ queryKey: keys.account(id), queryFn: () => api.getAccount(id), staleTime: 10_000 })),
  });
  const parties = new Map<number, Account>([[account.id, account]]);
  for (const answer of answers) if (answer.data) parties.set(answer.data.id, answer.data);
  return parties;
}

/** A banker's view of an account's transfers, newest first, a page at a time, with refunds. */
export function AccountTransfers({ account }: { account: Account }) {
  const [done, setDone] = useState<string | null>(null);
  const pages = useInfiniteQuery({
    queryKey: keys.transfersOf(account.id),
    initialPageParam: undefined as number | undefined,
    queryFn: ({ pageParam }) => api.transfersOf(account.id, { limit: PAGE, beforeId: pageParam }),
    getNextPageParam: (last) => last.next_before_id ?? undefined,
  });
  const transfers = pages.data?.pages.flatMap((page) => page.transfers) ?? [];
  const parties = useParties(account, transfers);

  return (
    <section className="stack" aria-labelledby={`transfers-${account.id}`}>
      <h3 id={`transfers-${account.id}`}>Transfers</h3>
      {pages.isPending && <p role="status">Loading transfers…</p>}
      <ErrorAlert error={pages.error} />
      <Notice text={done} />
      {pages.data && transfers.length === 0 && <p className="empty">No transfers yet.</p>}
      {transfers.length > 0 && (
        <table className="entries transfers">
          <caption className="visually-hidden">Transfers of account #{account.id}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Date</th>
              <th scope="col">Transfer</th>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">Amount</th>
              <th scope="col" className="num">Refunded</th>
              <th scope="col"><span className="visually-hidden">Actions</span></th>
            </tr>
          </thead>
          <tbody>
            {transfers.map((transfer) => (
              <TransferRow key={transfer.id} transfer={transfer} payer={parties.get(transfer.from_account_id)}
                payee={parties.get(transfer.to_account_id)} onDone={setDone} />
            ))}
          </tbody>
        </table>
      )}
      {pages.hasNextPage && (
        <div className="buttons">
          <button type="button" className="secondary" onClick={() => pages.fetchNextPage()} disabled={pages.isFetchingNextPage}>
            Load more transfers
          </button>
        </div>
      )}
    </section>
  );
}
