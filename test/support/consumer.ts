/**
 * Runs the reference consumer (examples/consumer/main.ts) as a child process, the way a pod runs it: its own
 * process, keys from the environment or from a hot-reloaded env file.
 */
import { spawn } from 'node:child_process';
import { rename, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

import { terminate } from './prometheus.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONSUMER_MAIN = fileURLToPath(new URL('../../examples/consumer/main.ts', import.meta.url));

export interface StartConsumerOptions {
  /** Extra environment (JWT_* keys, ENABLE_DEBUG, FAIL_VALIDATIONS...). PORT defaults to 0, HOST to 127.0.0.1. */
  env?: Record<string, string>;
  /** Path given as --env-file: the consumer polls it every RELOAD_INTERVAL_MS (default 1 s). */
  envFile?: string;
  /** Path given as --secret-dir. */
  secretDir?: string;
  /** How long to wait for the "listening" line. Default 30 s. */
  startTimeoutMs?: number;
}

export interface RunningConsumer {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  port: number;
  /** host:port, as a Prometheus scrape target. */
  target: string;
  /** Every JSON log line so far, parsed. */
  logs: Record<string, unknown>[];
  stop(): Promise<void>;
}

export async function startConsumer(options: StartConsumerOptions = {}): Promise<RunningConsumer> {
  const args = ['--import', 'tsx', CONSUMER_MAIN];
  if (options.envFile !== undefined) args.push('--env-file', options.envFile);
  if (options.secretDir !== undefined) args.push('--secret-dir', options.secretDir);
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...inheritedEnv(), PORT: '0', HOST: '127.0.0.1', SHUTDOWN_DELAY_SECONDS: '0', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  // A test that dies without stop() must not leave the consumer running.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));

  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new Error(
          `consumer did not log "listening" within ${options.startTimeoutMs ?? 30_000} ms: ${stderr}`,
        ),
      );
    }, options.startTimeoutMs ?? 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`consumer exited with ${String(code)}: ${JSON.stringify(logs.slice(-3))} ${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const entry = parseLine(line);
      logs.push(entry);
      if (entry.msg === 'listening' && typeof entry.port === 'number') {
        clearTimeout(timer);
        resolve(entry.port);
      }
    });
  }).catch(async (error: unknown) => {
    await terminate(child);
    throw error;
  });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    target: `127.0.0.1:${port}`,
    logs,
    stop: () => terminate(child),
  };
}

/** Writes KEY=VALUE lines for --env-file; writing a new version simulates a rollout. */
export async function writeEnvFile(path: string, vars: Record<string, string>): Promise<void> {
  const text = Object.entries(vars)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  // Write then rename, so the consumer's poll never reads half a file.
  const partial = `${path}.${process.pid}.tmp`;
  await writeFile(partial, `${text}\n`);
  await rename(partial, path);
}

/** The test runner's environment, without JWT_* or failure switches that would leak into the consumer. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !name.startsWith('JWT_') && !name.startsWith('FAIL_') && name !== 'ENABLE_DEBUG' && name !== 'PORT',
    ),
  );
}

function parseLine(line: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null
      ? (parsed as Record<string, unknown>)
      : { msg: line };
  } catch {
    return { msg: line };
  }
}
