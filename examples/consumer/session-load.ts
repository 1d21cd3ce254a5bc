/**
 * Session load: clients that log in, call the API and refresh their tokens, spread over several
 * replicas (or Services) of the reference consumer, counting every rejection of a token that was still
 * valid, i.e. every user a rotation would have logged out. Unlike loadgen.ts it holds no key: the
 * consumers sign every token, so it measures exactly what users see during a rollout.
 *
 *   npx tsx examples/consumer/session-load.ts --login http://10.96.0.10:8080,http://10.96.0.11:8080 \
 *     --verify http://10.96.0.10:8080,http://10.96.0.11:8080 --users 40 --rps 40 --duration 2m
 *
 * Each tick takes the next session (round robin): if its access token is near expiry it is refreshed at a
 * random --login URL, otherwise its access token is presented to GET /me at a random --verify URL. A
 * rejected refresh of an unexpired refresh token ends that session (counted) and the user logs in again.
 *
 * Bounded and local: URLs must be IP literals (no name is ever resolved), the run stops after --duration
 * or --max-requests (or on SIGTERM), and nothing is sent after that. Prints JSON lines: `progress` every --report-every,
 * then `summary`. It never prints a token.
 */
import { isIP } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { parseGoDuration } from '@jwt-rotation-operator/consumer-kit';

export interface SessionLoadOptions {
  /**
   * Base URLs. Each request picks one at random from the list as it is then, so a caller may change a
   * list while the load runs (the ready pods behind a rollout, say); it must never leave one empty.
   */
  login: string[];
  verify: string[];
  users: number;
  rps: number;
  durationMs: number;
  maxRequests: number;
  /** Refresh when less than this share of the access token's lifetime is left. */
  refreshAt: number;
  reportEveryMs: number;
  onProgress?: (summary: SessionLoadSummary) => void;
  /**
   * Every token the load receives (`issued`: each token of a pair from /login or /refresh) and every
   * token it presents (an access token to /me, a refresh token to /refresh) with what came of it,
   * counted by the same rules as the summary: e.g. to present it to another verifier as well, or to
   * count by the key that signed it. In-process only; the load never prints a token.
   */
  onToken?: (event: TokenEvent) => void;
  signal?: AbortSignal;
}

export interface TokenEvent {
  /** `rejected-valid` counts in rejectedValid (and, for a refresh token, in endedSessions). */
  what: 'issued' | 'verified' | 'rejected-valid' | 'rejected-expired';
  use: 'access' | 'refresh';
  token: string;
  /** The token's `exp`, epoch ms. */
  expiresAt: number;
}

export interface SessionLoadSummary {
  /** Logins and refreshes that returned a token pair. */
  issued: number;
  /** GET /me calls that verified. */
  verified: number;
  /** Tokens rejected while unexpired: must be zero across a rotation. */
  rejectedValid: number;
  /** Sessions ended by a rejected, unexpired refresh token (a forced re-login). */
  endedSessions: number;
  /** Tokens rejected after they expired (expected, not a fault). */
  rejectedExpired: number;
  /** 5xx answers. */
  errors: number;
  /** Requests that got no HTTP answer (a pod going away mid-request). */
  failed: number;
  /** Successful verifications by the key_version the consumer reported. */
  byKeyVersion: Record<string, number>;
  /** Token pairs issued, by key_version. */
  issuedByKeyVersion: Record<string, number>;
  /** Rejection reasons of unexpired tokens, for diagnosis. */
  rejectionReasons: Record<string, number>;
  requests: number;
  elapsedMs: number;
}

interface Session {
  sub: string;
  access?: { token: string; exp: number; ttl: number } | undefined;
  refresh?: { token: string; exp: number } | undefined;
}

/** Clock skew between the load generator and the replicas that we forgive when calling a token expired. */
export const SKEW_MS = 2000;

/** Whether a token refused at `now` still counts as valid (rejectedValid): SKEW_MS before its `exp`. */
export function stillValid(expiresAt: number, now: number): boolean {
  return now + SKEW_MS < expiresAt;
}
export const MAX_REQUESTS = 200_000;

export function checkTargets(urls: readonly string[]): void {
  for (const url of urls) {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) === 0) {
      throw new Error(
        `${url}: the host must be an IP literal (loopback, or a Service or pod IP on this machine)`,
      );
    }
  }
}

function exp(token: string): number {
  const payload = token.split('.')[1] ?? '';
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: number };
  return (claims.exp ?? 0) * 1000;
}

function pick<T>(items: readonly T[]): T {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('empty list');
  return item;
}

function keyVersion(body: Record<string, unknown>): string {
  return typeof body.key_version === 'string' ? body.key_version : 'unknown';
}

function bump(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

export async function runSessionLoad(options: SessionLoadOptions): Promise<SessionLoadSummary> {
  checkTargets([...options.login, ...options.verify]);
  const summary: SessionLoadSummary = {
    issued: 0,
    verified: 0,
    rejectedValid: 0,
    endedSessions: 0,
    rejectedExpired: 0,
    errors: 0,
    failed: 0,
    byKeyVersion: {},
    issuedByKeyVersion: {},
    rejectionReasons: {},
    requests: 0,
    elapsedMs: 0,
  };
  const started = Date.now();
  const sessions: Session[] = Array.from({ length: options.users }, (_, i) => ({ sub: `load-user-${i}` }));
  const maxRequests = Math.min(options.maxRequests, MAX_REQUESTS);

  const call = async (
    url: string,
    init: RequestInit,
  ): Promise<{ status: number; body: Record<string, unknown> } | undefined> => {
    summary.requests++;
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // not JSON: keep the status alone
      }
      if (res.status >= 500) summary.errors++;
      return { status: res.status, body };
    } catch {
      summary.failed++;
      return undefined;
    }
  };

  const takePair = (session: Session, body: Record<string, unknown>): void => {
    const access = typeof body.access_token === 'string' ? body.access_token : '';
    const refresh = typeof body.refresh_token === 'string' ? body.refresh_token : '';
    const ttl = typeof body.expires_in === 'number' ? body.expires_in * 1000 : 60_000;
    session.access = { token: access, exp: exp(access), ttl };
    session.refresh = { token: refresh, exp: exp(refresh) };
    options.onToken?.({ what: 'issued', use: 'access', token: access, expiresAt: session.access.exp });
    options.onToken?.({ what: 'issued', use: 'refresh', token: refresh, expiresAt: session.refresh.exp });
    summary.issued++;
    bump(summary.issuedByKeyVersion, keyVersion(body));
  };

  const login = async (session: Session): Promise<void> => {
    const res = await call(`${pick(options.login)}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: session.sub }),
    });
    if (res?.status === 200) takePair(session, res.body);
  };

  const rejected = (
    reason: unknown,
    presented: { token: string; exp: number },
    use: 'access' | 'refresh',
  ): boolean => {
    const valid = stillValid(presented.exp, Date.now());
    options.onToken?.({
      what: valid ? 'rejected-valid' : 'rejected-expired',
      use,
      token: presented.token,
      expiresAt: presented.exp,
    });
    if (valid) {
      summary.rejectedValid++;
      bump(summary.rejectionReasons, typeof reason === 'string' ? reason : 'unknown');
      return true;
    }
    summary.rejectedExpired++;
    return false;
  };

  const refresh = async (session: Session): Promise<void> => {
    const current = session.refresh;
    if (current === undefined) return login(session);
    const res = await call(`${pick(options.login)}/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: current.token }),
    });
    if (res?.status === 200) {
      options.onToken?.({ what: 'verified', use: 'refresh', token: current.token, expiresAt: current.exp });
      takePair(session, res.body);
      return;
    }
    if (res?.status === 401) {
      if (rejected(res.body.reason, current, 'refresh')) summary.endedSessions++;
      session.access = undefined;
      session.refresh = undefined;
      return login(session);
    }
  };

  const use = async (session: Session): Promise<void> => {
    const access = session.access;
    if (access === undefined || access.exp - Date.now() < access.ttl * options.refreshAt)
      return refresh(session);
    const res = await call(`${pick(options.verify)}/me`, {
      headers: { authorization: `Bearer ${access.token}` },
    });
    if (res?.status === 200) {
      summary.verified++;
      bump(summary.byKeyVersion, keyVersion(res.body));
      options.onToken?.({ what: 'verified', use: 'access', token: access.token, expiresAt: access.exp });
    } else if (res?.status === 401) {
      rejected(res.body.reason, access, 'access');
      session.access = undefined;
    }
  };

  const interval = 1000 / options.rps;
  const inFlight = new Set<Promise<void>>();
  const busy = new Set<Session>();
  let next = 0;
  let lastReport = started;
  for (let tick = 0; ; tick++) {
    const now = Date.now();
    if (options.signal?.aborted || now - started >= options.durationMs || summary.requests >= maxRequests)
      break;
    if (now - lastReport >= options.reportEveryMs) {
      lastReport = now;
      options.onProgress?.({ ...summary, elapsedMs: now - started });
    }
    const session = sessions[next++ % sessions.length];
    // One request per session at a time, so a session's refresh and use never race; a busy session skips.
    if (session !== undefined && !busy.has(session)) {
      busy.add(session);
      const p = use(session).finally(() => {
        busy.delete(session);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    const wait = started + (tick + 1) * interval - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.all(inFlight);
  summary.elapsedMs = Date.now() - started;
  return summary;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      login: { type: 'string' },
      verify: { type: 'string' },
      users: { type: 'string', default: '20' },
      rps: { type: 'string', default: '20' },
      duration: { type: 'string', default: '60s' },
      'max-requests': { type: 'string', default: String(MAX_REQUESTS) },
      'refresh-at': { type: 'string', default: '0.3' },
      'report-every': { type: 'string', default: '5s' },
    },
    strict: true,
  });
  const list = (v: string | undefined): string[] => (v ?? '').split(',').filter((s) => s !== '');
  const login = list(values.login);
  const verify = list(values.verify ?? values.login);
  if (login.length === 0) throw new Error('--login is required');
  const print = (msg: string, s: SessionLoadSummary): void => {
    process.stdout.write(`${JSON.stringify({ msg, ...s })}\n`);
  };
  // SIGTERM (a pod being deleted, or `kill`) ends the run early with a summary.
  const stop = new AbortController();
  process.once('SIGTERM', () => {
    stop.abort();
  });
  const summary = await runSessionLoad({
    signal: stop.signal,
    login,
    verify,
    users: Number(values.users),
    rps: Number(values.rps),
    durationMs: parseGoDuration(values.duration) * 1000,
    maxRequests: Number(values['max-requests']),
    refreshAt: Number(values['refresh-at']),
    reportEveryMs: parseGoDuration(values['report-every']) * 1000,
    onProgress: (s) => {
      print('progress', s);
    },
  });
  print('summary', summary);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
