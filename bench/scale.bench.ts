/**
 * The operator at scale on the local control plane (kwok pods), as the image runs it
 * (`node dist/main.js`, with the Dockerfile's ENV). Prints a table and writes bench/results/<date>-N<n>.json and .md.
 * Reports figures; asserts nothing.
 *
 *   CLUSTER_REAL_NODE=0 CLUSTER_AUDIT=1 npm run cluster:up
 *   BENCH_N=100 npm run bench
 *
 * Settings: BENCH_N, BENCH_IDLE_MS (idle window, default 60 s), BENCH_QPS and BENCH_BURST (the
 * operator's KUBE_API_QPS/KUBE_API_BURST, default its own 20/30; 0 lifts the limit), BENCH_TIMEOUT_MS,
 * BENCH_LOG_LEVEL (the operator's log goes to <cluster>/logs/bench-operator.log), BENCH_ROTATION_WINDOW_MS
 * (watch the rotation for that long only; see below), BENCH_NODE_ARGS (the operator's node flags, e.g.
 * `--max-old-space-size=128`, as a memory-limited pod's NODE_OPTIONS would set them; split on spaces),
 * BENCH_NAMESPACES (issue 27: the N objects spread over that many namespaces, app-i in the (i mod K)-th;
 * the operator then watches every namespace, as a fleet's would; default 1), BENCH_BUDGET (the operator's
 * MAX_CONCURRENT_ROLLOUTS; default its own).
 *
 * Per N: N objects in one namespace (a Secret, a one-replica Deployment on the kwok node and a
 * JwtRotation each, zero-length gates). Measured:
 * - settling after creation (all Idle with a key), and after a rotation requested on all at once
 *   (all Idle with lastRotation Completed);
 * - the operator's peak RSS (VmHWM) and CPU seconds (utime + stime), from /proc;
 * - the operator's own requests, from the API server's audit log: the operator runs as the
 *   ServiceAccount deploy/operator.yaml creates, with its ClusterRole, and the cluster logs the
 *   requests of ServiceAccounts only (CLUSTER_AUDIT=1), so kwok's and the controllers' are apart;
 *   beside it, the API server's whole apiserver_request_total by verb and resource per window;
 * - an idle window once the operator has stopped writing (the pods coming up after creation are
 *   written into status first);
 * - requests per rotation against the design's minimum, counted by bench/minimum.ts;
 * - the operator's own time: per pass until its decision (jwtrotation_reconcile_decide_seconds),
 *   the wait for a worker, and the pass time without the client-side rate limit's waits;
 * - the floor: a minimal client doing one Secret update and one pod-template patch per target for N
 *   objects at once, timed until every Deployment's template is patched, without a limit and under
 *   the operator's client-side limit, beside the operator's time for the same step (request to
 *   every template patched).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { limitedClient, TokenBucket } from '../src/adapters/kubernetes/rate-limit.ts';
import { DEFAULT_KUBE_API_BURST, DEFAULT_KUBE_API_QPS } from '../src/config.ts';
import type { JwtRotationSpec } from '../src/api/types.ts';
import { PROGRESS_WRITE_INTERVAL_MS } from '../src/reconcile/reconciler.ts';
import { designMinimum } from './minimum.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const clusterDir = path.resolve(root, process.env.CLUSTER_DIR ?? '.cluster');
const kubeconfigPath = path.join(clusterDir, 'kubeconfig');
const N = Number(process.env.BENCH_N ?? '100');
const IDLE_WINDOW_MS = Number(process.env.BENCH_IDLE_MS ?? '60000');
/** KUBE_API_QPS and KUBE_API_BURST for the operator, and the same limit for the limited floor client. */
const QPS = process.env.BENCH_QPS;
const BURST = process.env.BENCH_BURST;
/** The operator's node flags (BENCH_NODE_ARGS), e.g. a heap cap. */
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
/**
 * The operator to run (BENCH_OPERATOR_MAIN): this tree's dist/main.js by default, or another build's,
 * e.g. of an earlier commit, for a before/after comparison on the same bench.
 */
const OPERATOR_MAIN = process.env.BENCH_OPERATOR_MAIN;
/** How many namespaces the N objects are spread over (BENCH_NAMESPACES). */
const NAMESPACES = Math.max(1, Number(process.env.BENCH_NAMESPACES ?? '1'));
/** The operator's rollout budget (BENCH_BUDGET); its own default when unset. */
const BUDGET = process.env.BENCH_BUDGET;
/** The label on every object of a run, so one list finds them across namespaces. */
const RUN_LABEL = 'bench.jwtrotation.io/run';
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? String(Math.max(300_000, N * 1_000)));
/**
 * For an N too big to rotate in the time at hand (5,000 at the default limit is about 80 minutes):
 * watch the rotation of all at once for this long only, sampling progress every 10 s, then stop;
 * no floor. Results go to `<date>-N<n>-window.*`.
 */
const ROTATION_WINDOW_MS =
  process.env.BENCH_ROTATION_WINDOW_MS === undefined
    ? undefined
    : Number(process.env.BENCH_ROTATION_WINDOW_MS);
/** How often the bench lists the N objects while it waits: listing 5,000 twice a second loads the API server. */
const POLL_MS = N > 1000 ? 5000 : 500;
/**
 * How often the bench lists while the operator rotates. At N=1,000 a list of the Deployments every 500 ms
 * took CPU from the API server and this 2-core machine (encoding and decoding 1,000 objects twice a
 * second) during the operator's step and not during the floor's, which the bench times without
 * listing. At 10,000, a list every 5 s kept the bench itself at up to 0.7 of a core. The step's
 * figure is read from the audit log; the polled ones are late by up to this.
 */
const ROTATION_POLL_MS = N > 1000 ? 30_000 : N >= 500 ? 5000 : POLL_MS;
/**
 * How often the bench reads the operator's JS heap from its /metrics while it rotates. Above 1,000
 * JwtRotations the page holds a series per JwtRotation: read every 2 s at 10,000, it was 5.6% of the
 * operator's CPU in a 30 s profile (prom-client's getMetricsAsString).
 */
const HEAP_SAMPLE_MS = N > 1000 ? 10_000 : 2000;
const GROUP = 'jwtrotation.io';
const VERSION = 'v1alpha1';
const PLURAL = 'jwtrotations';
const onKwok = {
  nodeSelector: { 'kubernetes.io/hostname': 'kwok-node-0' },
  tolerations: [{ key: 'jwtrotation.io/kwok', value: 'true', effect: 'NoSchedule', operator: 'Equal' }],
};

const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfigPath);
const core = kc.makeApiClient(k8s.CoreV1Api);
const apps = kc.makeApiClient(k8s.AppsV1Api);
const custom = kc.makeApiClient(k8s.CustomObjectsApi);
const rbac = kc.makeApiClient(k8s.RbacAuthorizationV1Api);
const auditLog = path.join(clusterDir, 'logs', 'audit.log');
const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);

type Counts = Record<string, number>;

async function apiserverCounts(): Promise<Counts> {
  const opts: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const server = kc.getCurrentCluster()?.server ?? '';
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get(`${server}/metrics`, opts, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => {
          resolve(text);
        });
      })
      .on('error', reject);
  });
  const out: Counts = {};
  for (const line of body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
    const resource = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const key = `${verb} ${resource}`;
    out[key] = (out[key] ?? 0) + value;
  }
  return out;
}

const RELEVANT = new Set([
  'jwtrotations',
  'secrets',
  'deployments',
  'pods',
  'events',
  'leases',
  'replicasets',
]);
function delta(before: Counts, after: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0 && RELEVANT.has(k.split(' ')[1] ?? '')) out[k] = d;
  }
  return out;
}
const sum = (c: Counts, filter: (k: string) => boolean = () => true): number =>
  Object.entries(c)
    .filter(([k]) => filter(k))
    .reduce((a, [, v]) => a + v, 0);

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

/** `fn` on every item, at most `size` at a time, the next starting as soon as one ends (no waves). */
async function inPool<T>(items: T[], size: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
}

async function waitUntil(
  what: string,
  fn: () => Promise<boolean>,
  timeoutMs = TIMEOUT_MS,
  pollMs = POLL_MS,
): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await fn().catch(() => false)) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Creates an object, or leaves the one already there (a rerun). */
async function ensure(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (error) {
    if ((error as { code?: number }).code !== 409) throw error;
  }
}

interface Identity {
  username: string;
  kubeconfigPath: string;
  kc: k8s.KubeConfig;
}

/** A kubeconfig with the admin's server and CA and a fresh token of the ServiceAccount. */
async function identity(namespace: string, name: string): Promise<Identity> {
  const token = await core.createNamespacedServiceAccountToken({
    namespace,
    name,
    body: { spec: { audiences: [], expirationSeconds: 6 * 3600 } },
  });
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('no cluster in the kubeconfig');
  const user = new k8s.KubeConfig();
  user.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token: token.status?.token ?? '' }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  const file = path.join(tmpdir(), `jwtr-bench-${name}-${String(process.pid)}.kubeconfig`);
  writeFileSync(file, user.exportConfig(), { mode: 0o600 });
  return { username: `system:serviceaccount:${namespace}:${name}`, kubeconfigPath: file, kc: user };
}

/**
 * The operator's identity as deploy/operator.yaml installs it (Namespace, ServiceAccount, ClusterRole,
 * ClusterRoleBinding; not its Deployment), and the floor client's: a ServiceAccount allowed exactly
 * the floor's three requests.
 */
async function identities(): Promise<{ operator: Identity; floor: Identity }> {
  const docs = parseAllDocuments(readFileSync(path.join(root, 'deploy/operator.yaml'), 'utf8')).map(
    (d) => d.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } },
  );
  const ofKind = (kind: string): Record<string, unknown>[] => docs.filter((d) => d.kind === kind);
  const namespace = ofKind('Namespace')[0] as k8s.V1Namespace;
  const system = namespace.metadata?.name ?? 'jwt-rotation-system';
  await ensure(() => core.createNamespace({ body: namespace }));
  for (const sa of ofKind('ServiceAccount'))
    await ensure(() => core.createNamespacedServiceAccount({ namespace: system, body: sa }));
  for (const role of ofKind('ClusterRole')) await ensure(() => rbac.createClusterRole({ body: role }));
  for (const binding of ofKind('ClusterRoleBinding'))
    await ensure(() =>
      rbac.createClusterRoleBinding({ body: binding as unknown as k8s.V1ClusterRoleBinding }),
    );
  const floorName = 'jwtr-bench-floor';
  await ensure(() =>
    core.createNamespacedServiceAccount({ namespace: system, body: { metadata: { name: floorName } } }),
  );
  await ensure(() =>
    rbac.createClusterRole({
      body: {
        metadata: { name: floorName },
        rules: [
          { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'update'] },
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['patch'] },
        ],
      },
    }),
  );
  await ensure(() =>
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: floorName },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: floorName },
        subjects: [{ kind: 'ServiceAccount', name: floorName, namespace: system }],
      },
    }),
  );
  const operatorSa = ofKind('ServiceAccount')[0] as k8s.V1ServiceAccount;
  return {
    operator: await identity(system, operatorSa.metadata?.name ?? 'jwt-rotation-operator'),
    floor: await identity(system, floorName),
  };
}

/** One line of the audit log (Metadata level), the fields the bench reads. */
interface AuditEntry {
  user?: { username?: string };
  verb?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  responseStatus?: { code?: number };
}

/** The audit log's entries of one user, in the order they were logged. */
function* auditEntries(username: string): Generator<AuditEntry> {
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (!line.includes(username)) continue;
    const e = JSON.parse(line) as AuditEntry;
    if (e.user?.username === username) yield e;
  }
}

/**
 * Requests of one user in [fromMs, toMs), by "verb resource[/subresource]", from the audit log. Watches
 * are counted apart: a watch is one long request, logged when it ends.
 */
function auditCounts(username: string, fromMs: number, toMs: number): Counts {
  const out: Counts = {};
  for (const e of auditEntries(username)) {
    const at = Date.parse(e.requestReceivedTimestamp ?? '');
    if (!(at >= fromMs && at < toMs)) continue;
    const resource =
      (e.objectRef?.resource ?? '') + (e.objectRef?.subresource ? `/${e.objectRef.subresource}` : '');
    const key = `${e.verb ?? ''} ${resource}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
/**
 * When one user's first `patch deployments` in a namespace, at or after `fromMs`, completed, for each
 * Deployment (by name), from the audit log: the exact time of every template's first patch, where the
 * bench's own listing sees it only at its next poll.
 */
function auditFirstPatches(username: string, namespace: string, fromMs: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of auditEntries(username)) {
    const ref = e.objectRef;
    if (e.verb !== 'patch' || ref?.resource !== 'deployments' || ref.subresource) continue;
    const inRun = ref.namespace === namespace || ref.namespace?.startsWith(`${namespace}-`) === true;
    if (!inRun || ref.name === undefined || out.has(ref.name)) continue;
    if ((e.responseStatus?.code ?? 0) >= 300) continue;
    if (!(Date.parse(e.requestReceivedTimestamp ?? '') >= fromMs)) continue;
    out.set(ref.name, Date.parse(e.stageTimestamp ?? ''));
  }
  return out;
}
/** The audit log is written asynchronously (batched): wait until a line newer than `ms` is there. */
async function auditFlushedPast(ms: number): Promise<void> {
  // Any request by the admin is not logged; a request by the floor identity is, so make one.
  await waitUntil(
    'the audit log to catch up',
    async () => {
      await floorClient
        ?.readNamespacedSecret({ namespace: 'default', name: 'jwtr-bench-probe' })
        .catch(() => undefined);
      const text = readFileSync(auditLog, 'utf8');
      const last = text.trimEnd().split('\n').at(-1) ?? '';
      const at = Date.parse((JSON.parse(last || '{}') as { stageTimestamp?: string }).stageTimestamp ?? '');
      return at > ms;
    },
    30_000,
  );
}
let floorClient: k8s.CoreV1Api | undefined;

const isWrite = (k: string): boolean => /^(create|update|patch|delete) /.test(k);
const isWatch = (k: string): boolean => k.startsWith('watch ');

/** The operator's reconcile histogram: passes and their total seconds, from its /metrics. */
interface OperatorTotals {
  passes: number;
  seconds: number;
  throttledSeconds: number;
  writes: number;
  decideSeconds: number;
  decisions: number;
  queueWaitSeconds: number;
  queueStarts: number;
}

/** The operator's own counters, from its /metrics. */
async function reconcileTotals(port: number): Promise<OperatorTotals> {
  const text = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
  const total = (prefix: string): number =>
    text
      .split('\n')
      .filter((line) => line.startsWith(prefix))
      .reduce((a, line) => a + Number(line.split(' ').at(-1)), 0);
  return {
    passes: total('jwtrotation_reconcile_duration_seconds_count'),
    seconds: total('jwtrotation_reconcile_duration_seconds_sum'),
    throttledSeconds: total('jwtrotation_api_client_throttled_seconds_total{client="passes"}'),
    writes: total('jwtrotation_api_writes_total{'),
    decideSeconds: total('jwtrotation_reconcile_decide_seconds_sum'),
    decisions: total('jwtrotation_reconcile_decide_seconds_count'),
    queueWaitSeconds: total('jwtrotation_queue_wait_seconds_sum'),
    queueStarts: total('jwtrotation_queue_wait_seconds_count'),
  };
}

/** The operator's JS heap (total and used) and external memory, in MiB, from its /metrics. */
async function heapSample(port: number): Promise<{ totalMiB: number; usedMiB: number; externalMiB: number }> {
  const text = await (await fetch(`http://127.0.0.1:${String(port)}/metrics`)).text();
  const value = (name: string): number =>
    Number(
      text
        .split('\n')
        .find((line) => line.startsWith(`${name} `))
        ?.split(' ')[1] ?? '0',
    ) /
    2 ** 20;
  return {
    totalMiB: value('nodejs_heap_size_total_bytes'),
    usedMiB: value('nodejs_heap_size_used_bytes'),
    externalMiB: value('nodejs_external_memory_bytes'),
  };
}

/**
 * Until the operator has written nothing for `quietMs` (it has caught up with what creation started):
 * longer than it may hold a progress-only status write back (PROGRESS_WRITE_INTERVAL_MS), so that no
 * write left over from creation falls in the idle window.
 */
async function quiesce(port: number, quietMs = PROGRESS_WRITE_INTERVAL_MS + 5_000): Promise<void> {
  let last = (await reconcileTotals(port)).writes;
  let since = performance.now();
  await waitUntil('the operator to stop writing', async () => {
    const now = (await reconcileTotals(port)).writes;
    if (now !== last) {
      last = now;
      since = performance.now();
    }
    return performance.now() - since >= quietMs;
  });
}

interface Proc {
  child: ChildProcess;
  httpPort: number;
  sample(): { rssPeakMiB: number; rssMiB: number; cpuSeconds: number };
}
/**
 * The environment the image gives the process: the `ENV` lines of the Dockerfile's last stage
 * (`KEY=value` pairs; PATH is left as it is here).
 */
function imageEnv(): Record<string, string> {
  const text = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const last = text.slice(text.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of last.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const [key = '', ...value] = pair.split('=');
      if (key !== '' && key !== 'PATH') env[key] = value.join('=');
    }
  }
  return env;
}

function startOperator(namespace: string, kubeconfig: string): Promise<Proc> {
  const child = spawn(process.execPath, [...NODE_ARGS, OPERATOR_MAIN ?? path.join(root, 'dist/main.js')], {
    env: {
      ...process.env,
      ...imageEnv(),
      KUBECONFIG: kubeconfig,
      // Spread over namespaces, the operator watches every namespace (one informer per resource), as a
      // fleet's does; one informer per resource and namespace would be 5 watches per namespace.
      WATCH_NAMESPACES: NAMESPACES > 1 ? '' : namespace,
      ...(BUDGET === undefined ? {} : { MAX_CONCURRENT_ROLLOUTS: BUDGET }),
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
      // The operator's defaults unless the run sets them.
      ...(QPS === undefined ? {} : { KUBE_API_QPS: QPS }),
      ...(BURST === undefined ? {} : { KUBE_API_BURST: BURST }),
      LEADER_ELECTION: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  // The operator's log, for a run to be read afterwards.
  const log = createWriteStream(path.join(clusterDir, 'logs', 'bench-operator.log'));
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const sample = (): { rssPeakMiB: number; rssMiB: number; cpuSeconds: number } => procSample(child.pid ?? 0);
  return new Promise((resolve, reject) => {
    let out = '';
    const read = (d: Buffer): void => {
      // Kept only until the operator has started (for the error below); the log file has the rest.
      if (out.length > 1_000_000) return;
      out += d.toString();
      const started = out.split('\n').find((l) => l.includes('"operator started"'));
      if (started !== undefined) {
        out = '';
        child.stdout.off('data', read);
        resolve({ child, sample, httpPort: (JSON.parse(started) as { httpPort: number }).httpPort });
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', () => {
      reject(new Error(`operator exited:\n${out.slice(-2000)}`));
    });
  });
}
const tick = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || '100');
/** A process's peak and current resident size and its CPU seconds (user + system), from /proc. */
function procSample(pid: number): { rssPeakMiB: number; rssMiB: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${String(pid)}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? '0');
  const stat = readFileSync(`/proc/${String(pid)}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    rssPeakMiB: kb('VmHWM') / 1024,
    rssMiB: kb('VmRSS') / 1024,
    cpuSeconds: (Number(fields[11]) + Number(fields[12])) / tick,
  };
}

const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'];
type ControlPlaneSample = Record<string, { rssPeakMiB: number; cpuSeconds: number }>;
/** The local control plane's processes (tools/cluster writes <cluster>/pids/<name>.pid). */
function controlPlaneSample(): ControlPlaneSample {
  const out: ControlPlaneSample = {};
  for (const name of CONTROL_PLANE) {
    try {
      const pid = Number(readFileSync(path.join(clusterDir, 'pids', `${name}.pid`), 'utf8').trim());
      const { rssPeakMiB, cpuSeconds } = procSample(pid);
      out[name] = { rssPeakMiB, cpuSeconds };
    } catch {
      // Not running here (a component the cluster does not start): left out.
    }
  }
  return out;
}
/** Each component's CPU seconds between two samples, and its peak resident size at the second. */
function controlPlaneDelta(
  from: ControlPlaneSample,
  to: ControlPlaneSample,
): Record<string, { cpuS: number; rssPeakMiB: number }> {
  return Object.fromEntries(
    Object.entries(to).map(([name, t]) => [
      name,
      { cpuS: t.cpuSeconds - (from[name]?.cpuSeconds ?? 0), rssPeakMiB: t.rssPeakMiB },
    ]),
  );
}

/**
 * Writes the figures to bench/results/<date>-N<n>[-qps<q>-burst<b>][-<node args>]<suffix>.json and .md (the JSON under a
 * title) and returns that path without its extension.
 */
function writeResults(figures: Record<string, unknown>, title: string, stamp: string, suffix = ''): string {
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const limit = QPS === undefined && BURST === undefined ? '' : `-qps${QPS ?? ''}-burst${BURST ?? ''}`;
  const args =
    (NODE_ARGS.length === 0 ? '' : `-${NODE_ARGS.join('').replace(/[^A-Za-z0-9]+/g, '')}`) +
    (NAMESPACES > 1 ? `-ns${String(NAMESPACES)}` : '') +
    (BUDGET === undefined ? '' : `-budget${BUDGET}`) +
    (process.env.BENCH_LABEL === undefined ? '' : `-${process.env.BENCH_LABEL}`);
  const base = path.join(
    root,
    'bench/results',
    `${stamp.slice(0, 10)}-N${String(N)}${limit}${args}${suffix}`,
  );
  const json = JSON.stringify(figures, null, 2);
  writeFileSync(`${base}.json`, json + '\n');
  writeFileSync(
    `${base}.md`,
    [`# Scale bench, ${title} (${String(figures.date)})`, '', '```json', json, '```', ''].join('\n'),
  );
  return base;
}

async function stop(p: Proc): Promise<void> {
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await exited;
}

const spec = (secretName: string, name: string): Record<string, unknown> => ({
  secretName,
  targets: [{ kind: 'Deployment', name }],
  tokenTTL: '15m',
  refreshTokenTTL: '1h',
  // The shortest the CRD allows: signingDelay > 0 and pollInterval < signingDelay.
  rollout: { signingDelay: '1s', pollInterval: '500ms' },
  // Completion on the gate, as in every figure before the default waited for the old key's tokens.
  monitoring: { minDuration: '0s', maxDuration: '1m', requireOldTokenExpiry: false },
});

/** The namespace of object i of a run whose namespaces are named after `ns`. */
function nsOf(ns: string, i: number): string {
  return NAMESPACES === 1 ? ns : `${ns}-${String(i % NAMESPACES)}`;
}

/** The run's Deployments, in every namespace of the run. */
async function listDeployments(ns: string): Promise<k8s.V1DeploymentList> {
  return apps.listDeploymentForAllNamespaces({ labelSelector: `${RUN_LABEL}=${ns}` });
}

/** Deletes every namespace of a run. */
async function deleteRun(ns: string): Promise<void> {
  const list = await core.listNamespace({ labelSelector: `${RUN_LABEL}=${ns}` }).catch(() => ({ items: [] }));
  await inBatches(list.items, 20, (n) =>
    core.deleteNamespace({ name: n.metadata?.name ?? '' }).catch(() => undefined),
  );
}

async function listRotations(
  ns: string,
): Promise<{ phase: string | undefined; outcome: string | undefined; request: string | undefined }[]> {
  const list = (await custom.listClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    labelSelector: `${RUN_LABEL}=${ns}`,
  })) as {
    items: {
      status?: { phase?: string; lastRotation?: { outcome?: string }; handledRequests?: { rotate?: string } };
    }[];
  };
  return list.items.map((i) => ({
    phase: i.status?.phase,
    outcome: i.status?.lastRotation?.outcome,
    request: i.status?.handledRequests?.rotate,
  }));
}

async function makeObjects(ns: string, withRotation: boolean): Promise<void> {
  const namespaces = withRotation ? Math.min(NAMESPACES, N) : 1;
  const all = Array.from({ length: namespaces }, (_, k) => (withRotation ? nsOf(ns, k) : ns));
  await inBatches(all, 20, async (name) => {
    await core.createNamespace({ body: { metadata: { name, labels: { [RUN_LABEL]: ns } } } });
    await waitUntil('the default ServiceAccount', async () => {
      await core.readNamespacedServiceAccount({ namespace: name, name: 'default' });
      return true;
    });
  });
  const ids = Array.from({ length: N }, (_, i) => i);
  await inBatches(ids, 20, async (i) => {
    const id = `app-${String(i)}`;
    const namespace = withRotation ? nsOf(ns, i) : ns;
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: `${id}-jwt` }, stringData: { JWT_SECRET: `original-${id}` } },
    });
    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: id, labels: { [RUN_LABEL]: ns } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: id } },
          template: {
            metadata: { labels: { app: id } },
            spec: {
              ...onKwok,
              containers: [
                { name: 'c', image: 'example.invalid/x:1', envFrom: [{ secretRef: { name: `${id}-jwt` } }] },
              ],
            },
          },
        },
      },
    });
    if (withRotation)
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'JwtRotation',
          metadata: { name: id, labels: { [RUN_LABEL]: ns } },
          spec: spec(`${id}-jwt`, id),
        },
      });
  });
}

async function main(): Promise<void> {
  try {
    readFileSync(auditLog);
  } catch {
    throw new Error(
      `no audit log at ${auditLog}: start the cluster with CLUSTER_AUDIT=1 (npm run cluster:down first if one runs)`,
    );
  }
  const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const ns = `bench-${String(N)}-${String(Date.now() % 100000)}`;
  const floorNs = `${ns}-floor`;
  const figures: Record<string, unknown> = {
    date: new Date().toISOString(),
    N,
    operatorNodeArgs: NODE_ARGS,
    operatorMain: OPERATOR_MAIN ?? 'dist/main.js',
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) },
    versions: {
      node: process.version,
      operator: (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string })
        .version,
      kubernetes: /BIN_SRC=.*cluster-(v[\d.]+)/.exec(
        readFileSync(path.join(clusterDir, 'state.env'), 'utf8'),
      )?.[1],
    },
  };
  process.stderr.write(`bench: N=${String(N)} in ${ns}\n`);
  const kubectl = (...args: string[]): void => {
    const r = spawnSync(path.join(clusterDir, 'bin', 'kubectl'), ['--kubeconfig', kubeconfigPath, ...args], {
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed`);
  };
  // Another build's operator (BENCH_OPERATOR_MAIN, <tree>/dist/main.js) gets its own tree's CRDs: a
  // status schema that changed since would refuse its writes.
  const crds =
    OPERATOR_MAIN === undefined
      ? path.join(root, 'crds')
      : path.resolve(path.dirname(OPERATOR_MAIN), '..', 'crds');
  kubectl('apply', '--server-side', '--force-conflicts', '-f', crds);
  kubectl('wait', '--for=condition=Established', '--timeout=60s', 'crd/jwtrotations.jwtrotation.io');
  const who = await identities();
  const floorCore = who.floor.kc.makeApiClient(k8s.CoreV1Api);
  floorClient = floorCore;
  const floorApps = who.floor.kc.makeApiClient(k8s.AppsV1Api);
  const opRequests = (from: number, to: number): Counts => auditCounts(who.operator.username, from, to);

  // Creation.
  const op = await startOperator(ns, who.operator.kubeconfigPath);
  // Memory with nothing to watch but the empty caches: what N objects add is measured against it.
  const baseline = { ...op.sample(), heap: await heapSample(op.httpPort) };
  const c0 = await apiserverCounts();
  const cp0 = controlPlaneSample();
  const created = Date.now();
  await makeObjects(ns, true);
  const createdMs = Date.now() - created;
  const settleCreate = await waitUntil('all Idle after creation', async () => {
    const rs = await listRotations(ns);
    return rs.length === N && rs.every((r) => r.phase === 'Idle');
  });
  await waitUntil('all Deployments available', async () => {
    const list = await listDeployments(ns);
    return list.items.every((d) => (d.status?.availableReplicas ?? 0) >= 1);
  });
  const createdEnd = Date.now();
  const c1 = await apiserverCounts();
  const cp1 = controlPlaneSample();
  figures.creation = {
    createObjectsS: createdMs / 1000,
    settledS: (createdMs + settleCreate) / 1000,
    ...op.sample(),
  };

  // Idle: N JwtRotations, nothing to do, once the operator has caught up with the creation (the
  // Deployments' pods coming up after a JwtRotation was first seen are written into its status).
  await quiesce(op.httpPort);
  const i0 = await apiserverCounts();
  const idleStart = Date.now();
  const cpuIdle0 = op.sample().cpuSeconds;
  await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
  const idleEnd = Date.now();
  const i1 = await apiserverCounts();
  const idleCpu = op.sample().cpuSeconds - cpuIdle0;
  // Settled: after the idle window, N JwtRotations Idle (issue 27: bytes per JwtRotation).
  const settled = { ...op.sample(), heap: await heapSample(op.httpPort) };
  figures.memory = {
    namespaces: NAMESPACES,
    baselineRssMiB: baseline.rssMiB,
    baselineHeapUsedMiB: baseline.heap.usedMiB,
    creationPeakRssMiB: settled.rssPeakMiB,
    settledRssMiB: settled.rssMiB,
    settledHeapUsedMiB: settled.heap.usedMiB,
    settledHeapTotalMiB: settled.heap.totalMiB,
    rssBytesPerJwtRotation: Math.round(((settled.rssMiB - baseline.rssMiB) * 2 ** 20) / N),
    heapBytesPerJwtRotation: Math.round(((settled.heap.usedMiB - baseline.heap.usedMiB) * 2 ** 20) / N),
  };
  process.stderr.write(`bench: memory ${JSON.stringify(figures.memory)}\n`);

  // A rotation on all at once.
  const r0 = await apiserverCounts();
  const cpR = controlPlaneSample();
  const reconcile0 = await reconcileTotals(op.httpPort);
  const cpuR0 = op.sample().cpuSeconds;
  const before = new Map(
    (await listDeployments(ns)).items.map((d) => [
      d.metadata?.name ?? '',
      d.spec?.template.metadata?.annotations?.['jwtrotation.io/secret-revision'],
    ]),
  );
  // The JS heap beside the RSS, from the operator's /metrics every 2 s while it rotates: what of its
  // resident memory is V8's heap, what is outside it (buffers, TLS, malloc).
  const heap = { totalMiB: 0, usedMiB: 0, externalMiB: 0 };
  const heapTimer = setInterval(() => {
    void heapSample(op.httpPort).then(
      (h) => {
        heap.totalMiB = Math.max(heap.totalMiB, h.totalMiB);
        heap.usedMiB = Math.max(heap.usedMiB, h.usedMiB);
        heap.externalMiB = Math.max(heap.externalMiB, h.externalMiB);
      },
      () => undefined,
    );
  }, HEAP_SAMPLE_MS);
  /** A Deployment whose template the rotation has patched (its secret revision moved). */
  const patchedForRotation = (d: k8s.V1Deployment): boolean =>
    d.spec?.template.metadata?.annotations?.['jwtrotation.io/secret-revision'] !==
    before.get(d.metadata?.name ?? '');
  /** A JwtRotation that has completed the bench's rotation request. */
  const completedForBench = (r: Awaited<ReturnType<typeof listRotations>>[number]): boolean =>
    r.phase === 'Idle' && r.outcome === 'Completed' && r.request === 'bench';
  const requested = Date.now();
  // All at once: up to 100 requests in flight (the minimal client below has all N in hand at once).
  // In waves of 20, the last of 100 requests reached the operator 1.6 s after the first.
  await inPool(
    Array.from({ length: N }, (_, i) => i),
    100,
    (i) =>
      custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: nsOf(ns, i),
          plural: PLURAL,
          name: `app-${String(i)}`,
          body: { metadata: { annotations: { 'jwtrotation.io/rotate': 'bench' } } },
        },
        mergePatch,
      ),
  );
  const requestsSpreadMs = Date.now() - requested;

  if (ROTATION_WINDOW_MS !== undefined) {
    // Windowed: progress every 10 s (listing N objects every 500 ms would load the API server more
    // than the operator does), and the figures of the creation, the idle window and this window.
    const timeline: { s: number; patched: number; completed: number; rssMiB: number }[] = [];
    const progress = async (): Promise<{ patched: number; completed: number }> => {
      const deployments = (await listDeployments(ns)).items;
      const rs = await listRotations(ns);
      return {
        patched: deployments.filter(patchedForRotation).length,
        completed: rs.filter(completedForBench).length,
      };
    };
    let last = { patched: 0, completed: 0 };
    while (Date.now() - requested < ROTATION_WINDOW_MS && last.completed < N) {
      await new Promise((r) => setTimeout(r, 10_000));
      last = await progress().catch(() => last);
      timeline.push({ s: (Date.now() - requested) / 1000, ...last, rssMiB: op.sample().rssMiB });
      process.stderr.write(`bench: ${JSON.stringify(timeline.at(-1))}\n`);
    }
    const windowEnd = Date.now();
    figures.controlPlane = {
      creation: controlPlaneDelta(cp0, cp1),
      rotationWindow: controlPlaneDelta(cpR, controlPlaneSample()),
    };
    clearInterval(heapTimer);
    const sample = op.sample();
    await stop(op);
    await auditFlushedPast(windowEnd);
    const idleMin = (idleEnd - idleStart) / 60_000;
    const opIdle = opRequests(idleStart, idleEnd);
    const opWindow = opRequests(requested, windowEnd);
    const noWatchWindow = sum(opWindow, (k) => !isWatch(k));
    figures.rotationWindow = {
      windowS: (windowEnd - requested) / 1000,
      patched: last.patched,
      completed: last.completed,
      operatorCpuS: sample.cpuSeconds - cpuR0,
      ...sample,
      heapPeakTotalMiB: heap.totalMiB,
      heapPeakUsedMiB: heap.usedMiB,
      externalPeakMiB: heap.externalMiB,
      timeline,
    };
    figures.api = {
      operatorRequests: {
        creationWindow: opRequests(created, createdEnd),
        idleWindow: opIdle,
        rotationWindow: opWindow,
      },
      idleCpuS: idleCpu,
    };
    figures.summary = {
      creationSettledS: (figures.creation as Record<string, number>).settledS,
      idleOperatorWritesPerMin: sum(opIdle, isWrite) / idleMin,
      idleOperatorReadsPerMin: sum(opIdle, (k) => !isWrite(k) && !isWatch(k)) / idleMin,
      operatorPeakRssMiB: sample.rssPeakMiB,
      windowS: (windowEnd - requested) / 1000,
      rotationRequestsSpreadS: requestsSpreadMs / 1000,
      templatesPatchedInWindow: last.patched,
      rotationsCompletedInWindow: last.completed,
      operatorRequestsInWindow: noWatchWindow,
      operatorRequestsPerSecondInWindow: noWatchWindow / ((windowEnd - requested) / 1000),
    };
    await deleteRun(ns);
    const base = writeResults(figures, `N=${String(N)}, windowed`, stamp, '-window');
    process.stdout.write(
      `${JSON.stringify({ summary: figures.summary, controlPlane: figures.controlPlane }, null, 2)}\nwritten ${base}.json and .md\n`,
    );
    return;
  }
  const firstPatch = await waitUntil(
    'every template patched for the rotation',
    async () => {
      const list = await listDeployments(ns);
      return list.items.every(patchedForRotation);
    },
    TIMEOUT_MS,
    ROTATION_POLL_MS,
  ).then(() => Date.now() - requested);
  await waitUntil(
    'all rotations Completed',
    async () => {
      const rs = await listRotations(ns);
      return rs.every(completedForBench);
    },
    TIMEOUT_MS,
    ROTATION_POLL_MS,
  );
  const rotationEnd = Date.now();
  clearInterval(heapTimer);
  const rotationMs = rotationEnd - requested;
  const r1 = await apiserverCounts();
  figures.controlPlane = {
    creation: controlPlaneDelta(cp0, cp1),
    rotation: controlPlaneDelta(cpR, controlPlaneSample()),
  };
  const reconcile1 = await reconcileTotals(op.httpPort);
  figures.rotation = {
    settledS: rotationMs / 1000,
    everyTemplatePatchedS: firstPatch / 1000,
    operatorCpuS: op.sample().cpuSeconds - cpuR0,
    ...op.sample(),
    heapPeakTotalMiB: heap.totalMiB,
    heapPeakUsedMiB: heap.usedMiB,
    externalPeakMiB: heap.externalMiB,
  };
  const opFinal = op.sample();
  await stop(op);

  // The floor: the same writes by a minimal client with its own identity, N at once.
  await makeObjects(floorNs, false);
  await waitUntil('floor Deployments available', async () => {
    const list = await apps.listNamespacedDeployment({ namespace: floorNs });
    return list.items.length === N && list.items.every((d) => (d.status?.availableReplicas ?? 0) >= 1);
  });
  /**
   * One Secret update and one template patch per object, N at once; the time until all are patched.
   * A request refused with 429 (the API server's priority and fairness) is made again after its
   * Retry-After, as client-go does, and counted.
   */
  const floorRound = async (
    floorCore: k8s.CoreV1Api,
    floorApps: k8s.AppsV1Api,
    value: string,
  ): Promise<{ start: number; end: number; refused429: number }> => {
    let refused429 = 0;
    const retrying = async <T>(request: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await request();
        } catch (error) {
          const e = error as { code?: number; headers?: Record<string, string> };
          if (e.code !== 429 || attempt >= 20) throw error;
          refused429 += 1;
          const after = Number(e.headers?.['retry-after'] ?? '1');
          await new Promise((r) => setTimeout(r, (Number.isFinite(after) ? after : 1) * 1000));
        }
      }
    };
    const start = Date.now();
    await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const id = `app-${String(i)}`;
        const s = await retrying(() =>
          floorCore.readNamespacedSecret({ namespace: floorNs, name: `${id}-jwt` }),
        );
        s.stringData = { JWT_SECRET_NEW: value };
        await retrying(() =>
          floorCore.replaceNamespacedSecret({ namespace: floorNs, name: `${id}-jwt`, body: s }),
        );
        await retrying(() =>
          floorApps.patchNamespacedDeployment(
            {
              namespace: floorNs,
              name: id,
              body: {
                spec: {
                  template: { metadata: { annotations: { 'jwtrotation.io/secret-revision': value } } },
                },
              },
            },
            mergePatch,
          ),
        );
      }),
    );
    return { start, end: Date.now(), refused429 };
  };
  const f0 = await apiserverCounts();
  const floor = await floorRound(floorCore, floorApps, 'floor');
  const floorStart = floor.start;
  const floorEnd = floor.end;
  const floorMs = floorEnd - floorStart;
  const f1 = await apiserverCounts();
  // The same client under the operator's client-side limit (its defaults, or BENCH_QPS/BENCH_BURST).
  const bucket = new TokenBucket(
    Number(QPS ?? DEFAULT_KUBE_API_QPS),
    Number(BURST ?? DEFAULT_KUBE_API_BURST),
  );
  const limited = await floorRound(
    limitedClient(who.floor.kc, k8s.CoreV1Api, bucket),
    limitedClient(who.floor.kc, k8s.AppsV1Api, bucket),
    'floor-limited',
  );
  const limitedFloorMs = limited.end - limited.start;
  await auditFlushedPast(floorEnd);

  const ops = (c: Counts): Counts =>
    Object.fromEntries(
      Object.entries(c).filter(([k]) => /(jwtrotations|secrets|deployments|pods|events|leases)$/.test(k)),
    );
  const idleMin = (idleEnd - idleStart) / 60_000;
  const opCreation = opRequests(created, createdEnd);
  const opIdle = opRequests(idleStart, idleEnd);
  const opRotation = opRequests(requested, rotationEnd);
  const floorRequests = auditCounts(who.floor.username, floorStart, floorEnd + 1);
  // The operator's step, exactly: from the first rotation request to the last template's first patch
  // as the API server logged it. The polled figure above can be late by up to one poll and a list.
  const firstPatches = auditFirstPatches(who.operator.username, ns, requested);
  const operatorPatchedMs =
    firstPatches.size === N ? Math.max(...firstPatches.values()) - requested : Number.NaN;
  const noWatch = (c: Counts): number => sum(c, (k) => !isWatch(k));
  figures.api = {
    operatorRequests: {
      creationWindow: opCreation,
      idleWindow: opIdle,
      rotationWindow: opRotation,
    },
    floorRequests,
    apiserverRequestTotal: {
      creationWindow: ops(delta(c0, c1)),
      idleWindow: ops(delta(i0, i1)),
      rotationWindow: ops(delta(r0, r1)),
      floorWindow: ops(delta(f0, f1)),
    },
    idleCpuS: idleCpu,
  };
  // The design's minimum per rotation, counted by running the same rotation through the decision
  // core in the simulated world (bench/minimum.ts), where every rollout is seen once, finished.
  const minimum = designMinimum(spec('app-0-jwt', 'app-0') as unknown as JwtRotationSpec);
  const passes = reconcile1.passes - reconcile0.passes;
  const passSeconds = reconcile1.seconds - reconcile0.seconds;
  const throttledSeconds = reconcile1.throttledSeconds - reconcile0.throttledSeconds;
  const perRotation = noWatch(opRotation) / N;
  figures.summary = {
    operatorPeakRssMiB: opFinal.rssPeakMiB,
    operatorCpuS: opFinal.cpuSeconds,
    idleOperatorWritesPerMin: sum(opIdle, isWrite) / idleMin,
    idleOperatorReadsPerMin: sum(opIdle, (k) => !isWrite(k) && !isWatch(k)) / idleMin,
    rotationOperatorRequestsPerRotation: perRotation,
    rotationOperatorWritesPerRotation: sum(opRotation, isWrite) / N,
    rotationOperatorReadsPerRotation: sum(opRotation, (k) => !isWrite(k) && !isWatch(k)) / N,
    designMinimumRequestsPerRotation: minimum.total,
    requestsToMinimumRatio: perRotation / minimum.total,
    passesPerRotation: passes / N,
    operatorMeanPassMs: passes > 0 ? (passSeconds * 1000) / passes : 0,
    operatorMeanPassMsWithoutThrottle: passes > 0 ? ((passSeconds - throttledSeconds) * 1000) / passes : 0,
    operatorThrottledSPerRotation: throttledSeconds / N,
    operatorMeanDecideMs:
      ((reconcile1.decideSeconds - reconcile0.decideSeconds) * 1000) /
      Math.max(1, reconcile1.decisions - reconcile0.decisions),
    operatorMeanQueueWaitMs:
      ((reconcile1.queueWaitSeconds - reconcile0.queueWaitSeconds) * 1000) /
      Math.max(1, reconcile1.queueStarts - reconcile0.queueStarts),
    floorRequestsPerObject: noWatch(floorRequests) / N,
    floorAllTemplatesPatchedS: floorMs / 1000,
    floorLimitedAllTemplatesPatchedS: limitedFloorMs / 1000,
    floorRefused429: floor.refused429,
    floorLimitedRefused429: limited.refused429,
    rotationRequestsSpreadS: requestsSpreadMs / 1000,
    operatorAllTemplatesPatchedS: operatorPatchedMs / 1000,
    operatorAllTemplatesPatchedPolledS: firstPatch / 1000,
    rotationPollS: ROTATION_POLL_MS / 1000,
    ratioOperatorToFloor: operatorPatchedMs / floorMs,
    ratioOperatorToLimitedFloor: operatorPatchedMs / limitedFloorMs,
    ratioOperatorToLimitedFloorPolled: firstPatch / limitedFloorMs,
  };
  figures.clientLimit = {
    qps: Number(QPS ?? DEFAULT_KUBE_API_QPS),
    burst: Number(BURST ?? DEFAULT_KUBE_API_BURST),
  };
  figures.minimum = minimum;

  for (const n of [ns, floorNs]) await deleteRun(n);

  const base = writeResults(figures, `N=${String(N)}`, stamp);
  const s = figures.summary as Record<string, number>;
  const row = (k: string, v: unknown): string =>
    `| ${k.padEnd(36)} | ${String(typeof v === 'number' ? Math.round(v * 100) / 100 : v).padStart(12)} |`;
  process.stdout.write(
    [
      `N=${String(N)}`,
      `| ${'figure'.padEnd(36)} | ${'value'.padStart(12)} |`,
      `| ${'-'.repeat(36)} | ${'-'.repeat(12)} |`,
      row('creation settled (s)', (figures.creation as Record<string, number>).settledS),
      row('rotation of all settled (s)', (figures.rotation as Record<string, number>).settledS),
      row(
        'heap peak total / used MiB',
        `${String(Math.round(heap.totalMiB))} / ${String(Math.round(heap.usedMiB))}`,
      ),
      row('external memory peak MiB', Math.round(heap.externalMiB)),
      ...Object.entries(s).map(([k, v]) => row(k, v)),
      `operator requests in the rotation window: ${JSON.stringify(opRotation)}`,
      `control plane (CPU seconds per window, peak RSS MiB): ${JSON.stringify(figures.controlPlane)}`,
      `written ${base}.json and .md`,
      '',
    ].join('\n'),
  );
}

const children: ChildProcess[] = [];
main().catch((error: unknown) => {
  for (const child of children) child.kill('SIGKILL');
  process.stderr.write(`bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
