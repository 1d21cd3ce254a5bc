/**
 * The issuer server (src/issuer/main.ts) as its own process, compiled as it ships
 * (test/support/test-build.ts), on loopback ports picked by the OS; and an HTTPS client that asks it
 * for an issuer's documents the way a verifier would, with the issuer's host name as SNI and Host
 * but connecting to 127.0.0.1 (as `curl --resolve` does: no DNS lookup).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { clusterDir, repoRoot, waitFor } from './cluster.ts';
import { leakScan } from './leak-scan.ts';
import { registerTeardown } from './teardown.ts';
import { issuerCommand } from './test-build.ts';

export interface IssuerProcess {
  pid: number | undefined;
  httpsPort: number;
  healthPort: number;
  logs: Record<string, unknown>[];
  output(): string;
  /** SIGTERM (graceful: deletes its Lease) or SIGKILL. Resolves with the exit code. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<number | null>;
  /** Whether the process is still running (it was not restarted). */
  running(): boolean;
  /** A metric's value from /metrics (sum over the series whose labels include these). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** GET /readyz: its HTTP status. */
  readyz(): Promise<number>;
}

export async function startIssuerProcess(options: {
  kubeconfigPath: string;
  /** WATCH_NAMESPACES. */
  namespaces: string[];
  /** POD_NAME and POD_NAMESPACE. */
  replica: string;
  namespace: string;
  tlsDir: string;
  env?: Record<string, string>;
}): Promise<IssuerProcess> {
  const child: ChildProcess = spawn(process.execPath, issuerCommand(), {
    cwd: repoRoot,
    env: {
      ...process.env,
      KUBECONFIG: options.kubeconfigPath,
      WATCH_NAMESPACES: options.namespaces.join(','),
      WATCH_NAMESPACE: '',
      POD_NAME: options.replica,
      POD_NAMESPACE: options.namespace,
      TLS_DIR: options.tlsDir,
      TLS_RELOAD_MS: '500',
      HTTPS_HOST: '127.0.0.1',
      HTTPS_PORT: '0',
      HEALTH_HOST: '127.0.0.1',
      HEALTH_PORT: '0',
      LOG_LEVEL: 'debug',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  let buffered = '';
  const logs: Record<string, unknown>[] = [];
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  let exited = false;
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = true;
      keepOutput(options.replica, text, code, signal);
      resolve(code);
    }),
  );
  leakScan.addOutput(`issuer process ${String(child.pid)} output`, () => text);
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<number | null> => {
    if (!exited) child.kill(signal);
    return exit;
  };
  registerTeardown('issuer process', async () => {
    await stop('SIGKILL');
  });
  const started = await waitFor(
    `the issuer server ${options.replica} to start`,
    () => {
      if (exited) throw new Error(`the issuer server exited:\n${text.slice(-2000)}`);
      return Promise.resolve(logs.find((l) => l.message === 'issuer started'));
    },
    { timeoutMs: 120_000, intervalMs: 100 },
  );
  const healthPort = Number(started.healthPort);
  const health = (p: string): Promise<Response> =>
    fetch(`http://127.0.0.1:${healthPort}${p}`, { signal: AbortSignal.timeout(5_000) });
  return {
    pid: child.pid,
    httpsPort: Number(started.httpsPort),
    healthPort,
    logs,
    output: () => text,
    stop,
    running: () => !exited,
    async readyz() {
      return (await health('/readyz')).status;
    },
    async metric(name, labels = {}) {
      const body = await (await health('/metrics')).text();
      let sum = 0;
      for (const line of body.split('\n')) {
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
        if (match?.[1] !== name) continue;
        const set = match[2] ?? '';
        if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(match[3]);
      }
      return sum;
    },
  };
}

export interface IssuerResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** SHA-256 fingerprint of the certificate the server presented. */
  certificate: string;
}

/**
 * One request over a new TLS connection (no keep-alive: each call sees the certificate in use now),
 * to `url`'s host as SNI and Host, sent to 127.0.0.1:`port`.
 */
export function issuerRequest(
  port: number,
  url: string,
  options: { ca: string; method?: string; headers?: Record<string, string> },
): Promise<IssuerResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: `${target.pathname}${target.search}`,
        servername: target.hostname,
        ca: options.ca,
        agent: false,
        headers: { Host: target.host, 'User-Agent': 'jwtr-test/1.0 (issuer)', ...options.headers },
        timeout: 10_000,
      },
      (res) => {
        const certificate = (res.socket as TLSSocket).getPeerX509Certificate()?.fingerprint256 ?? '';
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            certificate,
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}

function keepOutput(replica: string, text: string, code: number | null, signal: NodeJS.Signals | null): void {
  try {
    const dir = path.join(clusterDir, 'logs', 'issuers');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const ending = `\n# exited with ${code === null ? `signal ${String(signal)}` : `code ${String(code)}`}\n`;
    writeFileSync(path.join(dir, `issuer-${replica}-${stamp}.log`), text + ending);
  } catch {
    // A courtesy to a reader of a failed run; never a test failure.
  }
}
