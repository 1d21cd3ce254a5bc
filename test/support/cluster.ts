/**
 * Access to the local Kubernetes control plane (tools/cluster/up.sh) for integration tests.
 *
 *   const cluster = await useCluster();          // in a before() hook with this.timeout(40 * 60_000): a cold cache builds first
 *   const ns = await cluster.newNamespace('rotation');
 *   const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
 *
 * The control plane is started at most once per test run, and only if a test asks for it. If it
 * was already running (e.g. `npm run cluster:up` beforehand) it is reused and left running;
 * otherwise the run stops it at the end (`tools/cluster/down.sh`) unless KEEP_CLUSTER=1.
 * Several test runs may share one cluster (the tree is shared): each registers itself in
 * .cluster/users/<pid>, and a cluster started by a test run is stopped by the last run using it.
 * Namespaces from newNamespace() are deleted at the end of the run (without waiting).
 *
 * CLUSTER_VERBOSE=1 streams up.sh/down.sh progress (e.g. a cold build) to stderr.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as k8s from '@kubernetes/client-node';

import { leakScan } from './leak-scan.ts';
import { registerTeardown } from './teardown.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** .cluster in the repo root, or $CLUSTER_DIR (which tools/cluster/*.sh honour too). */
export const clusterDir = path.resolve(repoRoot, process.env.CLUSTER_DIR ?? '.cluster');

/** Name of the single fake (kwok) Node; Pods schedule onto it and kwok makes them Running/Ready. */
export const kwokNodeName = 'kwok-node-0';

/**
 * The kwok node's taint (tools/cluster/kwok-node.yaml): a Pod that asks for nothing lands on the real
 * node instead, as a user's would.
 */
export const kwokTaint = { key: 'jwtrotation.io/kwok', value: 'true', effect: 'NoSchedule' } as const;

/**
 * Pod-spec fields that put a Pod on the kwok node: spread into a pod template's spec
 * (`spec: { ...onKwok, containers: [...] }`). kwok runs no container, so the image is never pulled.
 */
export const onKwok = {
  nodeSelector: { 'kubernetes.io/hostname': kwokNodeName },
  tolerations: [{ ...kwokTaint, operator: 'Equal' }],
};

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. a manifest for `apply -f -`). */
  input?: string;
  /** Adds `--namespace <namespace>`. */
  namespace?: string;
}

export interface TestCluster {
  /** Absolute path of the admin kubeconfig (.cluster/kubeconfig, O=system:masters). */
  kubeconfigPath: string;
  /** Loaded from kubeconfigPath. */
  kubeConfig: k8s.KubeConfig;
  /** .cluster/bin/kubectl (same version as the control plane). */
  kubectlPath: string;
  /** Runs kubectl against the cluster. Resolves with the exit code; never throws on a non-zero exit. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** Creates `${prefix}-${random}` (deleted at the end of the run) once its default ServiceAccount exists. */
  newNamespace(prefix?: string): Promise<string>;
}

export interface WaitOptions {
  /** Default 60 000. */
  timeoutMs?: number;
  /** Default 250. */
  intervalMs?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function summarize(value: unknown): string {
  if (value instanceof Error) return value.message;
  try {
    const json = JSON.stringify(value);
    return json.length > 500 ? `${json.slice(0, 500)}...` : json;
  } catch {
    return String(value);
  }
}

/**
 * Calls `fn` every `intervalMs` until it returns a truthy value, which is returned. Errors thrown by
 * `fn` count as "not yet". On timeout, throws an Error naming `what` and the last error or value;
 * an attempt still running at the deadline is abandoned.
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  opts: WaitOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt finished';
  for (let attempt = 1; ; attempt++) {
    const remaining = deadline - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((resolve) => {
      timer = setTimeout(
        () => {
          resolve('expired');
        },
        Math.max(remaining, 0),
      );
    });
    try {
      const result = await Promise.race([fn(), expired]);
      if (result === 'expired') {
        last = `attempt ${attempt} still running at the deadline`;
      } else if (result) {
        return result;
      } else {
        last = `last value: ${summarize(result)}`;
      }
    } catch (err) {
      last = `last error: ${summarize(err)}`;
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() + intervalMs > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${attempt} attempts; ${last})`);
    }
    await sleep(intervalMs);
  }
}

interface ScriptResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Written to the command's stdin, which is then closed. */
  stdin?: string | undefined;
  /** Copy the command's stderr to ours as it arrives. */
  stream?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Runs a command to completion, capturing its output. Rejects only if it cannot be started. */
function run(command: string, args: string[], opts: RunOptions = {}): Promise<ScriptResult> {
  const { stdin, stream = false, env = process.env } = opts;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      err.push(chunk);
      if (stream) process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal === null ? -1 : 128),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => undefined); // the command may exit without reading stdin
    child.stdin.end(stdin ?? '');
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

const verbose = process.env.CLUSTER_VERBOSE === '1';
const usersDir = path.join(clusterDir, 'users');
const userFile = path.join(usersDir, String(process.pid));
const startedByTestsMarker = path.join(clusterDir, 'started-by-tests');

interface ClusterState {
  promise?: Promise<TestCluster> | undefined;
  released: boolean;
  namespaces: Set<string>;
}
// Kept on globalThis: mocha may load this file twice in one process (through require() and
// import()), and both copies must share one cluster.
const stateKey = Symbol.for('jwt-rotation-operator:test-cluster');
const state: ClusterState = ((globalThis as unknown as Record<symbol, ClusterState | undefined>)[stateKey] ??=
  {
    released: false,
    namespaces: new Set(),
  });

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Other test runs (pids) that registered as using the cluster and are still alive; drops stale entries. */
function otherUsers(): number[] {
  if (!existsSync(usersDir)) return [];
  return readdirSync(usersDir).flatMap((entry) => {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) return [];
    if (pidAlive(pid)) return [pid];
    rmSync(path.join(usersDir, entry), { force: true });
    return [];
  });
}

/**
 * The shared test cluster. The first call runs tools/cluster/up.sh (which reuses a running
 * cluster, builds binaries on a cold cache, and otherwise starts one in ~7 s); later calls return
 * the same object. A failed start is remembered, so every suite fails fast with the same error.
 */
export function useCluster(): Promise<TestCluster> {
  state.promise ??= startCluster();
  return state.promise;
}

async function startCluster(): Promise<TestCluster> {
  const started = Date.now();
  // Register as a user before up.sh, so that a run finishing meanwhile does not stop the cluster
  // under us. Registered first, so it runs last (teardowns run newest first).
  mkdirSync(usersDir, { recursive: true });
  writeFileSync(userFile, `${new Date().toISOString()} ${process.argv.join(' ')}\n`);
  registerTeardown('stop the local control plane', stopClusterIfStarted);
  const up = await run('bash', [path.join(repoRoot, 'tools/cluster/up.sh')], {
    stream: verbose,
    env: { ...process.env, CLUSTER_UP_BY_TESTS: '1' },
  });
  if (up.code !== 0) {
    throw new Error(`tools/cluster/up.sh failed (exit ${up.code}):\n${tail(up.stderr, 60)}`);
  }
  const [status, url] = up.stdout.trim().split('\n').at(-1)?.split(' ') ?? [];
  if ((status !== 'started' && status !== 'reused') || url === undefined) {
    throw new Error(`unexpected output from tools/cluster/up.sh: ${JSON.stringify(up.stdout)}`);
  }
  registerTeardown('delete test namespaces', deleteTestNamespaces);
  console.error(`[cluster] ${status} ${url} in ${((Date.now() - started) / 1000).toFixed(1)}s`);

  const kubeconfigPath = path.join(clusterDir, 'kubeconfig');
  const kubectlPath = path.join(clusterDir, 'bin', 'kubectl');
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  // Registered after "delete test namespaces", so it runs before it: the Events are still there.
  await leakScan.watch(kubeConfig);
  registerTeardown('leak scan', () => leakScan.check(kubeConfig));

  const kubectl = (args: string[], opts: KubectlOptions = {}): Promise<KubectlResult> => {
    const ns = opts.namespace === undefined ? [] : ['--namespace', opts.namespace];
    return run(kubectlPath, ['--kubeconfig', kubeconfigPath, ...ns, ...args], { stdin: opts.input });
  };

  const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
  const newNamespace = async (prefix = 'test'): Promise<string> => {
    const base = prefix
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 50);
    const name = `${base || 'test'}-${randomBytes(3).toString('hex')}`;
    await core.createNamespace({
      body: { metadata: { name, labels: { 'app.kubernetes.io/managed-by': 'jwtr-tests' } } },
    });
    state.namespaces.add(name);
    // Pods are rejected by ServiceAccount admission until the controller has created "default".
    await waitFor(`ServiceAccount ${name}/default`, () =>
      core.readNamespacedServiceAccount({ name: 'default', namespace: name }),
    );
    return name;
  };

  return { kubeconfigPath, kubeConfig, kubectlPath, kubectl, newNamespace };
}

/** Deletes the namespaces made by newNamespace() without waiting for their finalization. */
export async function deleteTestNamespaces(): Promise<void> {
  if (state.namespaces.size === 0 || state.promise === undefined || state.released) return;
  const cluster = await state.promise;
  const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const names = [...state.namespaces];
  state.namespaces.clear();
  const results = await Promise.allSettled(names.map((name) => core.deleteNamespace({ name })));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected' && !(r.reason instanceof k8s.ApiException && r.reason.code === 404)
      ? [`${names[i] ?? '?'}: ${summarize(r.reason)}`]
      : [],
  );
  if (failed.length > 0) throw new Error(`could not delete namespaces: ${failed.join('; ')}`);
}

/**
 * Ends this test process's use of the cluster. Stops the control plane (tools/cluster/down.sh) if a
 * test run started it, no other process is still using it (another test run, the parallel runner
 * tools/test/run.ts, or another of its workers), and KEEP_CLUSTER is not 1. A cluster that was
 * started by hand (npm run cluster:up) is left running.
 *
 * Afterwards the next useCluster() in this process starts over (finds the cluster again, registers
 * again): under `mocha --parallel` a worker process runs several files, one after another, and ends
 * its use after each.
 */
/** Whether this process should stop the cluster now (and if not, why not, on stderr). */
function stoppingIsOurs(): boolean {
  if (!existsSync(startedByTestsMarker)) return false;
  if (process.env.KEEP_CLUSTER === '1') {
    console.error(
      '[cluster] KEEP_CLUSTER=1: leaving the control plane running (npm run cluster:down stops it)',
    );
    return false;
  }
  const others = otherUsers();
  if (others.length === 0) return true;
  // Under the parallel runner, the runner is always among the others, and it stops the cluster.
  if (process.env.JWTR_TEST_RUNNER === undefined)
    console.error(`[cluster] still used by test run(s) ${others.join(', ')}; the last one stops it`);
  return false;
}

export async function stopClusterIfStarted(): Promise<void> {
  if (state.released || state.promise === undefined) return;
  state.released = true;
  rmSync(userFile, { force: true });
  if (!stoppingIsOurs()) {
    state.promise = undefined;
    state.released = false;
    return;
  }
  const down = await run('bash', [path.join(repoRoot, 'tools/cluster/down.sh')], { stream: verbose });
  if (down.code !== 0) {
    throw new Error(`tools/cluster/down.sh failed (exit ${down.code}):\n${tail(down.stderr, 30)}`);
  }
}
