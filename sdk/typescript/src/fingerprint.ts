import { createHash } from 'node:crypto';

/**
 * A key's public name, used as the JWT `kid`: the first 12 hex digits of SHA-256 over the key string exactly as
 * delivered (the base64 text, not the decoded bytes). Same algorithm as the operator's, so `kid`s in tokens match
 * the fingerprints the operator shows in status and Events.
 */
export function fingerprint(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 12);
}

/** RFC 7638 members per key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  RSA: ['e', 'kty', 'n'],
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
};

/** The RFC 7638 SHA-256 thumbprint of a public JWK: the `kid` the operator's JWKS gives the key. */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  const kty = typeof jwk.kty === 'string' ? jwk.kty : '';
  const members = THUMBPRINT_MEMBERS[kty];
  if (members === undefined) throw new Error(`no thumbprint for key type ${kty || 'none'}`);
  const canonical = `{${members.map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}
