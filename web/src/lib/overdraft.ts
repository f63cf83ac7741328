// An overdraft limit as a banker types it (docs/api.md, "Overdraft limits"): major units of the
// account's currency, 0 (no overdraft) to OVERDRAFT_MAX minor units.
import { parseAmount, type Currency, type ParseResult } from './money';

/** The most `PUT /accounts/{id}/limits` accepts, in minor units (10^12). */
export const OVERDRAFT_MAX = 1_000_000_000_000;

/** "50.00" → 5000 (USD); "0" → 0; refuses what `parseAmount` refuses, and more than the maximum. */
export function parseOverdraft(input: string, currency: Currency): ParseResult {
  // Zero is a limit (none) though never an amount to move.
  if (/^\s*0*(\.0*)?\s*$/.test(input) && /\d/.test(input)) return { ok: true, minor: 0 };
  const parsed = parseAmount(input, currency);
  if (parsed.ok && parsed.minor > OVERDRAFT_MAX) return { ok: false, error: 'That limit is above the most the bank allows.' };
  return parsed;
}
