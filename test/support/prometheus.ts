/**
 * A throwaway Prometheus for tests: Debian's /usr/bin/prometheus with a temp config and storage, on a free
 * loopback port. Each call starts its own server; nothing is shared between tests.
 */
import { Agent, fetch as undiciFetch } from 'undici';
import type { TestPki } from './tls.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { stringify } from 'yaml';

export const PROMETHEUS_BINARY = process.env.PROMETHEUS_BINARY ?? '/usr/bin/prometheus';

/**
 * Pods found through the API server. Debian's prometheus (2.42) is built without kubernetes_sd_configs
 * ("field kubernetes_sd_configs not found"), so the test does the discovery: `list` reads the pods from
 * the API server, and their targets go to a file_sd file that Prometheus watches, refreshed every second.
 */
export interface PodDiscovery {
  list(): Promise<{ target: string; labels: Record<string, string> }[]>;
}

export interface StartPrometheusOptions {
  /** host:port of each /metrics endpoint to scrape, all under job "consumer". */
  scrapeTargets?: string[];
  /** Or (also) pods discovered through the API server, under job "consumer". */
  pods?: PodDiscovery;
  /** Address to listen on (default 127.0.0.1); pods reach the host on the bridge address. */
  listenHost?: string;
  /** Default 1 s: short enough that a 30s rate() window fills within a test. */
  scrapeIntervalSeconds?: number;
  /** How long to wait for /-/ready. Default 30 s. */
  readyTimeoutMs?: number;
  /** Serve HTTPS with this certificate (Prometheus's --web.config.file tls_server_config). */
  tls?: TestPki | undefined;
}

export interface RunningPrometheus {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  /** Stops the server and deletes its data. Safe to call twice. */
  stop(): Promise<void>;
  /** Stops the server and starts it again on the same port with the same data (a Prometheus restart). */
  restart(): Promise<void>;
  /** Stops the server but keeps config and data, so `restart` can bring it back (a Prometheus outage). */
  kill(): Promise<void>;
}

export async function startPrometheus(options: StartPrometheusOptions): Promise<RunningPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), 'prometheus-test-'));
  const interval = `${options.scrapeIntervalSeconds ?? 1}s`;
  const configFile = join(dir, 'prometheus.yml');
  const dataDir = join(dir, 'data');
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  await writeFile(
    configFile,
    stringify({
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      scrape_configs: [
        ...(options.scrapeTargets === undefined
          ? []
          : [{ job_name: 'consumer', static_configs: [{ targets: options.scrapeTargets }] }]),
        ...(options.pods === undefined
          ? []
          : [
              {
                job_name: 'consumer',
                file_sd_configs: [{ files: [join(dir, 'pods.json')], refresh_interval: '1s' }],
              },
            ]),
      ],
    }),
  );
  const host = options.listenHost ?? '127.0.0.1';
  let webConfigFile: string | undefined;
  if (options.tls !== undefined) {
    webConfigFile = join(dir, 'web.yml');
    await writeFile(
      webConfigFile,
      stringify({ tls_server_config: { cert_file: options.tls.certFile, key_file: options.tls.keyFile } }),
    );
  }
  const scheme = options.tls === undefined ? 'http' : 'https';
  const ca = options.tls?.caPem;
  let discovery: NodeJS.Timeout | undefined;
  if (options.pods !== undefined) {
    const pods = options.pods;
    const file = join(dir, 'pods.json');
    const refresh = async (): Promise<void> => {
      const found = await pods.list().catch(() => undefined);
      if (found === undefined) return;
      const groups = found.map((p) => ({ targets: [p.target], labels: p.labels }));
      await writeFile(`${file}.tmp`, JSON.stringify(groups));
      await rename(`${file}.tmp`, file);
    };
    await refresh();
    discovery = setInterval(() => void refresh(), 1000);
  }

  // The port is free when we pick it but could be taken before Prometheus binds: pick again a few times.
  let port = 0;
  let child: ChildProcess | undefined;
  const launch = (): Promise<ChildProcess> =>
    launchPrometheus({ configFile, dataDir, host, port, timeoutMs, webConfigFile, scheme, ca });
  for (let attempt = 1; child === undefined; attempt++) {
    port = await freePort();
    try {
      child = await launch();
    } catch (error) {
      if (attempt < 3 && String(error).includes('address already in use')) continue;
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }
  const url = `${scheme}://${host}:${port}`;

  const kill = async (): Promise<void> => {
    if (child !== undefined) await terminate(child);
    child = undefined;
  };
  return {
    url,
    kill,
    async restart() {
      await kill();
      child = await launch();
    },
    async stop() {
      clearInterval(discovery);
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Polls an instant query until `accept` holds for its value (undefined = no sample); bounded by timeoutMs. */
export async function waitForQuery(
  url: string,
  promql: string,
  accept: (value: number | undefined) => boolean,
  timeoutMs = 30_000,
): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  while (Date.now() < deadline) {
    const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`);
    const body = (await response.json()) as { data?: { result?: { value?: [number, string] }[] } };
    const sample = body.data?.result?.[0]?.value?.[1];
    last = sample === undefined ? undefined : Number(sample);
    if (accept(last)) return last;
    await sleep(250);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting on ${promql} (last value: ${String(last)})`);
}

interface LaunchOptions {
  configFile: string;
  dataDir: string;
  host: string;
  port: number;
  timeoutMs: number;
  webConfigFile?: string | undefined;
  scheme: 'http' | 'https';
  /** The CA that signed an HTTPS Prometheus's certificate, to check readiness. */
  ca?: string | undefined;
}

async function launchPrometheus(o: LaunchOptions): Promise<ChildProcess> {
  const child = spawn(
    PROMETHEUS_BINARY,
    [
      `--config.file=${o.configFile}`,
      `--storage.tsdb.path=${o.dataDir}`,
      `--web.listen-address=${o.host}:${o.port}`,
      '--log.level=warn',
      ...(o.webConfigFile === undefined ? [] : [`--web.config.file=${o.webConfigFile}`]),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const url = `${o.scheme}://${o.host}:${o.port}`;
  // A test that dies without stop() must not leave Prometheus running.
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));

  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const state = { exited: false };
  child.once('exit', () => {
    state.exited = true;
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => undefined);

  const deadline = Date.now() + o.timeoutMs;
  while (Date.now() < deadline && !state.exited) {
    const ready = await Promise.race([isReady(url, o.ca), spawnError]);
    if (ready) return child;
    await sleep(100);
  }
  await terminate(child);
  throw new Error(
    `Prometheus on ${url} ${state.exited ? 'exited' : 'was not ready'} (${PROMETHEUS_BINARY}): ${stderr.trim() || 'no output'}`,
  );
}

async function isReady(url: string, ca: string | undefined): Promise<boolean> {
  try {
    const response =
      ca === undefined
        ? await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })
        : await undiciFetch(`${url}/-/ready`, {
            signal: AbortSignal.timeout(1000),
            dispatcher: new Agent({ connect: { ca } }),
          });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL if it has not exited within 5 s. */
export async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
  });
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    child.kill('SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/** A port the OS just handed out; another process could take it before we bind, which is rare enough for tests. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}
