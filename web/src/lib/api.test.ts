import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiClient } from './api';
import { ApiError } from './errors';

const T0 = Date.parse('2026-11-29T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const user = { username: 'alice', full_name: 'Alice', email: 'a@example.com', role: 'depositor', password_changed_at: iso(T0), created_at: iso(T0) };

interface Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

/** A stand-in Tally: answers by "METHOD /path", records every call (header names in lower case). */
function fakeServer(routes: Record<string, (call: Call) => Response | Promise<Response>>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL) => {
    // openapi-fetch sends one Request.
    const request = input as Request;
    const url = new URL(request.url);
    const text = await request.text();
    const call: Call = {
      method: request.method,
      url: url.pathname + url.search,
      headers: Object.fromEntries(request.headers.entries()),
      body: text ? JSON.parse(text) : undefined,
    };
    calls.push(call);
    const path = url.pathname.replace(/^\/api(?=\/)/, '');
    const route = routes[`${call.method} ${path}`];
    if (!route) return json(404, { error: { code: 'not_found', message: `no route ${call.method} ${path}` } });
    return route(call);
  });
  return { fetch: fetch as unknown as typeof globalThis.fetch, calls };
}

function json(status: number, body: unknown) {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

function memoryStorage() {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => void map.set(k, v),
    removeItem: (k: string) => void map.delete(k),
  };
}

let issued = 0;
const loginAnswer = () =>
  json(200, {
    session_id: 's1',
    access_token: `access-${++issued}`,
    access_token_expires_at: iso(Date.now() + 15 * 60_000),
    refresh_token: 'refresh-1',
    refresh_token_expires_at: iso(Date.now() + 24 * 3_600_000),
    user,
  });
const renewAnswer = (call: Call) =>
  (call.body as { refresh_token: string }).refresh_token === 'refresh-1'
    ? json(200, { access_token: `access-${++issued}`, access_token_expires_at: iso(Date.now() + 15 * 60_000) })
    : json(401, { error: { code: 'unauthenticated', message: 'session ended' } });

beforeEach(() => {
  issued = 0;
  // The page the app runs in: '/api' is resolved against it.
  vi.stubGlobal('location', { href: 'http://tally.test/accounts' });
  vi.useFakeTimers();
  vi.setSystemTime(T0);
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('ApiClient', () => {
  it('logs in at /api, keeps the access token in memory and only the refresh token in storage', async () => {
    const storage = memoryStorage();
    const server = fakeServer({ 'POST /users/login': loginAnswer, 'GET /accounts': () => json(200, []) });
    const client = new ApiClient({ fetch: server.fetch, storage });
    await client.login('alice', 'pw');
    expect(server.calls[0].url).toBe('/api/users/login');
    expect(server.calls[0].headers.authorization).toBeUndefined();
    expect(client.getState().user?.username).toBe('alice');
    const saved = [...storage.map.values()].join();
    expect(saved).toContain('refresh-1');
    expect(saved).not.toContain('access-');

    await client.listAccounts();
    expect(server.calls[1].url).toBe('/api/accounts?page_id=1&page_size=100');
    expect(server.calls[1].headers.authorization).toBe('Bearer access-1');
  });

  it('renews the access token a minute before it expires, then uses the new one', async () => {
    const server = fakeServer({
      'POST /users/login': loginAnswer,
      'POST /tokens/renew_access': renewAnswer,
      'GET /users/me': () => json(200, user),
    });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    await client.login('alice', 'pw');
    await vi.advanceTimersByTimeAsync(13 * 60_000);
    expect(server.calls.filter((c) => c.url.endsWith('/tokens/renew_access'))).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(60_000 + 1);
    const renewals = server.calls.filter((c) => c.url.endsWith('/tokens/renew_access'));
    expect(renewals).toHaveLength(1);
    expect(renewals[0].body).toEqual({ refresh_token: 'refresh-1' });
    expect(client.accessExpiresAt).toBe(T0 + 14 * 60_000 + 15 * 60_000); // renewed at 14 min
    await client.me();
    expect(server.calls.at(-1)?.headers.authorization).toBe('Bearer access-2');
    // and again 14 minutes later: the timer is re-armed after each renewal
    await vi.advanceTimersByTimeAsync(14 * 60_000 + 1);
    expect(server.calls.filter((c) => c.url.endsWith('/tokens/renew_access'))).toHaveLength(2);
  });

  it('renews first when a request finds the token stale, once for concurrent requests', async () => {
    const server = fakeServer({
      'POST /users/login': loginAnswer,
      'POST /tokens/renew_access': renewAnswer,
      'GET /accounts': () => json(200, []),
    });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    await client.login('alice', 'pw');
    vi.setSystemTime(T0 + 15 * 60_000 - 1_000); // a sleeping laptop: the timer never ran
    await Promise.all([client.listAccounts(), client.listAccounts()]);
    expect(server.calls.filter((c) => c.url.endsWith('/tokens/renew_access'))).toHaveLength(1);
    expect(server.calls.filter((c) => c.url.startsWith('/api/accounts')).map((c) => c.headers.authorization)).toEqual([
      'Bearer access-2',
      'Bearer access-2',
    ]);
  });

  it('retries once after token_expired, with the same Idempotency-Key', async () => {
    let attempts = 0;
    const server = fakeServer({
      'POST /users/login': loginAnswer,
      'POST /tokens/renew_access': renewAnswer,
      'POST /transfers': () =>
        ++attempts === 1
          ? json(401, { error: { code: 'token_expired', message: 'expired' } })
          : json(201, { transfer: { id: 9 }, from_account: {} }),
    });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    await client.login('alice', 'pw');
    const result = await client.transfer({ from_account_id: 1, to_account_id: 2, amount: 1250, currency: 'USD' }, 'key-1');
    expect(result.transfer.id).toBe(9);
    const posts = server.calls.filter((c) => c.url === '/api/transfers');
    expect(posts.map((c) => c.headers['idempotency-key'])).toEqual(['key-1', 'key-1']);
    expect(posts.map((c) => c.headers.authorization)).toEqual(['Bearer access-1', 'Bearer access-2']);
    expect(posts[1].body).toEqual({ from_account_id: 1, to_account_id: 2, amount: 1250, currency: 'USD' });
  });

  it('a 401 the renewal cannot cure ends the session (the app shows the login screen)', async () => {
    const storage = memoryStorage();
    const server = fakeServer({
      'POST /users/login': loginAnswer,
      'GET /accounts': () => json(401, { error: { code: 'unauthenticated', message: 'session ended' } }),
    });
    const client = new ApiClient({ fetch: server.fetch, storage });
    const states: (string | null)[] = [];
    client.subscribe((s) => states.push(s.ended));
    await client.login('alice', 'pw');
    await expect(client.listAccounts()).rejects.toBeInstanceOf(ApiError);
    expect(client.getState()).toEqual({ user: null, ended: 'expired' });
    expect(states).toEqual([null, 'expired']);
    expect(storage.map.size).toBe(0);
  });

  it('ends the session when the scheduled renewal is refused', async () => {
    const server = fakeServer({
      'POST /users/login': loginAnswer,
      'POST /tokens/renew_access': () => json(401, { error: { code: 'unauthenticated', message: 'blocked' } }),
    });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    await client.login('alice', 'pw');
    await vi.advanceTimersByTimeAsync(14 * 60_000 + 1);
    expect(client.getState().ended).toBe('expired');
  });

  it('restores a session after a reload from the stored refresh token', async () => {
    const storage = memoryStorage();
    const routes = {
      'POST /users/login': loginAnswer,
      'POST /tokens/renew_access': renewAnswer,
      'GET /users/me': () => json(200, user),
    };
    await new ApiClient({ fetch: fakeServer(routes).fetch, storage }).login('alice', 'pw');
    const server = fakeServer(routes);
    const reloaded = new ApiClient({ fetch: server.fetch, storage });
    expect(await reloaded.restore()).toEqual(user);
    expect(server.calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/tokens/renew_access', 'GET /api/users/me']);
    expect(server.calls[1].headers.authorization).toBe('Bearer access-2');
  });

  it('logs out on the server and forgets the tokens even if the server is unreachable', async () => {
    const storage = memoryStorage();
    const server = fakeServer({
      'POST /users/login': loginAnswer,
      'POST /users/logout': () => {
        throw new TypeError('Failed to fetch');
      },
    });
    const client = new ApiClient({ fetch: server.fetch, storage });
    await client.login('alice', 'pw');
    await client.logout();
    expect(server.calls.at(-1)?.headers.authorization).toBe('Bearer access-1');
    expect(client.getState()).toEqual({ user: null, ended: 'logout' });
    expect(storage.map.size).toBe(0);
  });

  it('forgets the session before the server ends it, so nothing is sent with ended tokens', async () => {
    let stateAtLogout: unknown = 'not called';
    const client: ApiClient = new ApiClient({
      fetch: fakeServer({
        'POST /users/login': loginAnswer,
        'POST /users/logout': () => {
          stateAtLogout = client.getState();
          return new Response(null, { status: 204 });
        },
      }).fetch,
      storage: memoryStorage(),
    });
    await client.login('alice', 'pw');
    await client.logout();
    expect(stateAtLogout).toEqual({ user: null, ended: 'logout' });
    // A query still mounted meanwhile sends nothing, and the login screen still says why.
    await expect(client.me()).rejects.toMatchObject({ status: 401 });
    expect(client.getState()).toEqual({ user: null, ended: 'logout' });
  });

  it('maps error bodies into ApiError with words for a person', async () => {
    const server = fakeServer({
      'POST /users/login': () => json(401, { error: { code: 'invalid_credentials', message: 'invalid username or password' } }),
    });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    const error = await client.login('alice', 'nope').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).userMessage).toBe('Wrong username or password.');
    expect(client.getState().ended).toBeNull(); // a wrong password is not an ended session
  });

  it('confirms a hold with its amount and releases one with no body, each under its Idempotency-Key', async () => {
    const hold = { id: 5, from_account_id: 1, to_account_id: 2, amount: 900, currency: 'USD', status: 'posted', created_at: iso(T0) };
    const server = fakeServer({
      'POST /users/login': loginAnswer,
      'POST /transfers/5/post': () => json(200, { transfer: hold }),
      'POST /transfers/6/void': () => json(200, { transfer: { ...hold, id: 6, status: 'voided' } }),
    });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    await client.login('alice', 'pw');
    expect((await client.postTransfer(5, 900, 'key-post')).transfer.status).toBe('posted');
    expect((await client.voidTransfer(6, 'key-void')).transfer.status).toBe('voided');
    const [post, release] = server.calls.slice(1);
    expect([post.url, post.body, post.headers['idempotency-key']]).toEqual(['/api/transfers/5/post', { amount: 900 }, 'key-post']);
    expect([release.url, release.body, release.headers['idempotency-key']]).toEqual(['/api/transfers/6/void', undefined, 'key-void']);
    expect(release.headers['content-type']).toBeUndefined();
  });

  it('builds statement queries with the cursor and the date range', async () => {
    const server = fakeServer({ 'POST /users/login': loginAnswer, 'GET /accounts/7/entries': () => json(200, []) });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    await client.login('alice', 'pw');
    await client.entries(7, { limit: 20, beforeId: 99, since: '2026-11-01T00:00:00Z', until: '2026-11-02T00:00:00Z' });
    await client.entries(7, { limit: 20 });
    const urls = server.calls.slice(1).map((c) => c.url);
    expect(urls[0]).toBe('/api/accounts/7/entries?limit=20&before_id=99&since=2026-11-01T00%3A00%3A00Z&until=2026-11-02T00%3A00%3A00Z');
    expect(urls[1]).toBe('/api/accounts/7/entries?limit=20');
  });

  it("pages an account's transfers by next_before_id and refunds all or part under an Idempotency-Key", async () => {
    const refund = { id: 9, from_account_id: 2, to_account_id: 1, amount: 300, currency: 'USD', status: 'posted', created_at: iso(T0), reversal_of: 5, reversed_amount: 0 };
    const server = fakeServer({
      'POST /users/login': loginAnswer,
      'GET /transfers': () => json(200, { transfers: [], next_before_id: null }),
      'POST /transfers/5/reverse': () => json(201, { transfer: refund }),
    });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    await client.login('banker', 'pw');
    await client.transfersOf(7, { limit: 20 });
    await client.transfersOf(7, { limit: 20, beforeId: 41 });
    expect((await client.reverseTransfer(5, 'key-part', 300)).transfer.reversal_of).toBe(5);
    await client.reverseTransfer(5, 'key-rest');
    const [first, next, part, rest] = server.calls.slice(1);
    expect(first.url).toBe('/api/transfers?account_id=7&limit=20');
    expect(next.url).toBe('/api/transfers?account_id=7&before_id=41&limit=20');
    expect([part.url, part.body, part.headers['idempotency-key']]).toEqual(['/api/transfers/5/reverse', { amount: 300 }, 'key-part']);
    expect([rest.body, rest.headers['idempotency-key']]).toEqual([{}, 'key-rest']);
  });

  it('sets an overdraft with PUT, its amount in minor units, under an Idempotency-Key', async () => {
    const limited = { id: 7, owner: 'bob', balance: -2_000, held: 0, available: 3_000, overdraft: 5_000, currency: 'USD', created_at: iso(T0), status: 'active' };
    const server = fakeServer({ 'POST /users/login': loginAnswer, 'PUT /accounts/7/limits': () => json(200, limited) });
    const client = new ApiClient({ fetch: server.fetch, storage: null });
    await client.login('banker', 'pw');
    expect((await client.setOverdraft(7, 5_000, 'key-limit')).available).toBe(3_000);
    const put = server.calls[1];
    expect([put.method, put.url, put.body, put.headers['idempotency-key']]).toEqual(['PUT', '/api/accounts/7/limits', { overdraft: 5_000 }, 'key-limit']);
  });
});
