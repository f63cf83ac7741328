import { useRef, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api } from '../lib/api';
import { keys } from '../lib/queries';
import { endOfDayUtc, startOfDayUtc } from '../lib/dates';
import { chartPoints, runningBalances, type StatementLine } from '../lib/statement';
import { statementCsv } from '../lib/csv';
import { SubmissionKey } from '../lib/idempotency';
import { formatMoney } from '../lib/money';
import type { Entry } from '../lib/types';
import { BalanceChart } from '../components/BalanceChart';
import { DateRangeForm, type DateRange } from '../components/DateRangeForm';
import { EntriesTable } from '../components/EntriesTable';
import { ErrorAlert, Notice } from '../components/ErrorAlert';
import { Money } from '../components/Money';

const PAGE = 20;

interface Page {
  entries: Entry[];
  /** The balance after the newest entry, when the server sends no balance_after (see statement.ts). */
  anchor: number | null;
}

async function firstPage(id: number, since?: string, until?: string): Promise<Page> {
  const entries = await api.entries(id, { limit: PAGE, since, until });
  if (until || entries.every((e) => typeof e.balance_after === 'number')) return { entries, anchor: null };
  // The account's balance is the balance after its newest entry, if none came in between.
  const account = await api.getAccount(id);
  const again = await api.entries(id, { limit: 1, since });
  const unchanged = (again[0]?.id ?? null) === (entries[0]?.id ?? null);
  return { entries, anchor: unchanged ? account.balance : null };
}

export function StatementPage() {
  const id = Number(useParams().accountId);
  const [range, setRange] = useState<DateRange>({ start: '', end: '' });
  const since = startOfDayUtc(range.start);
  const until = endOfDayUtc(range.end);

  const account = useQuery({ queryKey: keys.account(id), queryFn: () => api.getAccount(id), enabled: id > 0 });
  const statement = useInfiniteQuery({
    queryKey: keys.statement(id, since, until),
    enabled: id > 0,
    initialPageParam: undefined as number | undefined,
    queryFn: async ({ pageParam }): Promise<Page> =>
      pageParam === undefined
        ? firstPage(id, since, until)
        : { entries: await api.entries(id, { limit: PAGE, beforeId: pageParam, since, until }), anchor: null },
    getNextPageParam: (last) => (last.entries.length === PAGE ? last.entries[last.entries.length - 1].id : undefined),
  });

  const queryClient = useQueryClient();
  // One key per refund asked: a retry of the same one replays it, never refunds twice.
  const refundKey = useRef<{ transfer: number; key: SubmissionKey } | null>(null);
  const [refunded, setRefunded] = useState<string | null>(null);
  const refund = useMutation({
    mutationFn: (line: StatementLine) => {
      if (refundKey.current?.transfer !== line.transfer_id) {
        refundKey.current = { transfer: line.transfer_id, key: new SubmissionKey() };
      }
      return api.reverseTransfer(line.transfer_id, refundKey.current.key.forSubmission());
    },
    onSuccess: (result) => {
      refundKey.current = null;
      const t = result.transfer;
      setRefunded(`Refunded ${formatMoney(t.amount, t.currency)} of transfer #${t.reversal_of} to account #${t.to_account_id}.`);
      void queryClient.invalidateQueries({ queryKey: ['statement'] });
      void queryClient.invalidateQueries({ queryKey: keys.account(id) });
    },
  });

  const currency = account.data?.currency;
  const entries = statement.data?.pages.flatMap((p) => p.entries) ?? [];
  const lines = runningBalances(entries, statement.data?.pages[0]?.anchor ?? null);

  return (
    <>
      <p className="crumbs">
        <Link to="/">Accounts</Link> › Statement
      </p>
      <h1>Statement of account #{id}</h1>
      <ErrorAlert error={account.error} />
      {account.data && (
        <dl className="summary card">
          <div><dt>Currency</dt><dd>{account.data.currency}</dd></div>
          <div><dt>Balance</dt><dd><Money minor={account.data.balance} currency={account.data.currency} /></dd></div>
          <div><dt>Held</dt><dd><Money minor={account.data.held} currency={account.data.currency} /></dd></div>
          <div><dt>Available</dt><dd><Money minor={account.data.available} currency={account.data.currency} /></dd></div>
        </dl>
      )}
      <section className="card" aria-labelledby="chart-heading">
        <h2 id="chart-heading">Balance over time</h2>
        {currency && statement.data && <BalanceChart points={chartPoints(lines)} currency={currency} />}
      </section>
      <section className="card" aria-labelledby="entries-heading">
        <h2 id="entries-heading">Entries</h2>
        <DateRangeForm value={range} onApply={setRange} />
        {statement.isPending && <p role="status">Loading entries…</p>}
        <ErrorAlert error={statement.error} />
        <ErrorAlert error={refund.error} />
        <Notice text={refunded} />
        {currency && statement.data && (
          <EntriesTable lines={lines} currency={currency} refunding={refund.isPending}
            onRefund={(line) => { setRefunded(null); refund.mutate(line); }} />
        )}
        {currency && statement.data && lines.length > 0 && (
          <button type="button" className="secondary" onClick={() => download(statementCsv(lines, currency), id, range)}>
            Download CSV
          </button>
        )}
        {statement.hasNextPage && (
          <button type="button" className="secondary" onClick={() => statement.fetchNextPage()} disabled={statement.isFetchingNextPage}>
            Load more
          </button>
        )}
      </section>
    </>
  );
}

/** Saves the lines shown (the period chosen, the pages loaded) as a CSV file. */
function download(csv: string, id: number, range: DateRange) {
  const period = [range.start, range.end].filter(Boolean).join('_to_') || 'all';
  const url = URL.createObjectURL(new Blob([csv], { type: 'text/csv;charset=utf-8' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = `statement-${id}-${period}.csv`;
  link.click();
  URL.revokeObjectURL(url);
}
