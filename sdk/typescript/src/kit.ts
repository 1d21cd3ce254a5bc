/**
 * The consumer kit: the Secret's keys (environment, mounted directory, or any reader) and the JWKS (mounted
 * file or URL), reloaded on change without a restart; sign() and verify() by the contract; the metrics
 * contract's series. A bad update (a missing key, a malformed duration, a JWKS that is not JSON) is logged
 * and not applied: the kit keeps its last good keys rather than dropping them.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { JWTPayload } from 'jose';
import { Registry } from 'prom-client';

import { JWT_VAR_NAMES, describeKeyRing, parseKeyRing, type KeyRing, type Vars } from './keys.ts';
import { createKitMetrics, type KitMetrics } from './metrics.ts';
import { SessionTracker } from './sessions.ts';
import { selfTest, signToken, verifyToken, type Signed, type Verification } from './tokens.ts';

export type LogLevel = 'info' | 'warn' | 'error';
export type KitLogger = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

export interface KitOptions {
  /** The Secret as environment variables, read once (default: process.env). */
  env?: Vars;
  /** A mounted Secret volume (one file per key), re-read every reloadIntervalMs. */
  secretDir?: string;
  /** Any other reader of the Secret's variables (an env file...), re-read every reloadIntervalMs. */
  read?: () => Promise<Vars>;
  /** The operator's JWKS ConfigMap mounted as a file: asymmetric keys, verified by kid. Re-read. */
  jwksFile?: string;
  /** Or the JWKS from a URL, fetched at start and every jwksRefreshMs. */
  jwksUrl?: string;
  /** HS256 (default), HS384 or HS512 for JWT_SECRET keys; default JWT_ALGORITHM from the variables. */
  algorithm?: string;
  /** Default 1000; 0 turns the timer off (call reload() yourself). */
  reloadIntervalMs?: number;
  /** Default 30000: no longer than kubelet's delay for a mounted ConfigMap. */
  jwksRefreshMs?: number;
  /** The clock (tests inject one). */
  now?: () => Date;
  /** Where the metrics go; a new Registry by default. */
  registry?: Registry;
  /** jwt_active_sessions counts subjects seen within this many seconds (default 300). */
  sessionWindowSeconds?: number;
  /** Log lines carry fingerprints, never keys. Default: warnings and errors as JSON lines on stderr. */
  log?: KitLogger;
}

/** What a reload did: took new keys, found nothing new, or kept the last good keys after a bad update. */
export type ReloadResult = 'applied' | 'unchanged' | 'kept';

const stderrLogger: KitLogger = (level, msg, fields = {}) => {
  if (level !== 'info')
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`);
};

export class ConsumerKit {
  readonly metrics: KitMetrics;
  readonly sessions: SessionTracker;
  readonly #options: KitOptions;
  readonly #now: () => Date;
  readonly #log: KitLogger;
  #ring: KeyRing;
  #digest: string;
  #jwks: { text: string | undefined; fetchedAt: number };
  #lastProblem: string | undefined;
  #timer: NodeJS.Timeout | undefined;

  private constructor(options: KitOptions, loaded: Loaded) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
    this.#log = options.log ?? stderrLogger;
    this.#ring = loaded.ring;
    this.#digest = loaded.digest;
    this.#jwks = { text: loaded.jwks, fetchedAt: Date.now() };
    this.sessions = new SessionTracker(options.sessionWindowSeconds ?? 300);
    this.metrics = createKitMetrics(options.registry ?? new Registry(), this.sessions, () =>
      this.#now().getTime(),
    );
  }

  /** Reads and checks the keys; throws (ConfigError...) when there is no usable key: do not start then. */
  static async open(options: KitOptions = {}): Promise<ConsumerKit> {
    const now = options.now ?? (() => new Date());
    const jwks = await readJwks(options);
    const loaded = await load(options, jwks, now(), true);
    const kit = new ConsumerKit(options, loaded);
    kit.#announce('keys loaded');
    const interval = options.reloadIntervalMs ?? 1000;
    const polled = [options.secretDir, options.read, options.jwksFile, options.jwksUrl].some(
      (o) => o !== undefined,
    );
    if (interval > 0 && polled) kit.#startTimer(interval);
    return kit;
  }

  /** The keys in use now. */
  get keys(): KeyRing {
    return this.#ring;
  }

  /** Signs with the key the rotation date selects now; iat now, exp now + JWT_EXPIRATION (or ttlSeconds). */
  async sign(claims: JWTPayload, options: { ttlSeconds?: number } = {}): Promise<Signed> {
    const signed = await signToken(this.#ring, claims, { now: this.#now(), ttlSeconds: options.ttlSeconds });
    this.metrics.recordIssued(signed.keyVersion);
    return signed;
  }

  /** Verifies by the contract, counts it in the metrics, and counts its subject as an active session. */
  async verify(
    token: string,
    options: { require?: Readonly<Record<string, string>> } = {},
  ): Promise<Verification> {
    const started = process.hrtime.bigint();
    const now = this.#now();
    const verification = await verifyToken(this.#ring, token, { now, require: options.require });
    this.metrics.recordValidation(verification, Number(process.hrtime.bigint() - started) / 1e9);
    const { sub, exp } = verification.result === 'success' ? verification.claims : {};
    if (typeof sub === 'string' && typeof exp === 'number') this.sessions.touch(sub, exp, now.getTime());
    return verification;
  }

  /** Counts a subject as active until `expiresAt` (seconds), e.g. at a login. */
  touchSession(subject: string, expiresAt: number): void {
    this.sessions.touch(subject, expiresAt, this.#now().getTime());
  }

  /** Re-reads the Secret and the JWKS now (the URL too), and switches to them if they are complete and valid. */
  reload(): Promise<ReloadResult> {
    return this.#reload(true);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  async #reload(force: boolean): Promise<ReloadResult> {
    try {
      const urlDue = force || Date.now() - this.#jwks.fetchedAt >= (this.#options.jwksRefreshMs ?? 30_000);
      const jwks =
        this.#options.jwksUrl !== undefined && !urlDue ? this.#jwks.text : await readJwks(this.#options);
      if (this.#options.jwksUrl !== undefined && urlDue) this.#jwks = { text: jwks, fetchedAt: Date.now() };
      const vars = pickJwtVars(await readVars(this.#options));
      if (digestOf(vars, jwks) === this.#digest) return 'unchanged';
      const loaded = await load(this.#options, jwks, this.#now(), false, vars);
      this.#ring = loaded.ring;
      this.#digest = loaded.digest;
      this.#lastProblem = undefined;
      this.#announce('keys reloaded');
      return 'applied';
    } catch (error) {
      // Once per distinct problem: a file being rewritten can fail for several polls in a row.
      const problem = error instanceof Error ? error.message : String(error);
      if (problem !== this.#lastProblem)
        this.#log('error', 'keys not reloaded; keeping the previous ones', { problem });
      this.#lastProblem = problem;
      return 'kept';
    }
  }

  #startTimer(intervalMs: number): void {
    let polling = false;
    this.#timer = setInterval(() => {
      if (polling) return;
      polling = true;
      void this.#reload(false).finally(() => {
        polling = false;
      });
    }, intervalMs);
    this.#timer.unref();
  }

  #announce(msg: string): void {
    this.#log('info', msg, describeKeyRing(this.#ring));
    for (const warning of this.#ring.warnings) this.#log('warn', warning);
  }
}

interface Loaded {
  ring: KeyRing;
  digest: string;
  jwks: string | undefined;
}

/** Parses and self-tests, so a kit only ever switches to keys that sign and verify. */
async function load(
  options: KitOptions,
  jwks: string | undefined,
  now: Date,
  strict: boolean,
  read?: Vars,
): Promise<Loaded> {
  const vars = read ?? pickJwtVars(await readVars(options));
  const ring = parseKeyRing(vars, { algorithm: options.algorithm, jwks });
  await selfTest(ring, now, strict);
  return { ring, digest: digestOf(vars, jwks), jwks };
}

function readVars(options: KitOptions): Promise<Vars> {
  if (options.read !== undefined) return options.read();
  if (options.secretDir !== undefined) return readSecretDir(options.secretDir);
  return Promise.resolve(options.env ?? process.env);
}

async function readJwks(options: KitOptions): Promise<string | undefined> {
  if (options.jwksFile !== undefined) return readFile(options.jwksFile, 'utf8');
  if (options.jwksUrl === undefined) return undefined;
  const response = await fetch(options.jwksUrl, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) throw new Error(`JWKS URL answered ${response.status}`);
  return response.text();
}

/**
 * One file per Secret key, as kubelet mounts it (read through the mount directory, whose `..data` symlink
 * kubelet swaps, so each read sees one version). Contents are used as they are: Kubernetes adds no newline.
 */
export async function readSecretDir(dir: string): Promise<Vars> {
  const vars: Record<string, string> = {};
  for (const name of JWT_VAR_NAMES) {
    try {
      vars[name] = await readFile(join(dir, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return vars;
}

function pickJwtVars(vars: Vars): Vars {
  return Object.fromEntries(JWT_VAR_NAMES.map((name) => [name, vars[name]]));
}

/** Compares versions without keeping a second copy of the keys around. */
function digestOf(vars: Vars, jwks: string | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify([vars, jwks ?? null]))
    .digest('hex');
}
