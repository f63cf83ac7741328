import { describe, expect, it } from 'vitest';
import { formatMinor, formatMoney, formatSigned, minorToInput, parseAmount, type Currency } from './money';

const ok = (text: string, currency: Currency) => {
  const result = parseAmount(text, currency);
  if (!result.ok) throw new Error(`${text} ${currency}: ${result.error}`);
  return result.minor;
};
const refused = (text: string, currency: Currency) => {
  const result = parseAmount(text, currency);
  expect(result.ok, `${text} ${currency} should be refused`).toBe(false);
  return result.ok ? '' : result.error;
};

describe('parseAmount', () => {
  it('turns major units into minor units with string arithmetic, per currency', () => {
    expect(ok('12.50', 'USD')).toBe(1250);
    expect(ok('12.5', 'EUR')).toBe(1250);
    expect(ok('12', 'GBP')).toBe(1200);
    expect(ok('0.01', 'CAD')).toBe(1);
    expect(ok('.5', 'USD')).toBe(50);
    expect(ok('12.', 'USD')).toBe(1200);
    expect(ok('1250', 'JPY')).toBe(1250);
    expect(ok('1250', 'KRW')).toBe(1250);
    expect(ok(' 1,234,567.89 ', 'USD')).toBe(123456789);
    expect(ok('12.500', 'USD')).toBe(1250); // trailing zeros are not precision
    expect(ok('1250.0', 'JPY')).toBe(1250);
  });

  it('is exact where floating point is not', () => {
    expect(ok('0.29', 'USD')).toBe(29); // 0.29 * 100 = 28.999999999999996 in floating point
    expect(ok('1.15', 'USD')).toBe(115);
    expect(ok('4.35', 'EUR')).toBe(435);
    expect(ok('90071992547409.91', 'USD')).toBe(9007199254740991);
  });

  it('refuses what would need rounding', () => {
    expect(refused('12.345', 'USD')).toMatch(/at most 2 decimal places/);
    expect(refused('0.001', 'EUR')).toMatch(/at most 2/);
    expect(refused('12.5', 'JPY')).toMatch(/JPY has no minor unit/);
    expect(refused('1.01', 'KRW')).toMatch(/KRW has no minor unit/);
  });

  it('refuses zero, signs, exponents, words and misplaced separators', () => {
    for (const text of ['', '  ', '0', '0.00', '-5', '+5', '1e3', 'abc', '12,50', '1,2345', '1.2.3', '.', 'NaN', 'Infinity', '0x10']) {
      refused(text, 'USD');
    }
  });

  it('refuses amounts the browser cannot hold exactly', () => {
    expect(refused('90071992547409.92', 'USD')).toMatch(/too large/);
    expect(refused('9007199254740992', 'JPY')).toMatch(/too large/);
  });
});

describe('formatMinor', () => {
  it("uses the currency's decimals", () => {
    expect(formatMinor(1250, 'USD')).toBe('12.50');
    expect(formatMinor(5, 'EUR')).toBe('0.05');
    expect(formatMinor(0, 'GBP')).toBe('0.00');
    expect(formatMinor(1250, 'JPY')).toBe('1,250');
    expect(formatMinor(1250, 'KRW')).toBe('1,250');
    expect(formatMinor(123456789, 'CAD')).toBe('1,234,567.89');
    expect(formatMinor(9007199254740991, 'USD')).toBe('90,071,992,547,409.91');
  });

  it('signs debits and credits', () => {
    expect(formatMinor(-2550, 'USD')).toBe('−25.50');
    expect(formatSigned(-2550, 'USD')).toBe('−25.50');
    expect(formatSigned(2550, 'USD')).toBe('+25.50');
    expect(formatSigned(-7, 'JPY')).toBe('−7');
    expect(formatMoney(1250, 'USD')).toBe('USD 12.50');
  });

  it('refuses what is not an exact integer of minor units', () => {
    expect(() => formatMinor(12.5, 'USD')).toThrow(RangeError);
    expect(() => formatMinor(2 ** 60, 'USD')).toThrow(RangeError);
  });

  it('round-trips through an input field', () => {
    for (const [minor, currency] of [[1250, 'USD'], [1, 'EUR'], [123456789, 'GBP'], [1250000, 'JPY']] as const) {
      expect(ok(minorToInput(minor, currency), currency)).toBe(minor);
    }
  });
});
