import { describe, expect, it } from 'vitest';
import { csvField, csvText, statementCsv } from './csv';
import type { StatementLine } from './statement';

const line = (over: Partial<StatementLine>): StatementLine => ({
  id: 7,
  account_id: 42,
  transfer_id: 3,
  amount: -1250,
  balance_after: 123750,
  created_at: '2026-03-01T10:00:00Z',
  balance: 123750,
  derived: false,
  ...over,
});

describe('statementCsv', () => {
  it('writes a header and one row per line with counterparty, description and reference', () => {
    const csv = statementCsv(
      [
        line({ counterparty_account_id: 57, description: 'Rent, March', reference: 'INV-1' }),
        line({ id: 9, transfer_id: 4, amount: 500, balance: null, description: 'He said "thanks"' }),
      ],
      'USD',
    );
    expect(csv.split('\r\n')).toEqual([
      'Date,Entry,Transfer,Counterparty account,Description,Reference,Amount,Currency,Balance after',
      '2026-03-01T10:00:00Z,7,3,57,"Rent, March",INV-1,-12.50,USD,1237.50',
      '2026-03-01T10:00:00Z,9,4,,"He said ""thanks""",,5.00,USD,',
      '',
    ]);
  });

  it('keeps a description from running as a spreadsheet formula', () => {
    expect(csvField(csvText('=HYPERLINK("x")'))).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvText('-5')).toBe("'-5");
    expect(csvText('plain')).toBe('plain');
    const csv = statementCsv([line({ description: '@SUM(A1)' })], 'USD');
    expect(csv).toContain(",'@SUM(A1),,-12.50,USD,");
  });

  it('writes amounts of zero-decimal currencies without a fraction', () => {
    const csv = statementCsv([line({ amount: 1250, balance: 1250 })], 'JPY');
    expect(csv).toContain(',1250,JPY,1250\r\n');
  });
});
