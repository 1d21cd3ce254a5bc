import { createHash } from 'node:crypto';

/**
 * A key's public name: the first 12 hex digits of SHA-256 over the key as stored (its base64 text).
 * Shown in status, Events, logs and the JWT `kid` header instead of the key itself.
 */
export function fingerprint(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 12);
}
