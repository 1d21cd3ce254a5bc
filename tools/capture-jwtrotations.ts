/**
 * Captures JwtRotations in every phase from the real operator on the local control plane, as
 * `kubectl get jwtrotation NAME -o yaml` prints them, into
 * deploy/argocd/jwtrotation.io/JwtRotation/testdata/. The Argo CD health tests and the kstatus
 * tests read these files, so their inputs are what the operator really writes.
 *
 *   npx tsx tools/capture-jwtrotations.ts            # needs curl, openssl and Debian's prometheus
 *
 * It starts (or reuses) the local control plane and runs the operator from src/ as the tests do,
 * drives rotations, and writes one file per state. Run it again after a change to the status the
 * operator writes, and commit the result. Secrets never appear: a JwtRotation carries
 * fingerprints only.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { stringify } from 'yaml';

import type { JwtRotation, JwtRotationSpec } from '../src/api/types.ts';
import { repoRoot, useCluster, waitFor, type TestCluster } from '../test/support/cluster.ts';
import { installCrd } from '../test/support/crd.ts';
import { startGatedEnvironment } from '../test/support/gated-env.ts';
import {
  annotate,
  clients,
  createConsumerDeployment,
  createJwtRotation,
  patchSpec,
  waitForPhase,
  type Clients,
} from '../test/support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../test/support/operator.ts';
import { runTeardowns } from '../test/support/teardown.ts';

export const CAPTURE_DIR = path.join(repoRoot, 'deploy/argocd/jwtrotation.io/JwtRotation/testdata');

const log = (message: string): void => {
  process.stderr.write(`[capture] ${message}\n`);
};

const fastSpec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  rollout: { signingDelay: '4s', pollInterval: '300ms' },
  monitoring: { minDuration: '8s', maxDuration: '5m' },
};

interface Capturer {
  cluster: TestCluster;
  c: Clients;
  /** kubectl get -o json of the JwtRotation, when `accept` says this is the state wanted; written as YAML. */
  capture(
    file: string,
    ns: string,
    name: string,
    what: string,
    accept: (r: JwtRotation) => boolean,
    timeoutMs?: number,
  ): Promise<JwtRotation>;
}

async function kubectlGet(cluster: TestCluster, ns: string, name: string): Promise<JwtRotation> {
  const out = await cluster.kubectl(['get', 'jwtrotation', name, '-o', 'json'], { namespace: ns });
  if (out.code !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout) as JwtRotation;
}

function makeCapturer(cluster: TestCluster, c: Clients): Capturer {
  return {
    cluster,
    c,
    async capture(file, ns, name, what, accept, timeoutMs = 90_000) {
      const r = await waitFor(
        `${what} (${file})`,
        async () => {
          const got = await kubectlGet(cluster, ns, name);
          return accept(got) ? got : undefined;
        },
        { timeoutMs, intervalMs: 100 },
      );
      const header = [
        `# ${what}.`,
        `# Captured from the real operator on the local control plane by tools/capture-jwtrotations.ts`,
        `# (kubectl get jwtrotation ${name} -o json, as YAML). Regenerate with: npm run capture`,
      ].join('\n');
      writeFileSync(path.join(CAPTURE_DIR, file), `${header}\n${stringify(r, { lineWidth: 0 })}`);
      log(`${file}: phase ${r.status?.phase ?? '(no status)'}`);
      return r;
    },
  };
}

const cond = (r: JwtRotation, type: string) => r.status?.conditions?.find((x) => x.type === type);
const settled = (r: JwtRotation): boolean =>
  r.status?.observedGeneration === r.metadata.generation && cond(r, 'Ready')?.status === 'True';

async function setUp(k: Capturer, prefix: string, replicas = 3, spec = fastSpec): Promise<string> {
  const ns = await k.cluster.newNamespace(`capture-${prefix}`);
  await createConsumerDeployment(k.c, ns, 'api', 'api-jwt', replicas);
  await createJwtRotation(k.c, ns, 'api', spec);
  await waitForPhase(k.c, ns, 'api', 'Idle', settled);
  return ns;
}

/** Idle, then a manual rotation through DualKey, Monitoring and Completing back to Idle. */
async function rotation(k: Capturer): Promise<void> {
  const ns = await setUp(k, 'rotation', 4);
  await k.capture('idle.yaml', ns, 'api', 'Idle and Ready: settled, nothing in flight', settled);
  await annotate(k.c, ns, 'api', { 'jwtrotation.io/rotate': `capture-${Date.now()}` });
  await k.capture(
    'dualkey.yaml',
    ns,
    'api',
    'DualKey: a requested rotation, targets rolling',
    (r) => r.status?.phase === 'DualKey',
  );
  await k.capture(
    'monitoring.yaml',
    ns,
    'api',
    'Monitoring: signing with the new key',
    (r) => r.status?.phase === 'Monitoring',
  );
  await k.capture(
    'completing.yaml',
    ns,
    'api',
    'Completing: the new key alone, targets rolling',
    (r) => r.status?.phase === 'Completing',
  );
  await k.capture(
    'idle-after-rotation.yaml',
    ns,
    'api',
    'Idle and Ready after a completed rotation',
    (r) => settled(r) && r.status?.lastRotation?.outcome === 'Completed',
  );
}

/** A rollback requested in Monitoring: RollingBack, then Idle with outcome RolledBack. */
async function rollback(k: Capturer): Promise<void> {
  const ns = await setUp(k, 'rollback', 4);
  await annotate(k.c, ns, 'api', { 'jwtrotation.io/rotate': `capture-${Date.now()}` });
  await waitForPhase(k.c, ns, 'api', 'Monitoring');
  await annotate(k.c, ns, 'api', { 'jwtrotation.io/rollback': `capture-${Date.now()}` });
  await k.capture(
    'rollingback.yaml',
    ns,
    'api',
    'RollingBack: restoring the original key',
    (r) => r.status?.phase === 'RollingBack',
  );
  await k.capture(
    'idle-after-rollback.yaml',
    ns,
    'api',
    'Idle and Ready after a rollback',
    (r) => settled(r) && r.status?.lastRotation?.outcome === 'RolledBack',
  );
}

/** The target Deployment deleted mid-rotation: Stalled=True with TargetNotFound. */
async function targetDeleted(k: Capturer): Promise<void> {
  const ns = await setUp(k, 'target-deleted', 2);
  await patchSpec(k.c, ns, 'api', { rollout: { signingDelay: '10m', pollInterval: '300ms' } });
  await waitForPhase(k.c, ns, 'api', 'Idle', settled);
  await annotate(k.c, ns, 'api', { 'jwtrotation.io/rotate': `capture-${Date.now()}` });
  await waitForPhase(k.c, ns, 'api', 'DualKey');
  await k.c.apps.deleteNamespacedDeployment({ namespace: ns, name: 'api' });
  await k.capture(
    'stalled-target-deleted.yaml',
    ns,
    'api',
    'Stalled: the target Deployment was deleted mid-rotation (TargetNotFound)',
    (r) => cond(r, 'Stalled')?.status === 'True',
  );
}

/** A second JwtRotation claiming a Secret another one manages: Failed, Stalled=True. */
async function managedElsewhere(k: Capturer): Promise<void> {
  const ns = await setUp(k, 'managed-elsewhere', 1);
  await createJwtRotation(k.c, ns, 'intruder', fastSpec);
  await k.capture(
    'failed-secret-managed-elsewhere.yaml',
    ns,
    'intruder',
    'Failed: the Secret is managed by another JwtRotation (SecretManagedElsewhere)',
    (r) => r.status?.phase === 'Failed',
  );
}

/** spec.suspend in Idle: Ready=True with reason Suspended. */
async function suspended(k: Capturer): Promise<void> {
  const ns = await setUp(k, 'suspended', 1);
  await patchSpec(k.c, ns, 'api', { suspend: true });
  await k.capture(
    'suspended.yaml',
    ns,
    'api',
    'Suspended in Idle (spec.suspend: true)',
    (r) => settled(r) && cond(r, 'Ready')?.reason === 'Suspended',
  );
}

/** Objects the operator has not caught up with: no status yet, and a spec change not yet observed. */
async function notObserved(
  k: Capturer,
  restart: () => Promise<void>,
  stop: () => Promise<void>,
): Promise<void> {
  const ns = await setUp(k, 'generation', 1);
  await stop();
  await createJwtRotation(k.c, ns, 'fresh', { ...fastSpec, secretName: 'fresh-jwt' });
  await k.capture(
    'no-status.yaml',
    ns,
    'fresh',
    'Created while the operator was not running: no status yet',
    (r) => r.status === undefined,
  );
  await patchSpec(k.c, ns, 'api', { tokenTTL: '12h' });
  await k.capture(
    'generation-lag.yaml',
    ns,
    'api',
    'A spec change the operator has not observed yet (status.observedGeneration < metadata.generation)',
    (r) => (r.status?.observedGeneration ?? 0) < (r.metadata.generation ?? 0),
  );
  await restart();
}

/** failurePolicy Pause and a failing health gate, with a real Prometheus and the reference consumer. */
async function paused(k: Capturer): Promise<void> {
  const ns = await k.cluster.newNamespace('capture-paused');
  await createConsumerDeployment(k.c, ns, 'api', 'api-jwt');
  await k.c.core.createNamespacedSecret({
    namespace: ns,
    body: {
      metadata: { name: 'api-jwt' },
      stringData: { JWT_SECRET: Buffer.from(`paused-${Date.now()}`).toString('base64') },
    },
  });
  const env = await startGatedEnvironment(k.c, ns, 'api-jwt');
  try {
    await createJwtRotation(k.c, ns, 'api', {
      secretName: 'api-jwt',
      targets: [{ kind: 'Deployment', name: 'api' }],
      rollout: { signingDelay: '3s', pollInterval: '500ms' },
      monitoring: {
        minDuration: '6s',
        maxDuration: '5m',
        failurePolicy: 'Pause',
        prometheus: {
          url: env.prometheus.url,
          interval: '1s',
          timeout: '2s',
          window: '10s',
          thresholds: { minSamples: 20, maxValidationLatencyP99Seconds: 1 },
        },
      },
    });
    await waitForPhase(k.c, ns, 'api', 'Idle', settled);
    await annotate(k.c, ns, 'api', { 'jwtrotation.io/rotate': `capture-${Date.now()}` });
    await waitFor('the new key', () => Promise.resolve(env.keys.new), { timeoutMs: 30_000 });
    env.setNewShare(0.6);
    await k.capture(
      'monitoring-gated.yaml',
      ns,
      'api',
      'Monitoring with a Prometheus gate: readings in status, 60% of the traffic on the new key',
      (r) => r.status?.phase === 'Monitoring' && r.status.gate?.readings?.newKeyShare !== undefined,
    );
    await fetch(`${env.consumer.url}/debug/fail?rate=0.2&mode=error`, { method: 'POST' });
    await k.capture(
      'paused.yaml',
      ns,
      'api',
      'Paused: the health gate failed with monitoring.failurePolicy Pause',
      (r) => r.status?.phase === 'Paused',
    );
  } finally {
    await env.stop();
  }
}

async function main(): Promise<void> {
  mkdirSync(CAPTURE_DIR, { recursive: true });
  const cluster = await useCluster();
  await installCrd(cluster);
  const c = clients(cluster);
  let operator: OperatorProcess = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigPath });
  const k = makeCapturer(cluster, c);
  const only = process.argv.slice(2);
  const steps: [string, () => Promise<void>][] = [
    ['rotation', () => rotation(k)],
    ['rollback', () => rollback(k)],
    ['target-deleted', () => targetDeleted(k)],
    ['managed-elsewhere', () => managedElsewhere(k)],
    ['suspended', () => suspended(k)],
    [
      'generation',
      () =>
        notObserved(
          k,
          async () => {
            operator = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigPath });
          },
          () => operator.stop(),
        ),
    ],
    ['paused', () => paused(k)],
  ];
  try {
    // One after the other: "generation" stops the operator for a moment.
    for (const [name, step] of steps.filter(([n]) => only.length === 0 || only.includes(n))) {
      const started = Date.now();
      await step();
      log(`${name} done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    }
  } finally {
    await operator.stop();
    if (/[A-Za-z0-9+/]{80,}={0,2}/.test(operator.output())) log('WARNING: key-like output from the operator');
  }
}

const checkNoSecrets = (): Promise<void> =>
  new Promise((resolve, reject) => {
    // The captures must never hold key material: no long base64 runs.
    const child = spawn('grep', ['-rEl', '[A-Za-z0-9+/]{40,}={0,2}', CAPTURE_DIR], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => {
      if (out.trim() === '') resolve();
      else reject(new Error(`key-like text in ${out.trim()}`));
    });
  });

main()
  .then(checkNoSecrets)
  .then(
    async () => {
      await runTeardowns();
      log('done');
    },
    async (error: unknown) => {
      process.stderr.write(`[capture] failed: ${String(error)}\n`);
      await runTeardowns().catch(() => undefined);
      process.exit(1);
    },
  );
