// A statement's running balance. Entries come newest first; `balance_after` (docs/api.md, new) is
// the account's posted balance right after each. Where the server does not send it yet, it is
// derived from a known anchor — the account's balance when the newest entry is the latest one —
// by integer subtraction back through the entries, which must then be contiguous (no `until`).
import type { Entry } from './types';

export interface StatementLine extends Entry {
  /** The balance after this entry, from the server or derived; null when unknown. */
  balance: number | null;
  derived: boolean;
}

export function runningBalances(entries: Entry[], anchor: number | null): StatementLine[] {
  let next: number | null = anchor; // balance after the entry being looked at, if derivable
  return entries.map((entry) => {
    if (typeof entry.balance_after === 'number') {
      next = entry.balance_after - entry.amount;
      return { ...entry, balance: entry.balance_after, derived: false };
    }
    if (next === null) return { ...entry, balance: null, derived: false };
    const balance = next;
    next = balance - entry.amount;
    return { ...entry, balance, derived: true };
  });
}

export interface ChartPoint {
  time: number;
  balance: number;
}

/** The chart's points, oldest first; entries without a known balance are left out. */
export function chartPoints(lines: StatementLine[]): ChartPoint[] {
  return lines
    .filter((line): line is StatementLine & { balance: number } => line.balance !== null)
    .map((line) => ({ time: Date.parse(line.created_at), balance: line.balance }))
    .reverse();
}
