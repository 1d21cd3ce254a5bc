/**
 * What the issuer port answers to one request, without I/O: the route, the prepared answer, and
 * whether the request is a fetch of the JWKS to record. Routing:
 *
 *   <issuer path>/.well-known/openid-configuration   the discovery document
 *   <issuer path>/.well-known/jwks.json              the JWK Set (the discovery's jwks_uri)
 *
 * The issuer is found by the Host header and the path before the suffix, else by that path alone
 * when exactly one issuer has it (IssuerIndex.find). The query string is ignored.
 */
import { ALLOW, COMMON_HEADERS, DISCOVERY_SUFFIX, JWKS_SUFFIX, type Prepared } from './documents.ts';
import { ifNoneMatchMatches } from './conditional.ts';
import { normalizeHost, type IssuerEntry, type IssuerIndex } from './issuer-index.ts';

export type Route = 'discovery' | 'jwks' | 'unknown';

export interface IssuerRequest {
  method: string | undefined;
  host: string | undefined;
  /** The request target as sent (path and query). */
  url: string | undefined;
  ifNoneMatch: string | string[] | undefined;
}

export interface Answer {
  route: Route;
  prepared: Prepared;
  /** Set for a JWKS answered 200 or 304: the key set and the version the client got. */
  fetch?: { entry: IssuerEntry; version: string };
}

function fixed(status: number, headers: Record<string, string>, body: string): Prepared {
  const bytes = Buffer.from(body);
  return {
    status,
    headers: {
      ...COMMON_HEADERS,
      'Cache-Control': 'no-store',
      ...headers,
      ...(body === '' ? {} : { 'Content-Type': 'application/json' }),
      'Content-Length': bytes.length,
    },
    body: bytes,
  };
}

const error = (status: number, message: string, headers: Record<string, string> = {}): Prepared =>
  fixed(status, headers, `${JSON.stringify({ error: message })}\n`);

export const NOT_FOUND = error(404, 'not_found');
export const METHOD_NOT_ALLOWED = error(405, 'method_not_allowed', { Allow: ALLOW });

/**
 * A CORS preflight: the documents are public, read with GET or HEAD, revalidated with If-None-Match;
 * a browser may cache this answer for a day.
 */
export const PREFLIGHT = fixed(
  204,
  {
    Allow: ALLOW,
    'Access-Control-Allow-Methods': ALLOW,
    'Access-Control-Allow-Headers': 'If-None-Match, If-Modified-Since, Cache-Control',
    'Access-Control-Max-Age': '86400',
  },
  '',
);

/** Splits a request target into the issuer path and the document asked for. */
export function parseTarget(url: string | undefined): { issuerPath: string; route: Route } {
  const target = url ?? '/';
  const end = target.indexOf('?');
  const path = end === -1 ? target : target.slice(0, end);
  if (path.endsWith(JWKS_SUFFIX)) return { issuerPath: path.slice(0, -JWKS_SUFFIX.length), route: 'jwks' };
  if (path.endsWith(DISCOVERY_SUFFIX)) {
    return { issuerPath: path.slice(0, -DISCOVERY_SUFFIX.length), route: 'discovery' };
  }
  return { issuerPath: path, route: 'unknown' };
}

export function answer(index: IssuerIndex, request: IssuerRequest): Answer {
  const { issuerPath, route } = parseTarget(request.url);
  if (route === 'unknown') return { route, prepared: NOT_FOUND };
  const entry = index.find(normalizeHost(request.host), issuerPath);
  if (entry === undefined) return { route: 'unknown', prepared: NOT_FOUND };
  const method = request.method ?? 'GET';
  if (method === 'OPTIONS') return { route, prepared: PREFLIGHT };
  if (method !== 'GET' && method !== 'HEAD') return { route, prepared: METHOD_NOT_ALLOWED };
  const document = route === 'jwks' ? entry.prepared.jwks : entry.prepared.discovery;
  const prepared = ifNoneMatchMatches(request.ifNoneMatch, document.etag)
    ? document.notModified
    : document.ok;
  if (route !== 'jwks') return { route, prepared };
  // A 304 counts as getting the version the client named, which is the one served.
  return { route, prepared, fetch: { entry, version: entry.prepared.version } };
}
