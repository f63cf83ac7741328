import { describe, expect, it } from 'vitest';
import { ApiError, NETWORK_ERROR_WORDS, describeError, errorFromResponse } from './errors';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json', ...headers } });

describe('API error mapping', () => {
  it('reads {"error": {"code", "message"}} into a code and words for a person', async () => {
    const error = await errorFromResponse(
      json(422, { error: { code: 'insufficient_funds', message: 'account 7 has insufficient funds' } }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.code).toBe('insufficient_funds');
    expect(error.userMessage).toBe('Not enough money available in that account.');
    expect(error.serverMessage).toBe('account 7 has insufficient funds');
  });

  it.each([
    [401, 'invalid_credentials', 'Wrong username or password.'],
    [422, 'currency_mismatch', 'Both accounts must be in the currency of the amount.'],
    [400, 'same_account', 'The money has to go to a different account.'],
    [404, 'not_found', 'No such account or transfer, or it is not yours to see.'],
    [403, 'forbidden', 'You are not allowed to do that.'],
    [409, 'transfer_not_pending', 'That hold is no longer pending: it was already confirmed, released or has expired.'],
    [429, 'rate_limited', 'Too many failed log-ins. Wait a few minutes, then try again.'],
    [401, 'token_expired', 'Your session has ended. Please log in again.'],
  ])('%i %s', async (status, code, words) => {
    const error = await errorFromResponse(json(status, { error: { code, message: 'server words' } }));
    expect(error.userMessage).toBe(words);
  });

  it("keeps the server's sentence where it carries the detail", async () => {
    const invalid = await errorFromResponse(
      json(400, { error: { code: 'validation_failed', message: 'Amount must be greater than zero' } }),
    );
    expect(invalid.userMessage).toBe('Please check the form: amount must be greater than zero');
    const taken = await errorFromResponse(json(409, { error: { code: 'conflict', message: 'That username is taken.' } }));
    expect(taken.userMessage).toBe('That username is taken.');
  });

  it('503 carries Retry-After; unknown codes and non-JSON bodies still read well', async () => {
    const busy = await errorFromResponse(
      json(503, { error: { code: 'unavailable', message: 'x' } }, { 'Retry-After': '2' }),
    );
    expect(busy.retryAfterSeconds).toBe(2);
    expect(busy.userMessage).toMatch(/try again in a moment/);
    const gateway = await errorFromResponse(new Response('<html>Bad Gateway</html>', { status: 502 }));
    expect(gateway.code).toBe('http_502');
    expect(gateway.userMessage).toMatch(/could not answer/);
    const odd = await errorFromResponse(json(418, { error: { code: 'teapot', message: 'I am a teapot.' } }));
    expect(odd.userMessage).toBe('I am a teapot.');
  });

  it('tells a session that ended from a wrong password', () => {
    expect(new ApiError(401, 'unauthenticated', '').isUnauthenticated).toBe(true);
    expect(new ApiError(401, 'invalid_credentials', '').isUnauthenticated).toBe(false);
  });

  it('describes network failures and other throws', () => {
    expect(describeError(new TypeError('Failed to fetch'))).toBe(NETWORK_ERROR_WORDS);
    expect(describeError(new Error('Amount: enter an amount.'))).toBe('Amount: enter an amount.');
    expect(describeError('?')).toMatch(/Something went wrong/);
  });
});
