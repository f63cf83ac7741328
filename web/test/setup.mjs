// Node 18 (Debian 12's) has Web Crypto only as node:crypto's webcrypto; browsers and Node 20+
// have it as globalThis.crypto, which the app uses for Idempotency-Keys.
import { webcrypto } from 'node:crypto';

if (!globalThis.crypto) {
  Object.defineProperty(globalThis, 'crypto', { value: webcrypto, configurable: true });
}
