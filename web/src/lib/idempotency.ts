// One Idempotency-Key per submission (docs/api.md: 1–255 visible ASCII characters). A retry of the
// same submission, or a second click while it is in flight, reuses the key, so the bank acts once.

/** A random UUID v4; crypto.randomUUID where the page is a secure context, else the same from
 *  crypto.getRandomValues (which plain-http pages on a LAN address still have). */
export function newIdempotencyKey(): string {
  const c = globalThis.crypto;
  if (typeof c.randomUUID === 'function') return c.randomUUID();
  const bytes = c.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Holds the key of the submission being made: `forSubmission()` returns the same key until
 * `reset()` (after success, or when the form's values change), so re-sending what the bank may
 * already have done is a replay, never a second transfer.
 */
export class SubmissionKey {
  private key: string | null = null;

  forSubmission(): string {
    this.key ??= newIdempotencyKey();
    return this.key;
  }

  reset(): void {
    this.key = null;
  }
}
