/**
 * The reference consumer keeps the consumer contract (docs/consumer-contract.md). Pure parts are tested
 * in-process; the rotation as a pod sees it (steady → dual → past ROTATION_DATE → complete) against the real
 * process, hot-reloading an env file and a Secret directory.
 *
 *   npx mocha --no-config --node-option import=tsx --extension ts examples/consumer/consumer.test.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';

import { expect } from 'chai';
import { SignJWT } from 'jose';

import { fingerprint as operatorFingerprint } from '../../src/platform/fingerprint.ts';
import { generateKey } from '../../src/platform/keys.ts';
import { jwksOf, jwksText } from '../../src/reconcile/secret-data.ts';
import { startConsumer, writeEnvFile, type RunningConsumer } from '../../test/support/consumer.ts';
import { SessionTracker, parseGoDuration } from '@jwt-rotation-operator/consumer-kit';

import { ConfigError, JwtKey, parseJwtConfig, signingKeyAt } from './config.ts';
import { FaultInjector } from './faults.ts';
import { fingerprint } from './fingerprint.ts';
import { runLoad } from './loadgen.ts';
import { issueToken, selfTest, verifyToken } from './tokens.ts';

const OLD = randomBytes(64).toString('base64');
const NEW = randomBytes(64).toString('base64');
const T0 = new Date('2026-06-01T12:00:00Z');
const DATE = '2026-06-01T13:00:00Z';

describe('reference consumer: configuration', () => {
  it('runs steady on JWT_SECRET alone, signing with it as the current key', () => {
    const config = parseJwtConfig({ JWT_SECRET: OLD, JWT_EXPIRATION: '24h', JWT_REFRESH_EXPIRATION: '720h' });
    expect(config.mode).to.equal('steady');
    expect(config.keys.map((k) => k.version)).to.deep.equal(['current']);
    expect(signingKeyAt(config, T0).kid).to.equal(fingerprint(OLD));
    expect(config.accessTtlSeconds).to.equal(86_400);
    expect(config.refreshTtlSeconds).to.equal(2_592_000);
  });

  it('signs with CURRENT before ROTATION_DATE and with NEW from it on', () => {
    const config = parseJwtConfig({
      JWT_SECRET: OLD,
      JWT_SECRET_CURRENT: OLD,
      JWT_SECRET_NEW: NEW,
      JWT_SECRET_ROTATION_DATE: DATE,
    });
    expect(config.mode).to.equal('dual');
    expect(config.keys.map((k) => [k.version, k.kid])).to.deep.equal([
      ['current', fingerprint(OLD)],
      ['new', fingerprint(NEW)],
    ]);
    expect(signingKeyAt(config, new Date('2026-06-01T12:59:59.999Z')).version).to.equal('current');
    expect(signingKeyAt(config, new Date(DATE)).version).to.equal('new');
  });

  for (const date of [undefined, 'tomorrow', '2026-06-01', '2026-06-01T13:00:00']) {
    it(`keeps signing with CURRENT when ROTATION_DATE is ${date === undefined ? 'missing' : `"${date}"`}`, () => {
      const config = parseJwtConfig({ JWT_SECRET: OLD, JWT_SECRET_NEW: NEW, JWT_SECRET_ROTATION_DATE: date });
      expect(config.mode).to.equal('dual');
      expect(signingKeyAt(config, new Date('2100-01-01T00:00:00Z')).version).to.equal('current');
      expect(config.warnings.join()).to.contain('JWT_SECRET_ROTATION_DATE');
    });
  }

  it('accepts an RFC 3339 date with an offset', () => {
    const config = parseJwtConfig({
      JWT_SECRET: OLD,
      JWT_SECRET_NEW: NEW,
      JWT_SECRET_ROTATION_DATE: '2026-06-01T15:00:00+02:00',
    });
    expect(config.rotationDate?.toISOString()).to.equal('2026-06-01T13:00:00.000Z');
  });

  it('still accepts JWT_SECRET when a hand-edited Secret makes it differ from JWT_SECRET_CURRENT', () => {
    const config = parseJwtConfig({
      JWT_SECRET: 'a'.repeat(88),
      JWT_SECRET_CURRENT: OLD,
      JWT_SECRET_NEW: NEW,
    });
    expect(config.keys).to.have.length(3);
    expect(config.warnings.join()).to.contain('differs');
  });

  it('refuses to start without any key', () => {
    expect(() => parseJwtConfig({ JWT_EXPIRATION: '1h' })).to.throw(ConfigError, 'JWT_SECRET');
  });

  it('refuses a malformed expiration', () => {
    expect(() => parseJwtConfig({ JWT_SECRET: OLD, JWT_EXPIRATION: '24 hours' })).to.throw(
      ConfigError,
      'JWT_EXPIRATION',
    );
  });

  it('uses the same fingerprint as the operator', () => {
    expect(fingerprint(OLD)).to.equal(operatorFingerprint(OLD));
  });

  it('never shows key material when a key is logged or inspected', () => {
    const key = new JwtKey(OLD, 'current');
    expect(JSON.stringify({ key })).not.to.contain(OLD);
    expect(inspect(key)).to.equal(`JwtKey(current ${fingerprint(OLD)})`);
  });

  const durations: [string, number][] = [
    ['24h', 86_400],
    ['1h30m', 5400],
    ['90s', 90],
    ['1.5h', 5400],
    ['1500ms', 1.5],
    ['0', 0],
  ];
  for (const [text, seconds] of durations) {
    it(`reads the Go duration ${text} as ${seconds} s`, () => {
      expect(parseGoDuration(text)).to.equal(seconds);
    });
  }
});

describe('reference consumer: verification', () => {
  const dual = parseJwtConfig({ JWT_SECRET: OLD, JWT_SECRET_NEW: NEW, JWT_SECRET_ROTATION_DATE: DATE });
  const steadyNew = parseJwtConfig({ JWT_SECRET: NEW });

  async function token(
    key: string,
    options: { kid?: string | null; use?: string; ttl?: number } = {},
  ): Promise<string> {
    const iat = Math.floor(T0.getTime() / 1000);
    const header: { alg: string; kid?: string } = { alg: 'HS256' };
    if (options.kid !== null) header.kid = options.kid ?? fingerprint(key);
    return new SignJWT({ token_use: options.use ?? 'access' })
      .setProtectedHeader(header)
      .setSubject('alice')
      .setIssuedAt(iat)
      .setExpirationTime(iat + (options.ttl ?? 3600))
      .sign(new TextEncoder().encode(key));
  }

  it('verifies old- and new-key tokens during a rotation, labelling them current and new', async () => {
    expect(await verifyToken(dual, await token(OLD), 'access', T0)).to.include({
      result: 'success',
      keyVersion: 'current',
    });
    expect(await verifyToken(dual, await token(NEW), 'access', T0)).to.include({
      result: 'success',
      keyVersion: 'new',
    });
  });

  it('falls back to trying each key when the token has no kid or an unknown one', async () => {
    expect(await verifyToken(dual, await token(NEW, { kid: null }), 'access', T0)).to.include({
      keyVersion: 'new',
    });
    expect(await verifyToken(dual, await token(NEW, { kid: 'abc' }), 'access', T0)).to.include({
      keyVersion: 'new',
    });
  });

  it('rejects an old-key token once the rotation completed, with key_version none', async () => {
    const v = await verifyToken(steadyNew, await token(OLD), 'access', T0);
    expect(v).to.include({ result: 'rejected', keyVersion: 'none' });
  });

  it('labels a completed rotation’s key current', async () => {
    expect(await verifyToken(steadyNew, await token(NEW), 'access', T0)).to.include({
      keyVersion: 'current',
    });
  });

  it('rejects an expired token under the key that verified it', async () => {
    const v = await verifyToken(
      dual,
      await token(NEW, { ttl: 60 }),
      'access',
      new Date(T0.getTime() + 3_600_000),
    );
    expect(v).to.include({ result: 'rejected', keyVersion: 'new' });
  });

  it('rejects a refresh token presented as an access token', async () => {
    expect(await verifyToken(dual, await token(OLD, { use: 'refresh' }), 'access', T0)).to.include({
      result: 'rejected',
    });
  });

  it('rejects garbage as malformed', async () => {
    expect(await verifyToken(dual, 'not-a-jwt', 'access', T0)).to.deep.equal({
      result: 'rejected',
      keyVersion: 'none',
      why: 'malformed',
    });
  });

  it('puts the signing key’s fingerprint in the kid header', async () => {
    const jwt = await issueToken(dual.next!, { subject: 'bob', use: 'access', ttlSeconds: 60, now: T0 });
    const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<
      string,
      string
    >;
    expect(header).to.deep.equal({ alg: 'HS256', typ: 'JWT', kid: fingerprint(NEW) });
  });

  for (const alg of ['HS384', 'HS512'] as const) {
    it(`signs and verifies ${alg} when JWT_ALGORITHM says so, and refuses the same key under another hash`, async () => {
      const config = parseJwtConfig({ JWT_SECRET: OLD, JWT_ALGORITHM: alg });
      const jwt = await issueToken(config.current, {
        subject: 'carol',
        use: 'access',
        ttlSeconds: 60,
        now: T0,
      });
      const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<
        string,
        string
      >;
      expect(header.alg).to.equal(alg);
      expect((await verifyToken(config, jwt, 'access', T0)).result).to.equal('success');
      // The key text is the same; a token signed HS256 with it is not an accepted token.
      const hs256 = await issueToken(new JwtKey(OLD, 'current'), {
        subject: 'carol',
        use: 'access',
        ttlSeconds: 60,
        now: T0,
      });
      expect((await verifyToken(config, hs256, 'access', T0)).result).to.equal('rejected');
      await selfTest(config, T0);
    });
  }

  it('refuses an unknown JWT_ALGORITHM for a JWT_SECRET key, without echoing the key', () => {
    expect(() => parseJwtConfig({ JWT_SECRET: OLD, JWT_ALGORITHM: 'none' }))
      .to.throw(ConfigError, /JWT_ALGORITHM must be one of HS256, HS384, HS512/)
      .and.satisfy((e: Error) => !e.message.includes(OLD));
  });
});

describe('reference consumer: failure injection and sessions', () => {
  it('fails exactly the requested fraction of validations, spread evenly', () => {
    const faults = new FaultInjector({ rate: 0.05, mode: 'rejected', latencyMs: 0 });
    const fails = Array.from({ length: 200 }, () => faults.next().fail).filter((f) => f !== undefined);
    expect(fails).to.have.length(10);
    expect(new Set(fails)).to.deep.equal(new Set(['rejected']));
  });

  it('counts distinct subjects seen in the window with unexpired tokens', () => {
    const sessions = new SessionTracker(60);
    const nowS = 1_000_000;
    sessions.touch('a', nowS + 3600, nowS * 1000);
    sessions.touch('b', nowS + 10, nowS * 1000);
    sessions.touch('a', nowS + 3600, nowS * 1000);
    expect(sessions.count(nowS * 1000)).to.equal(2);
    expect(sessions.count((nowS + 10) * 1000)).to.equal(1); // b's token expired
    expect(sessions.count((nowS + 61) * 1000)).to.equal(0); // a not seen for longer than the window
  });

  it('forgets the longest-unseen subjects past its cap', () => {
    const sessions = new SessionTracker(60, 2);
    for (const s of ['a', 'b', 'c']) sessions.touch(s, 2000, 1000);
    expect(sessions.count(1000)).to.equal(2);
  });
});

describe('reference consumer: a rotation as a running replica sees it', function () {
  this.timeout(60_000);
  let dir: string;
  let consumer: RunningConsumer;
  let envFile: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'consumer-it-'));
    envFile = join(dir, 'keys.env');
    await writeEnvFile(envFile, { JWT_SECRET: OLD, JWT_EXPIRATION: '1h', JWT_REFRESH_EXPIRATION: '24h' });
    consumer = await startConsumer({ envFile, env: { RELOAD_INTERVAL_MS: '100', ENABLE_DEBUG: '1' } });
  });
  after(async () => {
    await consumer.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('moves from the old key to the new one without rejecting a single valid token', async () => {
    // Steady: signs with the old key.
    const before = await login(consumer, 'alice');
    expect(before.kid).to.equal(fingerprint(OLD));

    // Dual, ROTATION_DATE ahead: verifies both, still signs old.
    await writeEnvFile(envFile, {
      JWT_SECRET: OLD,
      JWT_SECRET_CURRENT: OLD,
      JWT_SECRET_NEW: NEW,
      JWT_SECRET_ROTATION_DATE: new Date(Date.now() + 3_600_000).toISOString(),
      JWT_EXPIRATION: '1h',
    });
    await eventually(async () => expect((await health(consumer)).mode).to.equal('dual'));
    expect((await login(consumer, 'bob')).kid).to.equal(fingerprint(OLD));
    expect(await me(consumer, await sign(NEW))).to.deep.include({ status: 200, key_version: 'new' });

    // ROTATION_DATE reached: signs new; tokens signed before still verify.
    await writeEnvFile(envFile, {
      JWT_SECRET: OLD,
      JWT_SECRET_CURRENT: OLD,
      JWT_SECRET_NEW: NEW,
      JWT_SECRET_ROTATION_DATE: new Date(Date.now() - 1000).toISOString(),
      JWT_EXPIRATION: '1h',
    });
    await eventually(async () => expect((await login(consumer, 'carol')).kid).to.equal(fingerprint(NEW)));
    expect(await me(consumer, before.access_token)).to.deep.include({ status: 200, key_version: 'current' });

    // A refresh moves a client holding an old-key token to the new key.
    const refreshed = await post(consumer, '/refresh', { refresh_token: before.refresh_token });
    expect(refreshed.kid).to.equal(fingerprint(NEW));

    // Complete: only the new key, now labelled current; old tokens are rejected.
    await writeEnvFile(envFile, { JWT_SECRET: NEW, JWT_EXPIRATION: '1h' });
    await eventually(async () => expect((await health(consumer)).mode).to.equal('steady'));
    expect(await me(consumer, String(refreshed.access_token))).to.deep.include({
      status: 200,
      key_version: 'current',
    });
    expect((await me(consumer, before.access_token)).status).to.equal(401);
  });

  it('keeps its last good keys when an update is broken', async () => {
    await writeEnvFile(envFile, { JWT_EXPIRATION: '1h' });
    await eventually(() => {
      expect(consumer.logs.some((l) => l.msg === 'keys not reloaded; keeping the previous ones')).to.equal(
        true,
      );
    });
    expect((await login(consumer, 'dave')).kid).to.equal(fingerprint(NEW));
  });

  it('exports the contract’s metrics', async () => {
    const text = await (await fetch(`${consumer.url}/metrics`)).text();
    for (const line of [
      'jwt_validations_total{key_version="none",result="rejected"}',
      'jwt_validations_total{key_version="new",result="success"}',
      'jwt_validation_duration_seconds_bucket{le="0.05"}',
      'jwt_tokens_issued_total{key_version="new"}',
      'jwt_active_sessions ',
    ]) {
      expect(text).to.contain(line);
    }
  });

  it('does not count a request without a token as a validation', async () => {
    const total = async (): Promise<number> => {
      const text = await (await fetch(`${consumer.url}/metrics`)).text();
      return Number(/^jwt_validation_duration_seconds_count (\d+)$/m.exec(text)?.[1]);
    };
    const before = await total();
    expect((await fetch(`${consumer.url}/me`)).status).to.equal(401);
    expect(await total()).to.equal(before);
  });

  it('never logs key material', () => {
    const logs = JSON.stringify(consumer.logs);
    expect(logs).not.to.contain(OLD);
    expect(logs).not.to.contain(NEW);
    expect(logs).to.contain(fingerprint(NEW));
  });

  it('hot-reloads keys from a mounted Secret directory', async () => {
    const secretDir = join(dir, 'secret');
    await mkdir(secretDir);
    await writeFile(join(secretDir, 'JWT_SECRET'), OLD);
    const mounted = await startConsumer({ secretDir, env: { RELOAD_INTERVAL_MS: '100' } });
    try {
      expect((await login(mounted, 'erin')).kid).to.equal(fingerprint(OLD));
      await writeFile(join(secretDir, 'JWT_SECRET'), NEW);
      await eventually(async () => expect((await login(mounted, 'erin')).kid).to.equal(fingerprint(NEW)));
    } finally {
      await mounted.stop();
    }
  });

  it('refuses to start without keys', async () => {
    const empty = join(dir, 'empty.env');
    await writeEnvFile(empty, { JWT_EXPIRATION: '1h' });
    let failure: unknown;
    await startConsumer({ envFile: empty }).catch((error: unknown) => (failure = error));
    expect(String(failure)).to.contain('exited with 1');
  });

  it('serves the load generator at the requested new-key share', async () => {
    await writeEnvFile(envFile, { JWT_SECRET: OLD, JWT_SECRET_NEW: NEW, JWT_SECRET_ROTATION_DATE: DATE });
    await eventually(async () => expect((await health(consumer)).mode).to.equal('dual'));
    const summary = await runLoad({
      url: consumer.url,
      rps: 100,
      durationMs: 1000,
      oldKey: OLD,
      newKey: NEW,
      newShare: 0.97,
      // All 100 may be in flight at once: a machine short of CPU slows the load rather than dropping.
      maxInFlight: 100,
    });
    expect(summary).to.deep.include({
      sent: 100,
      failed: 0,
      byKey: { old: 3, new: 97 },
      byStatus: { 200: 100 },
    });
  });

  it('refuses to load anything but loopback', async () => {
    let failure: unknown;
    await runLoad({ url: 'http://example.com', rps: 1, durationMs: 1, oldKey: OLD, newShare: 0 }).catch(
      (error: unknown) => (failure = error),
    );
    expect(String(failure)).to.contain('loopback');
  });
});

// ---- helpers ------------------------------------------------------------------------------------------------

async function sign(key: string): Promise<string> {
  return issueToken(new JwtKey(key, 'current'), {
    subject: 'zoe',
    use: 'access',
    ttlSeconds: 600,
    now: new Date(),
  });
}

async function post(c: RunningConsumer, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${c.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
  expect(response.status, path).to.equal(200);
  return (await response.json()) as Record<string, unknown>;
}

async function login(
  c: RunningConsumer,
  sub: string,
): Promise<{ kid: string; access_token: string; refresh_token: string }> {
  return (await post(c, '/login', { sub })) as { kid: string; access_token: string; refresh_token: string };
}

async function me(c: RunningConsumer, token: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${c.url}/me`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, ...((await response.json()) as Record<string, unknown>) };
}

async function health(c: RunningConsumer): Promise<{ mode: string }> {
  return (await (await fetch(`${c.url}/healthz`)).json()) as { mode: string };
}

/** Retries an assertion until it holds, for at most 10 s (the consumer polls its keys every 100 ms here). */
async function eventually(assertion: () => unknown): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await assertion();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('reference consumer: graceful shutdown', function () {
  this.timeout(30_000);

  it('keeps answering while draining, fails /healthz and closes each connection, then exits', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'consumer-drain-'));
    const envFile = join(dir, 'keys.env');
    await writeEnvFile(envFile, { JWT_SECRET: OLD });
    const consumer = await startConsumer({ envFile, env: { SHUTDOWN_DELAY_SECONDS: '2' } });
    try {
      expect((await fetch(`${consumer.url}/healthz`)).status).to.equal(200);
      const signalled = Date.now();
      const stopped = consumer.stop();
      // Within the delay the replica still answers, but says it is going away (once the signal landed).
      let health = await fetch(`${consumer.url}/healthz`);
      for (let i = 0; i < 20 && health.status === 200; i++) health = await fetch(`${consumer.url}/healthz`);
      expect(health.status).to.equal(503);
      expect(health.headers.get('connection')).to.equal('close');
      const login = await fetch(`${consumer.url}/login`, { method: 'POST', body: '{}' });
      expect(login.status).to.equal(200);
      await stopped;
      expect(Date.now() - signalled).to.be.at.least(1500);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('reference consumer: asymmetric keys and a mounted JWKS', function () {
  this.timeout(60_000);
  const algorithms = ['RS256', 'ES256', 'EdDSA'] as const;
  const scheme = (algorithm: (typeof algorithms)[number]) => ({ algorithm, rsaKeySize: 2048 });
  /** The JWKS exactly as the operator publishes it for these private keys. */
  const publish = (algorithm: (typeof algorithms)[number], ...pems: string[]): string =>
    jwksText(
      jwksOf(
        Object.fromEntries(pems.map((p, i) => [['JWT_PRIVATE_KEY', 'JWT_PRIVATE_KEY_NEW'][i] ?? '', p])),
        scheme(algorithm),
      ),
    );

  for (const algorithm of algorithms) {
    it(`${algorithm}: signs with the key the date names, verifies by kid through the operator's JWKS, labels key_version`, async () => {
      const current = generateKey(0, scheme(algorithm));
      const next = generateKey(0, scheme(algorithm));
      const jwks = publish(algorithm, current, next);
      const vars = (date: string) => ({
        JWT_PRIVATE_KEY: current,
        JWT_PRIVATE_KEY_CURRENT: current,
        JWT_PRIVATE_KEY_NEW: next,
        JWT_SECRET_ROTATION_DATE: date,
        JWKS_JSON: jwks,
      });
      const before = parseJwtConfig(vars(DATE));
      expect(before).to.include({ kind: 'jwks', mode: 'dual' });
      expect(before.unpublished).to.deep.equal([]);
      const kids = (JSON.parse(jwks) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
      expect(signingKeyAt(before, T0).kid).to.equal(kids[0]);
      expect(signingKeyAt(before, new Date(DATE)).kid).to.equal(kids[1]);
      expect(signingKeyAt(before, T0).alg).to.equal(algorithm);
      const oldToken = await issueToken(signingKeyAt(before, T0), {
        subject: 'a',
        use: 'access',
        ttlSeconds: 600,
        now: T0,
      });
      const newToken = await issueToken(signingKeyAt(before, new Date(DATE)), {
        subject: 'a',
        use: 'access',
        ttlSeconds: 600,
        now: T0,
      });
      expect(await verifyToken(before, oldToken, 'access', T0)).to.deep.include({
        result: 'success',
        keyVersion: 'current',
      });
      expect(await verifyToken(before, newToken, 'access', T0)).to.deep.include({
        result: 'success',
        keyVersion: 'new',
      });
      // After completion the JWKS lists the new key alone: old-key tokens are rejected.
      const after = parseJwtConfig({ JWT_PRIVATE_KEY: next, JWKS_JSON: publish(algorithm, next) });
      expect(await verifyToken(after, oldToken, 'access', T0)).to.deep.include({ result: 'rejected' });
      expect(await verifyToken(after, newToken, 'access', T0)).to.deep.include({
        result: 'success',
        keyVersion: 'current',
      });
      await selfTest(before, T0);
    });
  }

  it('refuses to start when the JWKS lacks a private key it holds, but takes such a JWKS on reload', async () => {
    const current = generateKey(0, scheme('EdDSA'));
    const next = generateKey(0, scheme('EdDSA'));
    const config = parseJwtConfig({
      JWT_PRIVATE_KEY_CURRENT: current,
      JWT_PRIVATE_KEY_NEW: next,
      JWT_SECRET_ROTATION_DATE: DATE,
      JWKS_JSON: publish('EdDSA', current),
    });
    expect(config.unpublished).to.have.length(1);
    let failure: unknown;
    await selfTest(config, T0).catch((error: unknown) => (failure = error));
    expect(String(failure)).to.contain('does not verify through the JWKS');
    await selfTest(config, T0, false);
    expect(() => parseJwtConfig({ JWT_PRIVATE_KEY: current })).to.throw(ConfigError, 'no JWKS was read');
  });

  it('re-reads the mounted JWKS when it changes, without a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'consumer-jwks-'));
    const secretDir = join(dir, 'secret');
    await mkdir(secretDir);
    const current = generateKey(0, scheme('ES256'));
    const next = generateKey(0, scheme('ES256'));
    await writeFile(join(secretDir, 'JWT_PRIVATE_KEY'), current);
    const jwksFile = join(dir, 'jwks.json');
    await writeFile(jwksFile, publish('ES256', current));
    const running = await startConsumer({
      secretDir,
      env: { RELOAD_INTERVAL_MS: '100', JWKS_FILE: jwksFile },
    });
    try {
      const first = await login(running, 'erin');
      expect(await me(running, first.access_token)).to.deep.include({ status: 200, key_version: 'current' });
      const foreign = await issueToken(JwtKey.fromPrivateKey(next, 'current'), {
        subject: 'f',
        use: 'access',
        ttlSeconds: 600,
        now: new Date(),
      });
      expect((await me(running, foreign)).status).to.equal(401);
      // The operator publishes the next key: the running replica verifies it without a restart.
      await writeFile(jwksFile, publish('ES256', current, next));
      await eventually(async () => expect(await me(running, foreign)).to.deep.include({ status: 200 }));
      // An emergency rotation drops the current key from the JWKS: its tokens stop verifying at once.
      await writeFile(jwksFile, publish('ES256', next));
      await eventually(async () => expect((await me(running, first.access_token)).status).to.equal(401));
      expect(JSON.stringify(running.logs)).to.not.contain('PRIVATE KEY');
    } finally {
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
