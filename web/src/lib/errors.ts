// The API's errors are {"error": {"code", "message"}} (docs/api.md, "Errors"). ApiError carries the
// code for the program and `userMessage`, the words shown to a person.
import type { ErrorCode } from './types';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  /** The server's own sentence, kept for codes whose detail matters (validation). */
  readonly serverMessage: string;
  readonly userMessage: string;
  readonly retryAfterSeconds?: number;

  constructor(status: number, code: string, serverMessage: string, retryAfterSeconds?: number) {
    const words = userWords(status, code, serverMessage);
    super(words);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.serverMessage = serverMessage;
    this.userMessage = words;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get isUnauthenticated(): boolean {
    return this.status === 401 && this.code !== 'invalid_credentials';
  }
}

/** Words for every code the document lists: a code the server adds is a type error until it has its words. */
const WORDS: Record<ErrorCode, string> = {
  invalid_credentials: 'Wrong username or password.',
  unauthenticated: 'Your session has ended. Please log in again.',
  token_expired: 'Your session has ended. Please log in again.',
  forbidden: 'You are not allowed to do that.',
  not_found: 'No such account or transfer, or it is not yours to see.',
  same_account: 'The money has to go to a different account.',
  conflict: 'That already exists.',
  idempotency_key_reused: 'This request was already sent with different details. Please check and send again.',
  transfer_not_pending: 'That hold is no longer pending: it was already confirmed, released or has expired.',
  account_frozen: 'That account is frozen: it can receive money but not pay. Contact the bank.',
  account_closed: 'That account is closed.',
  account_not_empty: 'Only an empty account can be closed: move or withdraw its money first.',
  too_many_holds: 'That account has too many open holds. Confirm, release or wait for some, then try again.',
  duplicate_reference: 'That account already sent a transfer with this reference.',
  transfer_not_posted: 'Only a completed transfer can be refunded.',
  reversal_exceeds_original: 'That transfer has already been refunded in full.',
  request_timeout: 'The request took too long to arrive. Please try again.',
  payload_too_large: 'That request is too large.',
  insufficient_funds: 'Not enough money available in that account.',
  currency_mismatch: 'Both accounts must be in the currency of the amount.',
  balance_overflow: 'That amount is too large for the bank to hold.',
  rate_limited: 'Too many failed log-ins. Wait a few minutes, then try again.',
  unavailable: 'The bank is busy or briefly unreachable. Please try again in a moment.',
  invalid_json: 'The app sent a request the bank could not read. Please reload the page.',
  validation_failed: 'Please check the form.',
  internal: 'The bank could not answer just now. Please try again in a moment.',
};

function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(WORDS, code);
}

/** The words a person sees for an API error. */
export function userWords(status: number, code: string, serverMessage: string): string {
  if (code === 'validation_failed') {
    // The server's sentence names the field and the rule ("amount must be positive").
    return serverMessage ? `Please check the form: ${lowerFirst(serverMessage)}` : 'Please check the form.';
  }
  if (code === 'conflict' && serverMessage) return serverMessage;
  if (isErrorCode(code)) return WORDS[code];
  if (status >= 500) return WORDS.internal;
  return serverMessage || `The bank refused the request (${status}).`;
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

export const NETWORK_ERROR_WORDS = 'Cannot reach the bank. Check your connection and try again.';

/** Any thrown value as words for an alert. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.userMessage;
  if (error instanceof TypeError) return NETWORK_ERROR_WORDS;
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong. Please try again.';
}

/** Builds an ApiError from a non-2xx response, whatever its body. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page): the status decides.
  }
  return errorFromBody(response, body);
}

/** Builds an ApiError from a non-2xx response whose body was already read (`body`: its JSON, or its text). */
export function errorFromBody(response: Response, body: unknown): ApiError {
  let code = `http_${response.status}`;
  let message = '';
  const error = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  if (error && typeof error.code === 'string') code = error.code;
  if (error && typeof error.message === 'string') message = error.message;
  const retryAfter = Number(response.headers.get('Retry-After'));
  return new ApiError(response.status, code, message, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined);
}
