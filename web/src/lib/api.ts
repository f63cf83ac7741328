// The one client of Tally's HTTP API (docs/api.md), at /api behind the front door.
//
// Tokens: the access token lives in memory only; the refresh token is also kept in
// sessionStorage (this origin's, this tab's), so a reload stays logged in while no other site
// can read it. The access token is renewed through POST /tokens/renew_access a minute before it
// expires (and on demand when a request finds it stale); a 401 that renewal cannot cure ends the
// session, and the app returns to the login screen.
import { ApiError, errorFromResponse } from './errors';
import type { Currency } from './money';
import type {
  Account,
  Entry,
  LoginResponse,
  MovementResult,
  NewTransfer,
  RenewResponse,
  Transfer,
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

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  idempotencyKey?: string;
  auth?: boolean;
}

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
  private readonly storage: KeyValueStore | null;
  private readonly now: () => number;
  private readonly renewMarginMs: number;

  private tokens: Tokens | null = null;
  private state: AuthState = { user: null, ended: null };
  private readonly listeners = new Set<(state: AuthState) => void>();
  private renewing: Promise<void> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(options: ClientOptions = {}) {
    this.baseUrl = (options.baseUrl ?? '/api').replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
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
      const user = await this.request<User>('GET', '/users/me');
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
    const answer = await this.request<LoginResponse>('POST', '/users/login', {
      body: { username, password },
      auth: false,
    });
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
    await this.request<User>('POST', '/users', { body: fields, auth: false });
    return this.login(fields.username, fields.password);
  }

  /** Ends the session on the server (best effort) and here. */
  async logout(): Promise<void> {
    try {
      if (this.tokens) await this.request<void>('POST', '/users/logout');
    } catch {
      // Already ended or unreachable: forgetting the tokens here is what matters.
    } finally {
      this.endSession('logout');
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
    const answer = await this.request<RenewResponse>('POST', '/tokens/renew_access', {
      body: { refresh_token: tokens.refreshToken },
      auth: false,
    });
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

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true;
    if (auth) await this.freshAccess();
    let response = await this.send(method, path, options, auth);
    if (auth && response.status === 401 && this.tokens) {
      // An access token that expired in flight: renew once and retry (the same Idempotency-Key,
      // so a retried POST cannot act twice).
      const error = await errorFromResponse(response);
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
      response = await this.send(method, path, options, auth);
      if (response.status === 401) {
        this.endSession('expired');
        throw await errorFromResponse(response);
      }
    }
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** The URL and headers of a streaming GET (the change stream), with a fresh access token. */
  async streamRequest(path: string): Promise<{ url: string; headers: Record<string, string> }> {
    await this.freshAccess();
    return { url: this.baseUrl + path, headers: { Authorization: `Bearer ${this.tokens?.accessToken ?? ''}` } };
  }

  /** Renews first when the access token is about to expire. */
  private async freshAccess(): Promise<void> {
    if (!this.tokens) {
      this.endSession('expired');
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

  private send(method: string, path: string, options: RequestOptions, auth: boolean): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    if (auth && this.tokens) headers.Authorization = `Bearer ${this.tokens.accessToken}`;
    if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
    let url = this.baseUrl + path;
    const query = Object.entries(options.query ?? {}).filter(
      (pair): pair is [string, string | number] => pair[1] !== undefined && pair[1] !== '',
    );
    if (query.length) url += `?${new URLSearchParams(query.map(([k, v]) => [k, String(v)])).toString()}`;
    return this.fetchImpl(url, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: 'omit',
      cache: 'no-store',
    });
  }

  // --- endpoints -----------------------------------------------------------------------------

  me(): Promise<User> {
    return this.request('GET', '/users/me');
  }

  listAccounts(): Promise<Account[]> {
    return this.request('GET', '/accounts', { query: { page_id: 1, page_size: 100 } });
  }

  getAccount(id: number): Promise<Account> {
    return this.request('GET', `/accounts/${id}`);
  }

  openAccount(currency: Currency): Promise<Account> {
    return this.request('POST', '/accounts', { body: { currency } });
  }

  entries(id: number, query: EntriesQuery = {}): Promise<Entry[]> {
    return this.request('GET', `/accounts/${id}/entries`, {
      query: { limit: query.limit, before_id: query.beforeId, since: query.since, until: query.until },
    });
  }

  transfer(body: NewTransfer, idempotencyKey: string): Promise<TransferResult> {
    return this.request('POST', '/transfers', { body, idempotencyKey });
  }

  deposit(accountId: number, amount: number, idempotencyKey: string): Promise<MovementResult> {
    return this.request('POST', `/accounts/${accountId}/deposits`, { body: { amount }, idempotencyKey });
  }

  withdraw(accountId: number, amount: number, idempotencyKey: string): Promise<MovementResult> {
    return this.request('POST', `/accounts/${accountId}/withdrawals`, { body: { amount }, idempotencyKey });
  }

  // Holds (pending transfers, docs/api.md "Pending (two-phase) transfers").

  accountTransfers(id: number, status?: TransferStatus): Promise<Transfer[]> {
    return this.request('GET', `/accounts/${id}/transfers`, { query: { status, limit: 100 } });
  }

  postTransfer(id: number, amount: number | undefined, idempotencyKey: string): Promise<{ transfer: Transfer }> {
    return this.request('POST', `/transfers/${id}/post`, {
      body: amount === undefined ? {} : { amount },
      idempotencyKey,
    });
  }

  voidTransfer(id: number, idempotencyKey: string): Promise<{ transfer: Transfer }> {
    // An empty JSON object: accepted whether the server reads a body here or not.
    return this.request('POST', `/transfers/${id}/void`, { body: {}, idempotencyKey });
  }
}

/** The app's client. */
export const api = new ApiClient();
