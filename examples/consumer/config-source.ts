/**
 * Where the JWT variables come from, and how changes reach a running replica:
 * - process environment: read once; a change arrives with the rollout that restarts the pod;
 * - `--secret-dir`: a mounted Secret volume (one file per key), polled, so kubelet's updates apply in place;
 * - `--env-file`: KEY=VALUE lines, polled; lets tests simulate a rollout without Kubernetes.
 * A bad update (missing key, malformed duration) is logged and ignored: the replica keeps its last good keys
 * rather than dropping them.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { JWT_VAR_NAMES, describeConfig, parseJwtConfig, type JwtConfig, type Vars } from './config.ts';
import type { Logger } from './log.ts';
import { selfTest } from './tokens.ts';

export interface ConfigSource {
  /** The latest good config. */
  readonly config: JwtConfig;
  close(): void;
}

export async function staticSource(vars: Vars, log: Logger): Promise<ConfigSource> {
  const config = await loadConfig(pickJwtVars(vars), true);
  announce(config, 'keys loaded', log);
  return { config, close: () => undefined };
}

export interface PollingOptions {
  /** What is polled, for log lines (a path, never content). */
  origin: string;
  intervalMs: number;
  log: Logger;
}

/** Loads once (throwing if that fails, so a replica never starts without keys), then polls for changes. */
export async function pollingSource(
  read: () => Promise<Vars>,
  options: PollingOptions,
): Promise<ConfigSource> {
  const { origin, log } = options;
  let vars = pickJwtVars(await read());
  let config = await loadConfig(vars, true);
  let digest = digestOf(vars);
  let lastProblem: string | undefined;
  announce(config, 'keys loaded', log, { origin });

  const poll = async (): Promise<void> => {
    try {
      vars = pickJwtVars(await read());
      const next = digestOf(vars);
      if (next === digest) return;
      config = await loadConfig(vars, false);
      digest = next;
      lastProblem = undefined;
      announce(config, 'keys reloaded', log, { origin });
    } catch (error) {
      // Once per distinct problem: a file being rewritten can fail for several polls in a row.
      const problem = error instanceof Error ? error.message : String(error);
      if (problem !== lastProblem)
        log('error', 'keys not reloaded; keeping the previous ones', { origin, problem });
      lastProblem = problem;
    }
  };
  let polling = false;
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    void poll().finally(() => {
      polling = false;
    });
  }, options.intervalMs);
  timer.unref();

  return {
    get config() {
      return config;
    },
    close: () => {
      clearInterval(timer);
    },
  };
}

/**
 * KEY=VALUE per line; blank lines and `#` comments are skipped, `export ` is allowed. The value is everything
 * after the first `=`, untrimmed (a key is its exact text), without quotes processing.
 */
export async function readEnvFile(path: string): Promise<Vars> {
  const vars: Record<string, string> = {};
  for (const rawLine of (await readFile(path, 'utf8')).split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    vars[
      line
        .slice(0, eq)
        .replace(/^\s*export\s+/, '')
        .trim()
    ] = line.slice(eq + 1);
  }
  return vars;
}

/**
 * One file per Secret key, as kubelet mounts it (through the `..data` symlink, so a read sees one whole
 * version). File contents are used as is: Kubernetes adds no newline.
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

/**
 * Parses and self-tests the keys, so a replica only ever switches to keys that sign and verify. `strict` (the
 * first load) also requires every private key held to verify through the JWKS (asymmetric mode).
 */
async function loadConfig(vars: Vars, strict: boolean): Promise<JwtConfig> {
  const config = parseJwtConfig(vars);
  await selfTest(config, new Date(), strict);
  return config;
}

function pickJwtVars(vars: Vars): Vars {
  return Object.fromEntries(JWT_VAR_NAMES.map((name) => [name, vars[name]]));
}

/** Compares versions without keeping a second copy of the keys around. */
function digestOf(vars: Vars): string {
  return createHash('sha256').update(JSON.stringify(vars)).digest('hex');
}

function announce(config: JwtConfig, msg: string, log: Logger, fields: Record<string, unknown> = {}): void {
  log('info', msg, { ...fields, ...describeConfig(config) });
  for (const warning of config.warnings) log('warn', warning, fields);
}
