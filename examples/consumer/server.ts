/**
 * The reference consumer's HTTP API:
 *   POST /login          → access + refresh token, signed with the key the contract says to use now
 *   POST /refresh        → a new pair for a valid refresh token (how clients move to the new key)
 *   GET  /me             → verifies `Authorization: Bearer <access token>` with any known key
 *   GET  /metrics        → docs/metrics-contract.md
 *   GET  /healthz        → liveness/readiness
 *   POST /debug/fail     → failure injection (only with ENABLE_DEBUG=1)
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ConsumerKit } from '@jwt-rotation-operator/consumer-kit';

import { signingKeyAt, type JwtConfig } from './config.ts';
import type { FaultInjector, FaultInput } from './faults.ts';
import type { Logger } from './log.ts';
import { issueToken, verifyToken, type TokenUse, type Verification } from './tokens.ts';

export interface ConsumerDeps {
  /** The consumer kit: the keys (reloaded), the metrics contract's series, the active sessions. */
  kit: ConsumerKit;
  faults: FaultInjector;
  now: () => Date;
  log: Logger;
  /** Enables /debug/*; off in anything resembling production. */
  debug: boolean;
  /** True once shutdown began: /healthz fails so the endpoint is removed, and connections are not kept. */
  draining?: () => boolean;
}

const MAX_BODY_BYTES = 16 * 1024;

export function createConsumerServer(deps: ConsumerDeps): Server {
  const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>> = {
    'POST /login': (req, res) => login(deps, req, res),
    'POST /refresh': (req, res) => refresh(deps, req, res),
    'GET /me': (req, res) => me(deps, req, res),
    'GET /metrics': (_req, res) => metrics(deps, res),
    'GET /healthz': (_req, res) => {
      if (deps.draining?.() === true) send(res, 503, { status: 'draining' });
      else send(res, 200, { status: 'ok', mode: deps.kit.keys.mode });
      return Promise.resolve();
    },
  };
  if (deps.debug) routes['POST /debug/fail'] = (req, res) => setFaults(deps, req, res);

  return createServer((req, res) => {
    // While draining, every answer closes its connection, so keep-alive clients reconnect to a live replica.
    if (deps.draining?.() === true) res.shouldKeepAlive = false;
    const path = new URL(req.url ?? '/', 'http://consumer').pathname;
    const route = routes[`${req.method ?? 'GET'} ${path}`];
    if (route === undefined) {
      send(res, 404, { error: 'not found' });
      return;
    }
    route(req, res).catch((error: unknown) => {
      deps.log('error', 'request failed', {
        path,
        error: error instanceof Error ? error.message : String(error),
      });
      if (!res.headersSent) send(res, 500, { error: 'internal error' });
    });
  });
}

async function login(deps: ConsumerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJson(req);
  const subject = typeof body.sub === 'string' && body.sub !== '' ? body.sub : `user-${randomUUID()}`;
  await sendTokenPair(deps, res, subject);
}

async function refresh(deps: ConsumerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJson(req);
  if (typeof body.refresh_token !== 'string' || body.refresh_token === '') {
    send(res, 400, { error: 'missing refresh_token' });
    return;
  }
  const verification = await validate(deps, body.refresh_token, 'refresh');
  if (verification.result !== 'success') {
    sendVerificationFailure(res, verification);
    return;
  }
  await sendTokenPair(deps, res, verification.subject);
}

async function me(deps: ConsumerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (token === undefined) {
    // No token is not a validation: anonymous calls must not count against the auth success rate.
    send(res, 401, { error: 'missing bearer token' });
    return;
  }
  const verification = await validate(deps, token, 'access');
  if (verification.result !== 'success') {
    sendVerificationFailure(res, verification);
    return;
  }
  send(res, 200, { sub: verification.subject, kid: verification.kid, key_version: verification.keyVersion });
}

async function metrics(deps: ConsumerDeps, res: ServerResponse): Promise<void> {
  const { registry } = deps.kit.metrics;
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType });
  res.end(text);
}

async function setFaults(deps: ConsumerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const params = new URL(req.url ?? '/', 'http://consumer').searchParams;
  const changes: Partial<FaultInput> = {};
  const rate = params.get('rate');
  const mode = params.get('mode');
  const latencyMs = params.get('latencyMs');
  if (rate !== null) changes.rate = Number(rate);
  if (mode !== null) changes.mode = mode;
  if (latencyMs !== null) changes.latencyMs = Number(latencyMs);
  try {
    const settings = deps.faults.update(changes);
    deps.log('warn', 'failure injection changed', { ...settings });
    send(res, 200, settings);
  } catch (error) {
    send(res, 400, { error: (error as Error).message });
  }
  await Promise.resolve();
}

/** One validation as the metrics see it: injected latency and failures included, timed end to end. */
async function validate(deps: ConsumerDeps, token: string, use: TokenUse): Promise<Verification> {
  const started = process.hrtime.bigint();
  const fault = deps.faults.next();
  if (fault.latencyMs > 0) await sleep(fault.latencyMs);
  let verification: Verification;
  if (fault.fail === 'error') verification = { result: 'error', keyVersion: 'none', why: 'injected error' };
  else if (fault.fail === 'rejected')
    verification = { result: 'rejected', keyVersion: 'none', why: 'injected' };
  else verification = await verifyToken(config(deps), token, use, deps.now());
  deps.kit.metrics.recordValidation(verification, Number(process.hrtime.bigint() - started) / 1e9);
  if (verification.result === 'success') deps.kit.touchSession(verification.subject, verification.expiresAt);
  return verification;
}

async function sendTokenPair(deps: ConsumerDeps, res: ServerResponse, subject: string): Promise<void> {
  const keys = config(deps);
  const now = deps.now();
  // One key for the pair, chosen once: both tokens of a login are signed on the same side of the date.
  const key = signingKeyAt(keys, now);
  const [accessToken, refreshToken] = await Promise.all([
    issueToken(key, { subject, use: 'access', ttlSeconds: keys.accessTtlSeconds, now }),
    issueToken(key, { subject, use: 'refresh', ttlSeconds: keys.refreshTtlSeconds, now }),
  ]);
  deps.kit.metrics.recordIssued(key.version, 2);
  deps.kit.touchSession(subject, Math.floor(now.getTime() / 1000) + keys.accessTtlSeconds);
  send(res, 200, {
    access_token: accessToken,
    refresh_token: refreshToken,
    token_type: 'Bearer',
    expires_in: keys.accessTtlSeconds,
    kid: key.kid,
    key_version: key.version,
  });
}

/** The kit's keys as the consumer uses them: the kit was opened with a signing key (main.ts). */
function config(deps: ConsumerDeps): JwtConfig {
  const keys = deps.kit.keys;
  if (keys.current === undefined) throw new Error('the consumer holds no signing key');
  return { ...keys, current: keys.current };
}

function sendVerificationFailure(res: ServerResponse, v: Exclude<Verification, { result: 'success' }>): void {
  if (v.result === 'error') send(res, 500, { error: 'validation error' });
  else send(res, 401, { error: 'invalid token', reason: v.why });
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
