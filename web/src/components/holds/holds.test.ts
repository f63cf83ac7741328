import { describe, expect, it } from 'vitest';
import { holdFields, NO_HOLD } from './HoldOption';

describe('send as a hold', () => {
  it('adds nothing to an ordinary transfer', () => {
    expect(holdFields(NO_HOLD)).toEqual({});
  });

  it('asks for a pending transfer with its timeout in seconds', () => {
    expect(holdFields({ pending: true, hours: '24' })).toEqual({ pending: true, timeout_seconds: 86_400 });
    expect(holdFields({ pending: true, hours: ' 1 ' })).toEqual({ pending: true, timeout_seconds: 3_600 });
    expect(holdFields({ pending: true, hours: '168' })).toEqual({ pending: true, timeout_seconds: 604_800 });
  });

  it("refuses what the API's timeout_seconds (1 s to 7 days) cannot take", () => {
    for (const hours of ['0', '169', '1.5', '', 'x']) {
      expect(typeof holdFields({ pending: true, hours })).toBe('string');
    }
  });
});
