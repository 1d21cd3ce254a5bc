/**
 * Probe tokens for relying parties (spec.issuer.relyingParties): a JWT signed with one of the
 * Secret's private keys, exactly as the consumer contract says consumers sign (kid = the key's RFC
 * 7638 thumbprint, alg = spec.algorithm), short-lived, with a subject of its own. A relying party
 * that accepts it holds a key set with that key. Built with jose; the token and the key never reach
 * a log or an error message.
 */
import { randomUUID } from 'node:crypto';
import { importPKCS8, SignJWT } from 'jose';
import { publicJwk, type KeyScheme } from './keys.ts';

/** How long a probe token is valid: long enough for a slow relying party, short enough to be useless after. */
export const PROBE_TOKEN_TTL_SECONDS = 120;
/** Registered claims the operator sets itself; spec.issuer.relyingParties[].claims cannot change them. */
const REGISTERED = new Set(['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti']);

export async function signProbeToken(
  privatePem: string,
  scheme: KeyScheme,
  claims: { issuer: string; subject: string; audience: string; extra: Readonly<Record<string, string>> },
  now: number = Date.now(),
): Promise<string> {
  const algorithm = scheme.algorithm;
  let key: Awaited<ReturnType<typeof importPKCS8>>;
  let kid: string;
  try {
    kid = publicJwk(privatePem, algorithm).kid;
    key = await importPKCS8(privatePem.trim(), algorithm);
  } catch {
    throw new Error(`the key to sign the probe token with is not a ${algorithm} private key`);
  }
  const extra = Object.fromEntries(Object.entries(claims.extra).filter(([name]) => !REGISTERED.has(name)));
  const seconds = Math.floor(now / 1000);
  return (
    new SignJWT(extra)
      .setProtectedHeader({ alg: algorithm, kid, typ: 'JWT' })
      .setIssuer(claims.issuer)
      .setSubject(claims.subject)
      .setAudience(claims.audience)
      .setIssuedAt(seconds)
      // Verifiers' clocks may run a little behind the operator's.
      .setNotBefore(seconds - 30)
      .setExpirationTime(seconds + PROBE_TOKEN_TTL_SECONDS)
      .setJti(randomUUID())
      .sign(key)
  );
}
