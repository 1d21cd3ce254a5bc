/**
 * Runs the operator as its own process, compiled as it ships (test/support/test-build.ts), through
 * the tests' entry point (test/support/operator-entry.ts: the shipped composition root plus the test
 * clock and fault switches), so tests can kill it at any moment and start it again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { clusterDir, repoRoot, waitFor } from './cluster.ts';
import { leakScan } from './leak-scan.ts';
import { registerTeardown } from './teardown.ts';
import { operatorCommand } from './test-build.ts';
import { testShardSelector } from './test-shard.ts';

export interface OperatorProcess {
  /** The operator's /metrics and /healthz port. */
  port: number;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  /** Everything it printed, for assertions that no key material leaked. */
  output(): string;
  /** Stops it: SIGTERM (graceful) or SIGKILL (a crash). */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Resolves with the exit code when the process has exited. */
  exited(): Promise<number | null>;
  /** Reads a metric's value from /metrics (sum over series matching the labels). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /**
   * Waits until the operator has finished a pass over JwtRotation namespace/name that read
   * `resourceVersion` or a later one (optionally, one that wrote nothing), and returns its log
   * line. This is how a test knows the operator has seen a change, instead of sleeping.
   */
  lookedAt(namespace: string, name: string, resourceVersion: string, opts?: LookOptions): Promise<Pass>;
}

export interface LookOptions {
  /** Only a pass that wrote nothing (no Secret, workload or status write) counts. */
  wroteNothing?: boolean;
  timeoutMs?: number;
}

/** The operator's "pass done" debug line. */
export interface Pass {
  resourceVersion: string;
  phase: string;
  wrote: boolean;
}

export async function startOperatorProcess(options: {
  kubeconfigPath: string;
  namespace?: string;
  env?: Record<string, string>;
  /**
   * 'started' (default): wait until it watches; 'up': until it serves HTTP, e.g. as a follower waiting
   * for the Lease; 'spawned': not at all (a process with a fault switch may exit before it says so).
   */
  waitUntil?: 'started' | 'up' | 'spawned';
}): Promise<OperatorProcess> {
  const child: ChildProcess = spawn(process.execPath, operatorCommand(), {
    cwd: repoRoot,
    env: {
      ...process.env,
      KUBECONFIG: options.kubeconfigPath,
      WATCH_NAMESPACE: options.namespace ?? '',
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'debug',
      RETRY_BASE_MS: '200',
      RETRY_MAX_MS: '2000',
      // A test run leaves earlier suites' JwtRotations behind (namespaces go at the end of the run), and
      // an operator watching all namespaces looks at them too; the client-side rate limit is not what
      // these tests are about (test/unit covers the token bucket), so it must not slow them down.
      KUBE_API_QPS: '1000',
      KUBE_API_BURST: '1000',
      KUBE_API_EVENT_QPS: '1000',
      KUBE_API_EVENT_BURST: '1000',
      // Only this test process's JwtRotations (./test-shard.ts): other files run side by side.
      SHARD_SELECTOR: testShardSelector(),
      // Tests run Prometheus and receivers as host processes on loopback, over http (issue 25).
      OUTBOUND_HOSTS: '*.svc,*.svc.cluster.local,127.0.0.1',
      NOTIFICATIONS_ALLOW_HTTP: 'true',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const logs: Record<string, unknown>[] = [];
  let buffered = '';
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
      keepOutput(child.pid, text, code, signal);
      resolve(code);
    }),
  );
  let metricsPage = '';
  let port: number | undefined = undefined;
  leakScan.addOutput(`operator process ${String(child.pid)} output`, () => text);
  leakScan.addOutput(`operator process ${String(child.pid)} /metrics`, () => metricsPage);
  const stop = async (signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> => {
    if (!exited && port !== undefined) {
      // The last /metrics page goes to the leak scan.
      metricsPage = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) })
        .then((r) => r.text())
        .catch(() => metricsPage);
    }
    if (!exited) child.kill(signal);
    await exit;
  };
  const lookedAt: OperatorProcess['lookedAt'] = async (namespace, name, resourceVersion, opts = {}) => {
    // resourceVersions are opaque to clients, but the API server's come from etcd revisions,
    // which only grow; a test may compare them.
    const wanted = BigInt(resourceVersion);
    const line = await waitFor(
      `the operator to finish a pass over ${namespace}/${name} at resourceVersion >= ${resourceVersion}${
        opts.wroteNothing ? ' that wrote nothing' : ''
      }`,
      () =>
        Promise.resolve(
          logs.find(
            (l) =>
              l.message === 'pass done' &&
              l.namespace === namespace &&
              l.name === name &&
              typeof l.resourceVersion === 'string' &&
              BigInt(l.resourceVersion) >= wanted &&
              (!opts.wroteNothing || l.wrote === false),
          ),
        ),
      { timeoutMs: opts.timeoutMs ?? 30_000, intervalMs: 100 },
    );
    return {
      resourceVersion: String(line.resourceVersion),
      phase: String(line.phase),
      wrote: line.wrote === true,
    };
  };
  if (options.waitUntil === 'spawned') {
    return {
      port: 0,
      logs,
      output: () => text,
      stop,
      exited: () => exit,
      lookedAt,
      metric: () => Promise.reject(new Error('metric() needs waitUntil started or up')),
    };
  }
  registerTeardown('operator process', () => stop('SIGKILL'));

  const awaited =
    options.waitUntil === 'up' ? ['operator started', 'waiting for the lease'] : ['operator started'];
  const started = await waitFor(
    'the operator to start',
    () => {
      if (exited) throw new Error(`the operator exited:\n${text.slice(-2000)}`);
      return Promise.resolve(logs.find((l) => awaited.includes(String(l.message))));
    },
    // Start-up takes seconds, and much longer on a loaded 2-core machine (or with OPERATOR_RUNTIME=tsx).
    { timeoutMs: 120_000, intervalMs: 100 },
  );
  const httpPort = Number(started.httpPort);
  port = httpPort;

  return {
    port: httpPort,
    logs,
    output: () => text,
    stop,
    lookedAt,
    exited: () => exit,
    async metric(name, labels = {}) {
      const body = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      let sum = 0;
      for (const line of body.split('\n')) {
        if (!line.startsWith(name)) continue;
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
        if (match?.[1] !== name) continue;
        const set = match[2] ?? '';
        if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(match[3]);
      }
      return sum;
    },
  };
}

/**
 * Each operator process's output, kept in the cluster's log directory once it exits, so that a failed
 * run (CI copies .cluster/logs) shows what the operator did and not only what the test saw. The output
 * holds fingerprints, never keys: the suites assert it.
 */
function keepOutput(
  pid: number | undefined,
  text: string,
  code: number | null,
  signal: NodeJS.Signals | null,
): void {
  try {
    const dir = path.join(clusterDir, 'logs', 'operators');
    mkdirSync(dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const ending = `\n# exited with ${code === null ? `signal ${String(signal)}` : `code ${String(code)}`}\n`;
    writeFileSync(path.join(dir, `operator-${stamp}-${String(pid)}.log`), text + ending);
  } catch {
    // Keeping the log is a courtesy to a reader; a failure to write it must not fail a test.
  }
}
