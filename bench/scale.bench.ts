/**
 * The operator at scale on the local control plane (kwok pods), as the image runs it
 * (`node dist/main.js`). Prints a table and writes bench/results/<date>-N<n>.json and .md.
 * Reports figures; asserts nothing.
 *
 *   CLUSTER_REAL_NODE=0 npm run cluster:up && npm run build
 *   BENCH_N=100 npm run bench
 *
 * Per N: N namespaces' worth of objects in one namespace (a Secret, a one-replica Deployment on the
 * kwok node and a JwtRotation each, zero-length gates). Measured:
 * - settling after creation (all Idle with a key), and after a rotation requested on all at once
 *   (all Idle with lastRotation Completed);
 * - the operator's peak RSS (VmHWM) and CPU seconds (utime + stime), from /proc;
 * - the API server's apiserver_request_total by verb and resource over each window. The operator
 *   is attributed by difference: an idle window of the same length with the operator stopped is the
 *   background (kwok, controllers), and the rotation window is compared with the floor's;
 * - the floor: a minimal client doing one Secret update and one pod-template patch per target for N
 *   objects at once, timed until every Deployment's template is patched, beside the operator's time
 *   for the same step (request to every template patched).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const clusterDir = path.resolve(root, process.env.CLUSTER_DIR ?? '.cluster');
const kubeconfigPath = path.join(clusterDir, 'kubeconfig');
const N = Number(process.env.BENCH_N ?? '100');
const IDLE_WINDOW_MS = Number(process.env.BENCH_IDLE_MS ?? '60000');
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? String(Math.max(300_000, N * 1_000)));
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

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = TIMEOUT_MS): Promise<number> {
  const start = performance.now();
  for (;;) {
    if (await fn().catch(() => false)) return performance.now() - start;
    if (performance.now() - start > timeoutMs) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

interface Proc {
  child: ChildProcess;
  sample(): { rssPeakMiB: number; rssMiB: number; cpuSeconds: number };
}
function startOperator(namespace: string): Promise<Proc> {
  const child = spawn(process.execPath, [path.join(root, 'dist/main.js')], {
    env: {
      ...process.env,
      KUBECONFIG: kubeconfigPath,
      WATCH_NAMESPACES: namespace,
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      LEADER_ELECTION: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const tick = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || '100');
  const sample = (): { rssPeakMiB: number; rssMiB: number; cpuSeconds: number } => {
    const status = readFileSync(`/proc/${String(child.pid)}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? '0');
    const stat = readFileSync(`/proc/${String(child.pid)}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return {
      rssPeakMiB: kb('VmHWM') / 1024,
      rssMiB: kb('VmRSS') / 1024,
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / tick,
    };
  };
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"operator started"')) resolve({ child, sample });
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', () => {
      reject(new Error(`operator exited:\n${out.slice(-2000)}`));
    });
  });
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
  monitoring: { minDuration: '0s', maxDuration: '1m' },
});

async function listRotations(
  ns: string,
): Promise<{ phase: string | undefined; outcome: string | undefined; request: string | undefined }[]> {
  const list = (await custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PLURAL,
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
  await core.createNamespace({ body: { metadata: { name: ns } } });
  await waitUntil('the default ServiceAccount', async () => {
    await core.readNamespacedServiceAccount({ namespace: ns, name: 'default' });
    return true;
  });
  const ids = Array.from({ length: N }, (_, i) => `app-${String(i)}`);
  await inBatches(ids, 20, async (id) => {
    await core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: `${id}-jwt` }, stringData: { JWT_SECRET: `original-${id}` } },
    });
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: id },
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
        namespace: ns,
        plural: PLURAL,
        body: {
          apiVersion: `${GROUP}/${VERSION}`,
          kind: 'JwtRotation',
          metadata: { name: id },
          spec: spec(`${id}-jwt`, id),
        },
      });
  });
}

async function main(): Promise<void> {
  const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('build failed');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const ns = `bench-${String(N)}-${String(Date.now() % 100000)}`;
  const floorNs = `${ns}-floor`;
  const figures: Record<string, unknown> = {
    date: new Date().toISOString(),
    N,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30) },
    versions: {
      node: process.version,
      operator: (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string })
        .version,
      kubernetes: readFileSync(path.join(clusterDir, 'state.env'), 'utf8').match(
        /BIN_SRC=.*cluster-(v[\d.]+)/,
      )?.[1],
    },
  };
  process.stderr.write(`bench: N=${String(N)} in ${ns}\n`);

  // Creation.
  const op = await startOperator(ns);
  const c0 = await apiserverCounts();
  const created = performance.now();
  await makeObjects(ns, true);
  const createdMs = performance.now() - created;
  const settleCreate = await waitUntil('all Idle after creation', async () => {
    const rs = await listRotations(ns);
    return rs.length === N && rs.every((r) => r.phase === 'Idle');
  });
  await waitUntil('all Deployments available', async () => {
    const list = await apps.listNamespacedDeployment({ namespace: ns });
    return list.items.every((d) => (d.status?.availableReplicas ?? 0) >= 1);
  });
  const c1 = await apiserverCounts();
  figures.creation = {
    createObjectsS: createdMs / 1000,
    settledS: (createdMs + settleCreate) / 1000,
    ...op.sample(),
  };

  // Idle: N JwtRotations, nothing to do.
  const i0 = await apiserverCounts();
  const cpuIdle0 = op.sample().cpuSeconds;
  await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
  const i1 = await apiserverCounts();
  const idleWithOperator = delta(i0, i1);
  const idleCpu = op.sample().cpuSeconds - cpuIdle0;

  // A rotation on all at once.
  const r0 = await apiserverCounts();
  const cpuR0 = op.sample().cpuSeconds;
  const before = new Map(
    (await apps.listNamespacedDeployment({ namespace: ns })).items.map((d) => [
      d.metadata?.name ?? '',
      d.spec?.template.metadata?.annotations?.['jwtrotation.io/secret-revision'],
    ]),
  );
  const requested = performance.now();
  await inBatches(
    Array.from({ length: N }, (_, i) => `app-${String(i)}`),
    20,
    (id) =>
      custom.patchNamespacedCustomObject(
        {
          group: GROUP,
          version: VERSION,
          namespace: ns,
          plural: PLURAL,
          name: id,
          body: { metadata: { annotations: { 'jwtrotation.io/rotate': 'bench' } } },
        },
        mergePatch,
      ),
  );
  const firstPatch = await waitUntil('every template patched for the rotation', async () => {
    const list = await apps.listNamespacedDeployment({ namespace: ns });
    return list.items.every(
      (d) =>
        d.spec?.template.metadata?.annotations?.['jwtrotation.io/secret-revision'] !==
        before.get(d.metadata?.name ?? ''),
    );
  }).then(() => performance.now() - requested);
  await waitUntil('all rotations Completed', async () => {
    const rs = await listRotations(ns);
    return rs.every((r) => r.phase === 'Idle' && r.outcome === 'Completed' && r.request === 'bench');
  });
  const rotationMs = performance.now() - requested;
  const r1 = await apiserverCounts();
  const rotation = delta(r0, r1);
  figures.rotation = {
    settledS: rotationMs / 1000,
    everyTemplatePatchedS: firstPatch / 1000,
    operatorCpuS: op.sample().cpuSeconds - cpuR0,
    ...op.sample(),
  };
  const opFinal = op.sample();
  await stop(op);

  // Idle without the operator: the background over the same window.
  const b0 = await apiserverCounts();
  await new Promise((r) => setTimeout(r, IDLE_WINDOW_MS));
  const b1 = await apiserverCounts();
  const background = delta(b0, b1);

  // The floor: the same writes by a minimal client, N at once.
  await makeObjects(floorNs, false);
  await waitUntil('floor Deployments available', async () => {
    const list = await apps.listNamespacedDeployment({ namespace: floorNs });
    return list.items.length === N && list.items.every((d) => (d.status?.availableReplicas ?? 0) >= 1);
  });
  const f0 = await apiserverCounts();
  const floorStart = performance.now();
  await Promise.all(
    Array.from({ length: N }, async (_, i) => {
      const id = `app-${String(i)}`;
      const s = await core.readNamespacedSecret({ namespace: floorNs, name: `${id}-jwt` });
      s.stringData = { JWT_SECRET_NEW: 'floor' };
      await core.replaceNamespacedSecret({ namespace: floorNs, name: `${id}-jwt`, body: s });
      await apps.patchNamespacedDeployment(
        {
          namespace: floorNs,
          name: id,
          body: {
            spec: { template: { metadata: { annotations: { 'jwtrotation.io/secret-revision': 'floor' } } } },
          },
        },
        mergePatch,
      );
    }),
  );
  const floorMs = performance.now() - floorStart;
  const f1 = await apiserverCounts();
  const floor = delta(f0, f1);

  const ops = (c: Counts): Counts =>
    Object.fromEntries(
      Object.entries(c).filter(([k]) => /(jwtrotations|secrets|deployments|pods|events|leases)$/.test(k)),
    );
  figures.api = {
    creationWindow: ops(delta(c0, c1)),
    idlePerMinuteWithOperator: ops(idleWithOperator),
    idlePerMinuteBackground: ops(background),
    idleCpuS: idleCpu,
    rotationWindow: ops(rotation),
    floorWindow: ops(floor),
  };
  const writes = (c: Counts): number =>
    sum(c, (k) => /^(create|update|patch|delete) (secrets|deployments|jwtrotations|events)$/.test(k));
  const reads = (c: Counts): number =>
    sum(c, (k) => /^(get|list) (secrets|deployments|jwtrotations|pods)$/.test(k));
  const idleMin = IDLE_WINDOW_MS / 60_000;
  // The design's minimum per rotation (signingDelay 0, one target, Secret exists): Secret writes
  // Rotate (dual key + backup create), signing date, Complete; template patches: dual-key roll and
  // completion roll; status writes: DualKey, Monitoring, Completing, Idle; Events: RotationStarted,
  // MonitoringStarted, CompletionStarted, RotationCompleted. Reads: none needed with watches.
  const minimumWrites = 3 + 1 + 2 + 4 + 4;
  figures.summary = {
    operatorPeakRssMiB: opFinal.rssPeakMiB,
    operatorCpuS: opFinal.cpuSeconds,
    idleWritesPerMin: (writes(idleWithOperator) - writes(background)) / idleMin,
    idleReadsPerMin: (reads(idleWithOperator) - reads(background)) / idleMin,
    rotationWritesPerRotation: (writes(rotation) - writes(floor) + 2 * N) / N,
    rotationRequestsPerRotation: (sum(ops(rotation)) - sum(ops(floor)) + 2 * N) / N,
    minimumWritesPerRotation: minimumWrites,
    floorAllTemplatesPatchedS: floorMs / 1000,
    operatorAllTemplatesPatchedS: firstPatch / 1000,
    ratioOperatorToFloor: firstPatch / floorMs,
  };

  for (const n of [ns, floorNs]) await core.deleteNamespace({ name: n }).catch(() => undefined);

  const md = [
    `# Scale bench, N=${String(N)} (${String(figures.date)})`,
    '',
    '```json',
    JSON.stringify(figures, null, 2),
    '```',
    '',
  ].join('\n');
  mkdirSync(path.join(root, 'bench/results'), { recursive: true });
  const base = path.join(root, 'bench/results', `${stamp.slice(0, 10)}-N${String(N)}`);
  writeFileSync(`${base}.json`, JSON.stringify(figures, null, 2) + '\n');
  writeFileSync(`${base}.md`, md);
  const s = figures.summary as Record<string, number>;
  const row = (k: string, v: unknown): string =>
    `| ${k.padEnd(34)} | ${String(typeof v === 'number' ? Math.round(v * 100) / 100 : v).padStart(12)} |`;
  process.stdout.write(
    [
      `N=${String(N)}`,
      `| ${'figure'.padEnd(34)} | ${'value'.padStart(12)} |`,
      `| ${'-'.repeat(34)} | ${'-'.repeat(12)} |`,
      row('creation settled (s)', (figures.creation as Record<string, number>).settledS),
      row('rotation of all settled (s)', (figures.rotation as Record<string, number>).settledS),
      ...Object.entries(s).map(([k, v]) => row(k, v)),
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
