// The one client of Tally's HTTP API (docs/api.md), at /api behind the front door.
//
// Tokens: the access token lives in memory only; the refresh token is also kept in
// sessionStorage (this origin's, this tab's), so a reload stays logged in while no other site
// can read it. The access token is renewed through POST /tokens/renew_access a minute before it
// expires (and on demand when a request finds it stale); a 401 that renewal cannot cure ends the
// session, and the app returns to the login screen.
import createClient, { type Client } from 'openapi-fetch';
import type { paths } from '../api/schema';
import { ApiError, errorFromBody } from './errors';
import type {
  Account,
  Currency,
  Entry,
  EventsPage,
  MovementResult,
  NewTransfer,
  PendingResult,
  Transfer,
  TransferPage,
  TransferResult,
  TransferStatus,
  User,
} from './types';

export interface Tokens {
  accessToken: string;
  /** Epoch milliseconds. */
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
}

export type SessionEnd = 'logout' | 'expired';

export interface AuthState {
  user: User | null;
  /** Why the last session ended, for the login screen's notice. */
  ended: SessionEnd | null;
}

type KeyValueStore = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface ClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Where the refresh token survives a reload; null keeps it in memory only. */
  storage?: KeyValueStore | null;
  now?: () => number;
  /** Renew this long before the access token expires (at most half its lifetime). */
  renewMarginMs?: number;
}

export interface EntriesQuery {
  limit?: number;
  beforeId?: number;
  /** RFC 3339, inclusive. */
  since?: string;
  /** RFC 3339, exclusive. */
  until?: string;
}

/** What an openapi-fetch call answers: the parsed body of a 2xx (`data`) or of an error (`error`). */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** One call to the API; `headers` carries the current Authorization (fresh on a retry). */
type Send<T> = (headers: Record<string, string>) => Promise<Answer<T>>;

const STORAGE_KEY = 'tally.session';

function defaultStorage(): KeyValueStore | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage;
  } catch {
    return null; // storage disabled by the browser
  }
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  /** The generated client (src/api/schema.d.ts): paths, parameters and bodies are type-checked. */
  private readonly http: Client<paths>;
  private readonly storage: KeyValueStore | null;
  private readonly now: () => number;
  private readonly renewMarginMs: number;

  private tokens: Tokens | null = null;
  private state: AuthState = { user: null, ended: null };
  private readonly listeners = new Set<(state: AuthState) => void>();
  private renewing: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = absoluteBase(options.baseUrl ?? '/api');
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.http = createClient<paths>({
      baseUrl: this.baseUrl,
      fetch: (request) => this.fetchImpl(request),
      headers: { Accept: 'application/json' },
      credentials: 'omit',
      cache: 'no-store',
    });
    this.storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.now = options.now ?? Date.now;
    this.renewMarginMs = options.renewMarginMs ?? 60_000;
  }

  // --- session -------------------------------------------------------------------------------

  getState(): AuthState {
    return this.state;
  }

  subscribe(listener: (state: AuthState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The access token's expiry (epoch ms), for tests and the UI. */
  get accessExpiresAt(): number | null {
    return this.tokens?.accessExpiresAt ?? null;
  }

  private setState(state: AuthState): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }

  /** After a reload: a stored refresh token gets a new access token and the user, or nothing. */
  async restore(): Promise<User | null> {
    const saved = this.readStored();
    if (!saved) return null;
    this.tokens = { accessToken: '', accessExpiresAt: 0, ...saved };
    try {
      await this.renewAccess();
      const user = await this.me();
      this.setState({ user, ended: null });
      return user;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.endSession('expired');
        return null;
      }
      throw error;
    }
  }

  async login(username: string, password: string): Promise<User> {
    const answer = await this.call(
      (headers) => this.http.POST('/users/login', { headers, body: { username, password } }),
      false,
    );
    this.tokens = {
      accessToken: answer.access_token,
      accessExpiresAt: Date.parse(answer.access_token_expires_at),
      refreshToken: answer.refresh_token,
      refreshExpiresAt: Date.parse(answer.refresh_token_expires_at),
    };
    this.store();
    this.scheduleRenewal();
    this.setState({ user: answer.user, ended: null });
    return answer.user;
  }

  async signup(fields: { username: string; full_name: string; email: string; password: string }): Promise<User> {
    await this.call((headers) => this.http.POST('/users', { headers, body: fields }), false);
    return this.login(fields.username, fields.password);
  }

  /**
   * Ends the session here, then on the server (best effort). Here first: once the server has
   * ended it, anything still sent with its tokens (a refetch, the event stream reconnecting)
   * would be answered 401.
   */
  async logout(): Promise<void> {
    try {
      if (this.tokens) await this.freshAccess();
    } catch {
      // Could not renew: the logout below may be refused, and the tokens are forgotten anyway.
    }
    const tokens = this.tokens;
    this.endSession('logout');
    if (!tokens) return;
    try {
      await this.http.POST('/users/logout', { headers: bearer(tokens.accessToken) });
    } catch {
      // Unreachable: forgetting the tokens here is what matters.
    }
  }

  /** POST /tokens/renew_access, one at a time however many callers ask. */
  renewAccess(): Promise<void> {
    if (!this.renewing) {
      this.renewing = this.doRenew().finally(() => {
        this.renewing = null;
      });
    }
    return this.renewing;
  }

  private async doRenew(): Promise<void> {
    const tokens = this.tokens;
    if (!tokens) throw new ApiError(401, 'unauthenticated', 'not logged in');
    const answer = await this.call(
      (headers) => this.http.POST('/tokens/renew_access', { headers, body: { refresh_token: tokens.refreshToken } }),
      false,
    );
    if (this.tokens !== tokens) return; // logged out meanwhile
    this.tokens = {
      ...tokens,
      accessToken: answer.access_token,
      accessExpiresAt: Date.parse(answer.access_token_expires_at),
    };
    this.scheduleRenewal();
  }

  private scheduleRenewal(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.tokens) return;
    const lifetime = this.tokens.accessExpiresAt - this.now();
    const margin = Math.min(this.renewMarginMs, Math.max(lifetime / 2, 0));
    const delay = Math.max(lifetime - margin, 1_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.renewAccess().catch((error: unknown) => {
        if (error instanceof ApiError && error.status === 401) this.endSession('expired');
        // Otherwise (offline, 503) the next request tries again.
      });
    }, delay);
  }

  private endSession(reason: SessionEnd): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.tokens = null;
    try {
      this.storage?.removeItem(STORAGE_KEY);
    } catch {
      /* storage unavailable */
    }
    this.setState({ user: null, ended: reason });
  }

  private store(): void {
    if (!this.tokens) return;
    const { refreshToken, refreshExpiresAt } = this.tokens;
    try {
      this.storage?.setItem(STORAGE_KEY, JSON.stringify({ refreshToken, refreshExpiresAt }));
    } catch {
      /* storage full or disabled: the session lasts as long as the page */
    }
  }

  private readStored(): Pick<Tokens, 'refreshToken' | 'refreshExpiresAt'> | null {
    try {
      const raw = this.storage?.getItem(STORAGE_KEY);
      if (!raw) return null;
      const saved = JSON.parse(raw) as Partial<Tokens>;
      if (typeof saved.refreshToken !== 'string' || typeof saved.refreshExpiresAt !== 'number') return null;
      if (saved.refreshExpiresAt <= this.now()) return null;
      return { refreshToken: saved.refreshToken, refreshExpiresAt: saved.refreshExpiresAt };
    } catch {
      return null;
    }
  }

  // --- transport -----------------------------------------------------------------------------

  /**
   * Sends through the generated client: renews a stale access token first; after a 401
   * `token_expired` renews once and sends again (the same Idempotency-Key, so a retried POST
   * cannot act twice); any other 401 ends the session. A non-2xx answer throws an ApiError.
   */
  private async call<T>(send: Send<T>, auth = true): Promise<T> {
    if (auth) await this.freshAccess();
    let answer = await send(this.authHeaders(auth));
    if (auth && answer.response.status === 401 && this.tokens) {
      const error = errorFromBody(answer.response, answer.error);
      if (error.code !== 'token_expired') {
        this.endSession('expired');
        throw error;
      }
      try {
        await this.renewAccess();
      } catch (renewError) {
        if (renewError instanceof ApiError && renewError.status === 401) this.endSession('expired');
        throw renewError;
      }
      answer = await send(this.authHeaders(auth));
      if (answer.response.status === 401) {
        this.endSession('expired');
        throw errorFromBody(answer.response, answer.error);
      }
    }
    if (!answer.response.ok) throw errorFromBody(answer.response, answer.error);
    return answer.data as T;
  }

  private authHeaders(auth: boolean): Record<string, string> {
    return auth && this.tokens ? bearer(this.tokens.accessToken) : {};
  }

  /** The URL and headers of a streaming GET (the change stream), with a fresh access token. */
  async streamRequest(path: string): Promise<{ url: string; headers: Record<string, string> }> {
    await this.freshAccess();
    return { url: this.baseUrl + path, headers: bearer(this.tokens?.accessToken ?? '') };
  }

  /** Renews first when the access token is about to expire. */
  private async freshAccess(): Promise<void> {
    if (!this.tokens) {
      // A request after a logout keeps the reason the session ended for.
      if (this.getState().ended !== 'logout') this.endSession('expired');
      throw new ApiError(401, 'unauthenticated', 'not logged in');
    }
    if (this.tokens.accessExpiresAt - this.now() < 5_000) {
      try {
        await this.renewAccess();
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) this.endSession('expired');
        throw error;
      }
    }
  }

  // --- endpoints -----------------------------------------------------------------------------

  me(): Promise<User> {
    return this.call((headers) => this.http.GET('/users/me', { headers }));
  }

  listAccounts(): Promise<Account[]> {
    return this.call((headers) =>
      this.http.GET('/accounts', { headers, params: { query: { page_id: 1, page_size: 100 } } }),
    );
  }

  getAccount(id: number): Promise<Account> {
    return this.call((headers) => this.http.GET('/accounts/{id}', { headers, params: { path: { id } } }));
  }

  openAccount(currency: Currency): Promise<Account> {
    return this.call((headers) => this.http.POST('/accounts', { headers, body: { currency } }));
  }

  entries(id: number, query: EntriesQuery = {}): Promise<Entry[]> {
    const { limit, beforeId: before_id, since, until } = query;
    return this.call((headers) =>
      this.http.GET('/accounts/{id}/entries', {
        headers,
        params: { path: { id }, query: definedOnly({ limit, before_id, since, until }) },
      }),
    );
  }

  transfer(body: NewTransfer, idempotencyKey: string): Promise<TransferResult> {
    // No `dry_run` in the query, so never the 200 of a dry run: the answer is the 201's.
    return this.call((headers) =>
      this.http.POST('/transfers', { headers, body, params: { header: { 'Idempotency-Key': idempotencyKey } } }),
    ) as Promise<TransferResult>;
  }

  deposit(accountId: number, amount: number, idempotencyKey: string): Promise<MovementResult> {
    return this.call((headers) =>
      this.http.POST('/accounts/{id}/deposits', {
        headers,
        body: { amount },
        params: { path: { id: accountId }, header: { 'Idempotency-Key': idempotencyKey } },
      }),
    );
  }

  withdraw(accountId: number, amount: number, idempotencyKey: string): Promise<MovementResult> {
    return this.call((headers) =>
      this.http.POST('/accounts/{id}/withdrawals', {
        headers,
        body: { amount },
        params: { path: { id: accountId }, header: { 'Idempotency-Key': idempotencyKey } },
      }),
    );
  }

  // Account status (docs/api.md "Account status"): freeze and unfreeze by bankers, close by the
  // owner or a banker. Each answers the account as it stands after.

  freeze(id: number): Promise<Account> {
    return this.call((headers) => this.http.POST('/accounts/{id}/freeze', { headers, params: { path: { id } } }));
  }

  unfreeze(id: number): Promise<Account> {
    return this.call((headers) => this.http.POST('/accounts/{id}/unfreeze', { headers, params: { path: { id } } }));
  }

  closeAccount(id: number): Promise<Account> {
    return this.call((headers) => this.http.POST('/accounts/{id}/close', { headers, params: { path: { id } } }));
  }

  /** PUT /accounts/{id}/limits (bankers): the account's overdraft limit, in minor units. */
  setOverdraft(id: number, overdraft: number, idempotencyKey: string): Promise<Account> {
    return this.call((headers) =>
      this.http.PUT('/accounts/{id}/limits', {
        headers,
        body: { overdraft },
        params: { path: { id }, header: { 'Idempotency-Key': idempotencyKey } },
      }),
    );
  }

  // Holds (pending transfers, docs/api.md "Pending (two-phase) transfers").

  accountTransfers(id: number, status?: TransferStatus): Promise<Transfer[]> {
    return this.call((headers) =>
      this.http.GET('/accounts/{id}/transfers', {
        headers,
        params: { path: { id }, query: definedOnly({ status, limit: 100 }) },
      }),
    );
  }

  postTransfer(id: number, amount: number | undefined, idempotencyKey: string): Promise<PendingResult> {
    return this.call((headers) =>
      this.http.POST('/transfers/{id}/post', {
        headers,
        body: amount === undefined ? {} : { amount },
        params: { path: { id }, header: { 'Idempotency-Key': idempotencyKey } },
      }),
    );
  }

  /**
   * POST /transfers/{id}/reverse: the payee (or a banker) refunds `amount` minor units of a
   * transfer, or all that is left of it when `amount` is undefined.
   */
  reverseTransfer(id: number, idempotencyKey: string, amount?: number): Promise<TransferResult> {
    return this.call((headers) =>
      this.http.POST('/transfers/{id}/reverse', {
        headers,
        body: amount === undefined ? {} : { amount },
        params: { path: { id }, header: { 'Idempotency-Key': idempotencyKey } },
      }),
    );
  }

  /** GET /transfers?account_id=: one page of an account's transfers, newest first (a banker: any account). */
  transfersOf(accountId: number, query: { beforeId?: number; limit?: number } = {}): Promise<TransferPage> {
    const { beforeId: before_id, limit } = query;
    return this.call((headers) =>
      this.http.GET('/transfers', {
        headers,
        params: { query: definedOnly({ account_id: accountId, before_id, limit }) },
      }),
    );
  }

  voidTransfer(id: number, idempotencyKey: string): Promise<PendingResult> {
    return this.call((headers) =>
      this.http.POST('/transfers/{id}/void', {
        headers,
        params: { path: { id }, header: { 'Idempotency-Key': idempotencyKey } },
      }),
    );
  }

  /** GET /events: a page of the change stream after `after`. */
  events(after: number, limit: number): Promise<EventsPage> {
    return this.call((headers) => this.http.GET('/events', { headers, params: { query: { after, limit } } }));
  }
}

/** The query without its absent fields: they are left out of the URL, not sent empty. */
function definedOnly<T extends Record<string, unknown>>(query: T): T {
  return Object.fromEntries(Object.entries(query).filter(([, value]) => value !== undefined && value !== '')) as T;
}

/**
 * The base URL made absolute against the page (openapi-fetch builds a `Request`, which needs
 * one): '/api' is this origin's /api. Outside a page a relative base stays as it is.
 */
function absoluteBase(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  return page ? new URL(trimmed, page).href.replace(/\/+$/, '') : trimmed;
}

/** The app's client. */
export const api = new ApiClient();

/** The header that carries an access token. */
function bearer(accessToken: string): Record<string, string> {
  return { Authorization: `Bearer ${accessToken}` };
}
