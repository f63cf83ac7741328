import { describe, expect, it } from 'vitest';
import { OVERDRAFT_MAX, parseOverdraft } from './overdraft';

describe('an overdraft limit typed by a banker', () => {
  it("is integer minor units in the currency's exponent", () => {
    expect(parseOverdraft('50.00', 'USD')).toEqual({ ok: true, minor: 5_000 });
    expect(parseOverdraft('1,234.5', 'EUR')).toEqual({ ok: true, minor: 123_450 });
    expect(parseOverdraft('5000', 'JPY')).toEqual({ ok: true, minor: 5_000 });
  });

  it('may be zero: no overdraft', () => {
    for (const zero of ['0', '0.00', ' 0 ', '00']) expect(parseOverdraft(zero, 'USD')).toEqual({ ok: true, minor: 0 });
  });

  it('refuses what cannot be a limit', () => {
    for (const [text, currency] of [['', 'USD'], ['.', 'USD'], ['-5', 'USD'], ['1.005', 'USD'], ['1.5', 'JPY'], ['abc', 'USD']] as const) {
      expect(parseOverdraft(text, currency).ok).toBe(false);
    }
    expect(parseOverdraft(String(OVERDRAFT_MAX), 'JPY')).toEqual({ ok: true, minor: OVERDRAFT_MAX });
    expect(parseOverdraft(String(OVERDRAFT_MAX + 1), 'JPY').ok).toBe(false);
  });
});
