/**
 * The shared conformance suite (sdk/conformance/cases.json) against the TypeScript kit: every case, step by
 * step, through the kit's public API, with the clock injected. Format: sdk/conformance/README.md.
 *
 *   npx mocha sdk/typescript/test/conformance.test.ts        (from the repository root)
 */
import { createPublicKey } from 'node:crypto';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';

import { expect } from 'chai';
import { decodeProtectedHeader, jwtVerify } from 'jose';

import { ConsumerKit, type KitOptions } from '../src/index.ts';

export interface Expectation {
  result?: string;
  keyVersion?: string;
  reason?: string;
  key?: string;
  alg?: string;
  ttlSeconds?: number;
  error?: boolean;
}
export interface Step {
  now: string;
  secret?: Record<string, string>;
  jwks?: string | null;
  load?: 'ok' | 'error';
  reload?: 'applied' | 'kept';
  warning?: string;
  sign?: { claims: Record<string, unknown>; expect: Expectation }[];
  verify?: { token: string; require?: Record<string, string>; expect: Expectation }[];
  metrics?: Record<string, number>;
}
export interface Case {
  name: string;
  source?: 'env' | 'dir';
  jwksSource?: 'file' | 'url';
  algorithm?: string;
  steps: Step[];
}
interface Suite {
  toleranceSeconds: number;
  sessionWindowSeconds: number;
  metrics: { initial: string[]; buckets: number[] };
  cases: Case[];
}
interface Fixtures {
  keys: Record<
    string,
    { alg: string; kid: string; secret?: string; privateKey?: string; publicKey?: string }
  >;
  jwks: Record<string, string>;
  tokens: Record<string, { jwt: string }>;
}

const dir = new URL('../../conformance/', import.meta.url);
export const suite = JSON.parse(readFileSync(new URL('cases.json', dir), 'utf8')) as Suite;
export const fixtures = JSON.parse(readFileSync(new URL('fixtures.json', dir), 'utf8')) as Fixtures;

/** `key:NAME` is a fixture key's material (HMAC text or private PEM); anything else is literal. */
function resolveSecret(secret: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(secret).map(([name, value]) => {
      if (!value.startsWith('key:')) return [name, value];
      const key = fixtures.keys[value.slice(4)];
      return [name, key?.secret ?? key?.privateKey ?? ''];
    }),
  );
}

function fixtureKey(name: string): Fixtures['keys'][string] {
  const key = fixtures.keys[name];
  if (key === undefined) throw new Error(`no fixture key ${name}`);
  return key;
}

/** The registry's exposition as series → value; bucket bounds normalised (`le="1.0"` is `le="1"`). */
async function readMetrics(kit: ConsumerKit): Promise<Map<string, number>> {
  const series = new Map<string, number>();
  for (const line of (await kit.metrics.registry.metrics()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    const name = line.slice(0, at).replace(/le="([^"]+)"/, (_m, le: string) => `le="${Number(le)}"`);
    series.set(name, Number(line.slice(at + 1)));
  }
  return series;
}

function checkInitialMetrics(series: Map<string, number>): void {
  for (const name of suite.metrics.initial) expect(series.get(name), `initial ${name}`).to.equal(0);
  for (const le of suite.metrics.buckets)
    expect(series.has(`jwt_validation_duration_seconds_bucket{le="${le}"}`), `bucket ${le}`).to.equal(true);
}

/** One case's world: the mounted Secret directory, the JWKS file or URL, the clock. */
class World {
  now = new Date(0);
  jwks: string | null = null;
  secret: Record<string, string> = {};
  server: Server | undefined;
  url = '';

  constructor(
    readonly tmp: string,
    readonly testCase: Case,
  ) {}

  get secretDir(): string {
    return join(this.tmp, 'secret');
  }

  get jwksFile(): string {
    return join(this.tmp, 'jwks.json');
  }

  async apply(step: Step): Promise<void> {
    this.now = new Date(step.now);
    if (step.secret !== undefined) {
      this.secret = resolveSecret(step.secret);
      if (this.testCase.source === 'dir') {
        await rm(this.secretDir, { recursive: true, force: true });
        await mkdir(this.secretDir);
        for (const [name, value] of Object.entries(this.secret))
          await writeFile(join(this.secretDir, name), value);
      }
    }
    if (step.jwks !== undefined) {
      this.jwks = step.jwks === null ? null : (fixtures.jwks[step.jwks] ?? '');
      if (this.jwks !== null) await writeFile(this.jwksFile, this.jwks);
      if (this.testCase.jwksSource === 'url' && this.server === undefined) await this.serve();
    }
  }

  options(): KitOptions {
    const options: KitOptions = {
      now: () => this.now,
      reloadIntervalMs: 0,
      log: () => undefined,
      ...(this.testCase.algorithm === undefined ? {} : { algorithm: this.testCase.algorithm }),
    };
    if (this.testCase.source === 'dir') options.secretDir = this.secretDir;
    else options.env = { ...this.secret };
    if (this.jwks !== null) {
      if (this.testCase.jwksSource === 'url') options.jwksUrl = this.url;
      else options.jwksFile = this.jwksFile;
    }
    return options;
  }

  async serve(): Promise<void> {
    this.server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(this.jwks ?? '');
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jwks.json`;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
    await rm(this.tmp, { recursive: true, force: true });
  }
}

async function checkSign(kit: ConsumerKit, now: Date, op: NonNullable<Step['sign']>[number]): Promise<void> {
  const e = op.expect;
  if (e.error === true) {
    let failed = false;
    await kit.sign(op.claims).catch(() => {
      failed = true;
    });
    expect(failed, 'sign must fail').to.equal(true);
    return;
  }
  const key = fixtureKey(e.key ?? '');
  const alg = e.alg ?? key.alg;
  const before = await readMetrics(kit);
  const signed = await kit.sign(op.claims);
  expect(decodeProtectedHeader(signed.token), 'the signed header').to.deep.equal({
    alg,
    typ: 'JWT',
    kid: key.kid,
  });
  expect(signed).to.include({ kid: key.kid, keyVersion: e.keyVersion });
  // Checked without the kit: the fixture key itself must verify the signature.
  const material =
    key.secret !== undefined ? new TextEncoder().encode(key.secret) : createPublicKey(key.publicKey ?? '');
  const { payload } = await jwtVerify(signed.token, material, { algorithms: [alg], currentDate: now });
  const iat = Math.floor(now.getTime() / 1000);
  expect(payload).to.deep.include({ ...op.claims, iat, exp: iat + (e.ttlSeconds ?? 0) });
  const issued = `jwt_tokens_issued_total{key_version="${e.keyVersion ?? ''}"}`;
  expect((await readMetrics(kit)).get(issued), issued).to.equal((before.get(issued) ?? 0) + 1);
}

async function checkVerify(kit: ConsumerKit, op: NonNullable<Step['verify']>[number]): Promise<void> {
  const token = op.token.startsWith('=') ? op.token.slice(1) : fixtures.tokens[op.token]?.jwt;
  if (token === undefined) throw new Error(`no fixture token ${op.token}`);
  const before = await readMetrics(kit);
  const v = await kit.verify(token, op.require === undefined ? {} : { require: op.require });
  const e = op.expect;
  const seen = { result: v.result, keyVersion: v.keyVersion, ...('reason' in v ? { reason: v.reason } : {}) };
  expect(seen, op.token).to.deep.include({
    result: e.result,
    keyVersion: e.keyVersion,
    ...(e.reason === undefined ? {} : { reason: e.reason }),
  });
  if (e.key !== undefined) expect(v.result === 'success' ? v.kid : undefined).to.equal(fixtureKey(e.key).kid);
  const after = await readMetrics(kit);
  const series = `jwt_validations_total{key_version="${e.keyVersion ?? ''}",result="${e.result ?? ''}"}`;
  expect(after.get(series), series).to.equal((before.get(series) ?? 0) + 1);
  const count = 'jwt_validation_duration_seconds_count';
  expect(after.get(count), count).to.equal((before.get(count) ?? 0) + 1);
}

/** Opens the kit (first step, or a restart: a new Secret read from the environment) or reloads it. */
async function openOrReload(
  world: World,
  kit: ConsumerKit | undefined,
  step: Step,
): Promise<ConsumerKit | undefined> {
  const restart = kit === undefined || (world.testCase.source !== 'dir' && step.secret !== undefined);
  if (!restart) {
    if (step.secret !== undefined || step.jwks !== undefined)
      expect(await kit.reload(), 'reload').to.equal(step.reload ?? 'applied');
    return kit;
  }
  kit?.close();
  let opened: ConsumerKit | undefined;
  let failure: unknown;
  try {
    opened = await ConsumerKit.open(world.options());
  } catch (error) {
    failure = error;
  }
  if (step.load === 'error') {
    expect(opened, 'the kit must refuse to start').to.equal(undefined);
    return undefined;
  }
  if (opened === undefined) throw failure;
  checkInitialMetrics(await readMetrics(opened));
  return opened;
}

export async function runCase(testCase: Case): Promise<void> {
  const world = new World(await mkdtemp(join(tmpdir(), 'kit-conformance-')), testCase);
  let kit: ConsumerKit | undefined;
  try {
    for (const [index, step] of testCase.steps.entries()) {
      await world.apply(step);
      kit = await openOrReload(world, kit, step);
      if (kit === undefined) continue;
      try {
        if (step.warning !== undefined) expect(kit.keys.warnings.join('\n')).to.contain(step.warning);
        for (const op of step.sign ?? []) await checkSign(kit, world.now, op);
        for (const op of step.verify ?? []) await checkVerify(kit, op);
        const series = await readMetrics(kit);
        for (const [name, value] of Object.entries(step.metrics ?? {}))
          expect(series.get(name), name).to.equal(value);
      } catch (error) {
        if (error instanceof Error) error.message = `step ${index + 1}: ${error.message}`;
        throw error;
      }
    }
  } finally {
    kit?.close();
    await world.close();
  }
}

describe(`consumer kit, TypeScript: the conformance suite (${suite.cases.length} cases)`, () => {
  for (const testCase of suite.cases) it(testCase.name, () => runCase(testCase));
});
