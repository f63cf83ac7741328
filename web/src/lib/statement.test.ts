import { describe, expect, it } from 'vitest';
import { chartPoints, runningBalances } from './statement';
import { endOfDayUtc, startOfDayUtc } from './dates';
import { SubmissionKey, newIdempotencyKey } from './idempotency';

const entry = (id: number, amount: number, balance_after?: number) => ({
  id,
  account_id: 1,
  transfer_id: id,
  amount,
  created_at: new Date(Date.UTC(2026, 10, 1) + id * 60_000).toISOString(),
  ...(balance_after === undefined ? {} : { balance_after }),
});

describe('running balance', () => {
  it("uses the server's balance_after", () => {
    const lines = runningBalances([entry(3, -500, 1500), entry(2, 1000, 2000), entry(1, 1000, 1000)], null);
    expect(lines.map((l) => l.balance)).toEqual([1500, 2000, 1000]);
    expect(lines.every((l) => !l.derived)).toBe(true);
  });

  it('derives it from the current balance when the server has none', () => {
    const lines = runningBalances([entry(3, -500), entry(2, 1000), entry(1, 1000)], 1500);
    expect(lines.map((l) => l.balance)).toEqual([1500, 2000, 1000]);
    expect(lines.every((l) => l.derived)).toBe(true);
  });

  it('shows none without an anchor', () => {
    expect(runningBalances([entry(2, 5), entry(1, 5)], null).map((l) => l.balance)).toEqual([null, null]);
  });

  it('charts oldest first', () => {
    const points = chartPoints(runningBalances([entry(2, -500, 500), entry(1, 1000, 1000)], null));
    expect(points.map((p) => p.balance)).toEqual([1000, 500]);
    expect(points[0].time).toBeLessThan(points[1].time);
  });
});

describe('date range', () => {
  it('is whole UTC days, the end exclusive', () => {
    expect(startOfDayUtc('2026-11-29')).toBe('2026-11-29T00:00:00Z');
    expect(endOfDayUtc('2026-11-29')).toBe('2026-11-30T00:00:00Z');
    expect(endOfDayUtc('2026-12-31')).toBe('2027-01-01T00:00:00Z');
    expect(startOfDayUtc('')).toBeUndefined();
  });
});

describe('Idempotency-Key', () => {
  it('is one key per submission', () => {
    const key = new SubmissionKey();
    const first = key.forSubmission();
    expect(first).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(key.forSubmission()).toBe(first); // a retry or double click reuses it
    key.reset();
    expect(key.forSubmission()).not.toBe(first);
    expect(newIdempotencyKey()).not.toBe(newIdempotencyKey());
  });
});
