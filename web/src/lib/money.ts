// Money is an integer number of minor units everywhere (docs/api.md): 1250 is 12.50 USD, 1250 is
// ¥1250. Parsing and formatting work on the decimal digits as text, never on floating point.

import type { Currency } from './types';

export type { Currency };

/**
 * Decimal places of each currency's minor unit (USD 100 cents per dollar: 2; JPY, KRW: 0). Keyed
 * by the generated currency enum: a currency the server adds is a type error here until it has
 * its exponent, and one it drops is an excess key.
 */
export const EXPONENT: Record<Currency, number> = {
  USD: 2,
  EUR: 2,
  CAD: 2,
  GBP: 2,
  JPY: 0,
  KRW: 0,
};

/** The currencies the server accepts, in the order the app offers them. */
export const CURRENCIES = Object.keys(EXPONENT) as readonly Currency[];

export function isCurrency(value: string): value is Currency {
  return (CURRENCIES as readonly string[]).includes(value);
}

/** The API's amounts are 64-bit; the browser holds them as numbers, exact up to 2^53 − 1. */
const MAX_MINOR = BigInt(Number.MAX_SAFE_INTEGER);

export type ParseResult = { ok: true; minor: number } | { ok: false; error: string };

/**
 * Parses an amount typed in major units ("12.50", "1,234.5", "1250") into minor units of
 * `currency`. Refuses anything that would need rounding ("12.345" USD, "12.5" JPY), signs,
 * exponents, zero, and amounts beyond what the browser can hold exactly.
 */
export function parseAmount(input: string, currency: Currency): ParseResult {
  const exponent = EXPONENT[currency];
  let text = input.trim().replace(/[\s_]/g, '');
  if (text === '') return { ok: false, error: 'Enter an amount.' };
  // Thousands separators are accepted only where they belong: 1,234,567.89
  if (text.includes(',')) {
    if (!/^\d{1,3}(,\d{3})+(\.\d*)?$/.test(text)) {
      return { ok: false, error: 'Enter the amount as digits, e.g. 1234.50.' };
    }
    text = text.replace(/,/g, '');
  }
  const match = /^(\d*)(?:\.(\d*))?$/.exec(text);
  if (!match || (match[1] === '' && (match[2] ?? '') === '')) {
    return { ok: false, error: 'Enter the amount as digits, e.g. 12.50.' };
  }
  const whole = match[1] === '' ? '0' : match[1];
  let fraction = match[2] ?? '';
  // Trailing zeros are not precision: "12.500" USD is 12.50.
  fraction = fraction.replace(/0+$/, '');
  if (fraction.length > exponent) {
    return {
      ok: false,
      error:
        exponent === 0
          ? `${currency} has no minor unit: enter a whole amount.`
          : `${currency} amounts have at most ${exponent} decimal places.`,
    };
  }
  const digits = (whole + fraction.padEnd(exponent, '0')).replace(/^0+(?=\d)/, '');
  const minor = BigInt(digits);
  if (minor === 0n) return { ok: false, error: 'The amount must be more than zero.' };
  if (minor > MAX_MINOR) return { ok: false, error: 'That amount is too large.' };
  return { ok: true, minor: Number(minor) };
}

function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Formats minor units in major units with the currency's own decimals: 1250 USD → "12.50". */
export function formatMinor(minor: number, currency: Currency): string {
  if (!Number.isSafeInteger(minor)) throw new RangeError(`not an exact integer amount: ${minor}`);
  const exponent = EXPONENT[currency];
  const negative = minor < 0;
  let digits = BigInt(minor < 0 ? -minor : minor).toString();
  let result: string;
  if (exponent === 0) {
    result = groupThousands(digits);
  } else {
    digits = digits.padStart(exponent + 1, '0');
    const whole = digits.slice(0, digits.length - exponent);
    const fraction = digits.slice(digits.length - exponent);
    result = `${groupThousands(whole)}.${fraction}`;
  }
  return negative ? `−${result}` : result;
}

/** "USD 12.50", "JPY 1,250", "USD −3.00". */
export function formatMoney(minor: number, currency: Currency): string {
  return `${currency} ${formatMinor(minor, currency)}`;
}

/** The same with an explicit sign for statement lines: "+12.50", "−3.00". */
export function formatSigned(minor: number, currency: Currency): string {
  return minor > 0 ? `+${formatMinor(minor, currency)}` : formatMinor(minor, currency);
}

/** Plain digits for an input field (no grouping): 1250 USD → "12.50". */
export function minorToInput(minor: number, currency: Currency): string {
  return formatMinor(minor, currency).replace(/,/g, '');
}
