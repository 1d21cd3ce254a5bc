/**
 * The two documents of one issuer, made once per key-set version: bodies serialized and headers
 * built when the PublishedKeySet changes, so a request only picks a prepared answer and writes it.
 */
import { createHash } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import type { PublishedKeySetSpec } from '../api/published-key-set.ts';

/** A complete answer: status, headers (Content-Length included) and body. Never mutated once made. */
export interface Prepared {
  status: number;
  headers: Readonly<OutgoingHttpHeaders>;
  body: Buffer;
}

/** One document with its validator and both answers a GET can get. */
export interface PreparedDocument {
  /** The strong entity tag, quoted. */
  etag: string;
  ok: Prepared;
  notModified: Prepared;
}

export interface PreparedIssuer {
  issuer: string;
  /** The issuer URL's host (lower case, without :443) and path ('' for none, no trailing slash). */
  host: string;
  path: string;
  version: string;
  discovery: PreparedDocument;
  jwks: PreparedDocument;
}

export const JWKS_SUFFIX = '/.well-known/jwks.json';
export const DISCOVERY_SUFFIX = '/.well-known/openid-configuration';

/** Methods the documents answer; anything else gets 405 with this Allow. */
export const ALLOW = 'GET, HEAD, OPTIONS';

/**
 * On every answer of the issuer port. The documents are public and carry no credentials, so any
 * origin may read them (a browser-based verifier fetches the JWKS cross-origin); ETag is exposed so
 * such a client can revalidate.
 */
export const COMMON_HEADERS: Readonly<OutgoingHttpHeaders> = {
  'X-Content-Type-Options': 'nosniff',
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'ETag',
};

/** JWK members that hold private or symmetric key material (RFC 7518 section 6): never served. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A problem with a key set that keeps it from being served (a message for logs: no key material). */
export class KeySetProblem extends Error {}

/** `https://Host:443/a/b` → host `host`, path `/a/b`; throws KeySetProblem on what the CRD should have refused. */
export function issuerLocation(issuer: string): { host: string; path: string } {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new KeySetProblem('spec.issuer is not a URL');
  }
  if (url.protocol !== 'https:' || url.search !== '' || url.hash !== '' || url.username !== '') {
    throw new KeySetProblem('spec.issuer must be an https URL without query, fragment or user');
  }
  const path = url.pathname === '/' ? '' : url.pathname;
  if (path.endsWith('/')) throw new KeySetProblem('spec.issuer must not end with a slash');
  return { host: url.host.toLowerCase(), path };
}

/** The JWK Set text as the operator wrote it, checked to be a set of public keys only. */
export function checkJwks(text: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new KeySetProblem('spec.jwks is not JSON');
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray(keys)) {
    throw new KeySetProblem('spec.jwks is not a JWK Set (an object with a "keys" array)');
  }
  keys.forEach((key: unknown, i) => {
    if (typeof key !== 'object' || key === null || typeof (key as { kty?: unknown }).kty !== 'string') {
      throw new KeySetProblem(`spec.jwks keys[${i}] is not a JWK`);
    }
    const secret = PRIVATE_MEMBERS.filter((m) => m in key);
    if (secret.length > 0) {
      // The server holds no secret and publishes none, whatever the operator wrote.
      throw new KeySetProblem(`spec.jwks keys[${i}] has private members (${secret.join(', ')}): not served`);
    }
  });
}

function prepared(
  status: number,
  body: Buffer,
  headers: OutgoingHttpHeaders,
): { status: number; headers: OutgoingHttpHeaders; body: Buffer } {
  return { status, headers: { ...COMMON_HEADERS, ...headers, 'Content-Length': body.length }, body };
}

function document(body: Buffer, contentType: string, etag: string, maxAge: number): PreparedDocument {
  // A 304 carries the validators and caching headers the 200 would have (RFC 9110 section 15.4.5).
  const caching = { 'Cache-Control': `public, max-age=${maxAge}`, ETag: etag };
  return {
    etag,
    ok: prepared(200, body, { ...caching, 'Content-Type': contentType }),
    notModified: prepared(304, Buffer.alloc(0), caching),
  };
}

/**
 * The discovery document: what kube-apiserver's JWT authenticator, go-oidc (`NewProvider`: issuer,
 * which must equal the issuer asked for byte for byte, jwks_uri, id_token_signing_alg_values_supported)
 * and oauth2-proxy's extra JWT issuers read, plus the fields OpenID Connect Discovery 1.0 requires of a
 * provider that issues ID tokens. The same set the Kubernetes service-account issuer serves; no
 * authorization or token endpoint, since this issuer has neither.
 */
export function discoveryBody(issuer: string, algorithm: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      issuer,
      jwks_uri: `${issuer}${JWKS_SUFFIX}`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [algorithm],
    }),
  );
}

/** Both documents of one key set. Throws KeySetProblem when it cannot be served. */
export function prepareIssuer(spec: PublishedKeySetSpec): PreparedIssuer {
  const { host, path } = issuerLocation(spec.issuer);
  checkJwks(spec.jwks);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(spec.version)) {
    throw new KeySetProblem('spec.version is not a token the CRD allows');
  }
  const maxAge = Number.isInteger(spec.maxAgeSeconds) && spec.maxAgeSeconds >= 0 ? spec.maxAgeSeconds : 0;
  const discovery = discoveryBody(spec.issuer, spec.algorithm);
  // Discovery does not change with the keys: its tag comes from its own bytes, so a new key set does
  // not make caches fetch it again.
  const discoveryTag = `"oidc-${createHash('sha256').update(discovery).digest('hex').slice(0, 16)}"`;
  return {
    issuer: spec.issuer,
    host,
    path,
    version: spec.version,
    discovery: document(discovery, 'application/json', discoveryTag, maxAge),
    // Served as written: replicas serve the same bytes under the same tag.
    jwks: document(Buffer.from(spec.jwks), 'application/jwk-set+json', `"${spec.version}"`, maxAge),
  };
}
