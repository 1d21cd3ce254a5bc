/**
 * Load generator for the reference consumer: GET /me at a fixed rate with tokens signed by the old or the new
 * key, a chosen share of them new. It signs its own tokens (as clients holding older or newer tokens would
 * present them), so it can produce any new-key share without waiting for real clients to migrate.
 *
 *   npx tsx examples/consumer/loadgen.ts --url http://127.0.0.1:8080 --rps 50 --duration 10s \
 *     --env-file keys.env --new-share 0.97
 *
 * Loopback targets only, and bounded: it stops after the duration (or at most MAX_REQUESTS), prints a JSON
 * summary and never prints keys.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { parseGoDuration } from '@jwt-rotation-operator/consumer-kit';

import { JwtKey, JwtVars } from './config.ts';
import { readEnvFile } from './env-file.ts';
import { issueToken } from './tokens.ts';

export interface LoadOptions {
  /** Base URL of the consumer; must be loopback. */
  url: string;
  /** Requests per second. */
  rps: number;
  durationMs: number;
  /** The key clients that have not migrated hold tokens for (labelled `current` by the consumer). */
  oldKey: string;
  /** The new key; may be omitted when newShare is 0. */
  newKey?: string | undefined;
  /** Fraction of requests carrying a new-key token, 0..1. Spread evenly, so 0.97 is exactly 97 per 100. */
  newShare: number;
  /** Distinct token subjects, i.e. the active sessions the consumer will count. Default 50. */
  users?: number | undefined;
  /** Cap on requests in flight; beyond it ticks are skipped and counted as `dropped`. Default 64. */
  maxInFlight?: number | undefined;
  signal?: AbortSignal | undefined;
}

export interface LoadSummary {
  sent: number;
  /** Requests that got no HTTP answer. */
  failed: number;
  /** Ticks skipped because maxInFlight requests were already open (the consumer is too slow). */
  dropped: number;
  byKey: { old: number; new: number };
  /** HTTP status → count. */
  byStatus: Record<string, number>;
  durationMs: number;
  oldKid: string;
  newKid: string | undefined;
}

/** A hard ceiling so a typo in rps or duration cannot turn a test into a flood. */
export const MAX_REQUESTS = 100_000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);
/** Long enough for any test; tokens are minted once per run. */
const TOKEN_TTL_SECONDS = 3600;

export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const target = new URL('/me', options.url);
  if (!LOOPBACK_HOSTS.has(target.hostname))
    throw new Error(`loadgen only targets loopback, not ${target.hostname}`);
  if (!(options.rps > 0 && options.rps <= 5000)) throw new RangeError('rps must be within (0, 5000]');
  if (!(options.newShare >= 0 && options.newShare <= 1)) throw new RangeError('newShare must be within 0..1');
  if (options.newShare > 0 && options.newKey === undefined) throw new Error('newShare > 0 needs a newKey');

  const oldKey = new JwtKey(options.oldKey, 'current');
  const newKey = options.newKey === undefined ? undefined : new JwtKey(options.newKey, 'new');
  const users = options.users ?? 50;
  const oldTokens = await mintTokens(oldKey, users);
  const newTokens = newKey === undefined ? [] : await mintTokens(newKey, users);

  const total = Math.min(MAX_REQUESTS, Math.floor((options.rps * options.durationMs) / 1000));
  const intervalMs = 1000 / options.rps;
  const maxInFlight = options.maxInFlight ?? 64;
  const summary: LoadSummary = {
    sent: 0,
    failed: 0,
    dropped: 0,
    byKey: { old: 0, new: 0 },
    byStatus: {},
    durationMs: 0,
    oldKid: oldKey.kid,
    newKid: newKey?.kid,
  };
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();

  for (let i = 0; i < total && options.signal?.aborted !== true; i++) {
    // Pace against the start time, not the previous tick, so timer drift does not lower the rate.
    const due = started + i * intervalMs;
    const wait = due - performance.now();
    if (wait > 0) await delay(wait, options.signal);
    if (inFlight.size >= maxInFlight) {
      summary.dropped++;
      continue;
    }
    const useNew = Math.floor((i + 1) * options.newShare) > Math.floor(i * options.newShare);
    const pool = useNew ? newTokens : oldTokens;
    const token = pool[i % users] ?? '';
    summary.byKey[useNew ? 'new' : 'old']++;
    summary.sent++;
    const request = send(target, token, options.signal).then(
      (status) => {
        summary.byStatus[status] = (summary.byStatus[status] ?? 0) + 1;
      },
      () => {
        summary.failed++;
      },
    );
    const tracked = request.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  summary.durationMs = Math.round(performance.now() - started);
  return summary;
}

async function mintTokens(key: JwtKey, users: number): Promise<string[]> {
  const now = new Date();
  return Promise.all(
    Array.from({ length: users }, (_, i) =>
      issueToken(key, { subject: `loadgen-user-${i}`, use: 'access', ttlSeconds: TOKEN_TTL_SECONDS, now }),
    ),
  );
}

async function send(target: URL, token: string, signal: AbortSignal | undefined): Promise<number> {
  const response = await fetch(target, {
    headers: { authorization: `Bearer ${token}` },
    ...(signal === undefined ? {} : { signal }),
  });
  await response.arrayBuffer();
  return response.status;
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

// ---- command line -------------------------------------------------------------------------------------------

async function cli(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      rps: { type: 'string', default: '20' },
      duration: { type: 'string', default: '10s' },
      'new-share': { type: 'string', default: '0' },
      users: { type: 'string', default: '50' },
      'env-file': { type: 'string' },
      'old-key': { type: 'string' },
      'new-key': { type: 'string' },
    },
    strict: true,
  });
  // Keys from an env file (JWT_SECRET_CURRENT/JWT_SECRET and JWT_SECRET_NEW) keep them out of `ps` output.
  const fileVars = values['env-file'] === undefined ? {} : await readEnvFile(values['env-file']);
  const oldKey = values['old-key'] ?? fileVars[JwtVars.current] ?? fileVars[JwtVars.secret];
  const newKey = values['new-key'] ?? fileVars[JwtVars.next];
  if (oldKey === undefined) throw new Error('give --env-file or --old-key');

  const controller = new AbortController();
  process.once('SIGINT', () => {
    controller.abort();
  });
  const summary = await runLoad({
    url: values.url,
    rps: Number(values.rps),
    durationMs: parseGoDuration(values.duration) * 1000,
    oldKey,
    newKey,
    newShare: Number(values['new-share']),
    users: Number(values.users),
    signal: controller.signal,
  });
  console.log(JSON.stringify(summary));
}

const invokedDirectly =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  cli().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
