import { createHash } from 'node:crypto';

/**
 * A key's public name, used as the JWT `kid`: the first 12 hex digits of SHA-256 over the key string exactly as
 * delivered (the base64 text, not the decoded bytes). Same algorithm as the operator's, so `kid`s in tokens match
 * the fingerprints the operator shows in status and Events.
 */
export function fingerprint(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 12);
}
