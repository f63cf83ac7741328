// A statement as CSV, for the period the page shows: one row per entry, newest first, amounts in
// the currency's major units with plain digits (no grouping), so a spreadsheet reads them.
import { minorToInput, type Currency } from './money';
import type { StatementLine } from './statement';

const HEADER = ['Date', 'Entry', 'Transfer', 'Counterparty account', 'Description', 'Reference', 'Amount', 'Currency', 'Balance after'];

/** A field quoted when it must be (a comma, a quote, a line break), its quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Free text someone typed: one a spreadsheet would run as a formula (=, +, -, @ first) is
 *  prefixed with a quote mark. Never applied to the numbers this file writes itself. */
export function csvText(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}

function amount(minor: number, currency: Currency): string {
  // minorToInput writes a minus sign (U+2212) for readers; a spreadsheet wants ASCII.
  return minorToInput(minor, currency).replace('\u2212', '-');
}

export function statementCsv(lines: StatementLine[], currency: Currency): string {
  const rows = lines.map((line) => [
    line.created_at,
    String(line.id),
    String(line.transfer_id),
    line.counterparty_account_id == null ? '' : String(line.counterparty_account_id),
    csvText(line.description ?? ''),
    csvText(line.reference ?? ''),
    amount(line.amount, currency),
    currency,
    line.balance === null ? '' : amount(line.balance, currency),
  ]);
  return [HEADER, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}
