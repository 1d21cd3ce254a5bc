/**
 * JwtRotations in every state the Argo CD and Flux health checks judge, captured from the real
 * operator on the local control plane as `kubectl get jwtrotation NAME -o json` shows them, one
 * YAML file per state. The health tests capture them afresh in their own run (so a change in the
 * status the operator writes reaches them), and `npm run capture` (tools/capture-jwtrotations.ts)
 * writes the same into deploy/argocd/jwtrotation.io/JwtRotation/testdata/, the examples the docs
 * and Argo CD's health_test.yaml show. Secrets never appear: a JwtRotation carries fingerprints only.
 *
 * Each step runs in a namespace of its own, and one operator process watches those namespaces only,
 * so a capture can run beside other test files on the shared control plane.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { waitFor, type TestCluster } from './cluster.ts';
import { startGatedEnvironment } from './gated-env.ts';
import {
  annotate,
  clients,
  createConsumerDeployment,
  createJwtRotation,
  patchSpec,
  waitForPhase,
  type Clients,
} from './jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from './operator.ts';

/** The steps, each capturing one or more states; "generation" stops the operator for a moment. */
export const CAPTURE_STEPS = [
  'rotation',
  'rollback',
  'target-deleted',
  'managed-elsewhere',
  'suspended',
  'generation',
  'paused',
] as const;
export type CaptureStep = (typeof CAPTURE_STEPS)[number];

const fastSpec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  // Token lifetimes of seconds: the default completion waits until the old key's tokens expired.
  tokenTTL: '3s',
  refreshTokenTTL: '6s',
  rollout: { signingDelay: '4s', pollInterval: '300ms' },
  monitoring: { minDuration: '8s', maxDuration: '5m' },
};

interface Capturer {
  cluster: TestCluster;
  c: Clients;
  /** The namespace of each step, made before the operator starts, which watches them alone. */
  ns: Record<CaptureStep, string>;
  operator: OperatorProcess;
  /** kubectl get -o json of the JwtRotation once `accept` says it is the state wanted, written as YAML. */
  capture(
    file: string,
    ns: string,
    name: string,
    what: string,
    accept: (r: JwtRotation) => boolean,
  ): Promise<JwtRotation>;
}

/**
 * The first version of a JwtRotation that `accept` takes, from a list and then a watch from the list's
 * resourceVersion: every version the API server stores passes by, so a state that lasts a moment
 * (RollingBack on kwok pods) is not missed, as polling could miss it on a loaded machine. The object is
 * what `kubectl get -o json` prints: the server's, without managedFields (kubectl hides them).
 */
async function firstVersion(
  cluster: TestCluster,
  namespace: string,
  name: string,
  what: string,
  accept: (r: JwtRotation) => boolean,
  timeoutMs = 90_000,
): Promise<JwtRotation> {
  const custom = cluster.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  const deadline = Date.now() + timeoutMs;
  let last: JwtRotation | undefined;
  const shown = (r: JwtRotation): JwtRotation => {
    delete (r.metadata as { managedFields?: unknown }).managedFields;
    return r;
  };
  while (Date.now() < deadline) {
    const list = (await custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURAL,
      fieldSelector: `metadata.name=${name}`,
    })) as { items: JwtRotation[]; metadata?: { resourceVersion?: string } };
    last = list.items[0] ?? last;
    if (last !== undefined && list.items[0] !== undefined && accept(last)) return shown(last);
    const found = await new Promise<JwtRotation | undefined>((resolve) => {
      let request: { abort(): void } | undefined;
      const timer = setTimeout(() => {
        request?.abort();
        resolve(undefined);
      }, deadline - Date.now());
      void new k8s.Watch(cluster.kubeConfig)
        .watch(
          `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`,
          { fieldSelector: `metadata.name=${name}`, resourceVersion: list.metadata?.resourceVersion },
          (type: string, r: JwtRotation) => {
            if (type !== 'ADDED' && type !== 'MODIFIED') return;
            last = r;
            if (!accept(r)) return;
            clearTimeout(timer);
            request?.abort();
            resolve(r);
          },
          () => {
            // Closed or failed: list and watch again while there is time.
            clearTimeout(timer);
            resolve(undefined);
          },
        )
        .then((r) => (request = r))
        .catch(() => {
          clearTimeout(timer);
          resolve(undefined);
        });
    });
    if (found !== undefined) return shown(found);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}; last seen phase ${last?.status?.phase ?? '(none)'}`,
  );
}

const cond = (r: JwtRotation, type: string) => r.status?.conditions?.find((x) => x.type === type);
const settled = (r: JwtRotation): boolean =>
  r.status?.observedGeneration === r.metadata.generation && cond(r, 'Ready')?.status === 'True';

async function setUp(k: Capturer, step: CaptureStep, replicas: number): Promise<string> {
  const ns = k.ns[step];
  await createConsumerDeployment(k.c, ns, 'api', 'api-jwt', replicas);
  await createJwtRotation(k.c, ns, 'api', fastSpec);
  await waitForPhase(k.c, ns, 'api', 'Idle', settled);
  return ns;
}

/** A request annotation (rotate, rollback) with a fresh value. */
async function rotate(k: Capturer, ns: string, what: string): Promise<void> {
  await annotate(k.c, ns, 'api', { [`jwtrotation.io/${what}`]: `capture-${Date.now()}` });
}

/** Idle, then a requested rotation through DualKey, Monitoring and Completing back to Idle. */
async function rotation(k: Capturer): Promise<void> {
  const ns = await setUp(k, 'rotation', 4);
  await k.capture('idle.yaml', ns, 'api', 'Idle and Ready: settled, nothing in flight', settled);
  await rotate(k, ns, 'rotate');
  const phase = (p: string) => (r: JwtRotation) => r.status?.phase === p;
  await k.capture(
    'dualkey.yaml',
    ns,
    'api',
    'DualKey: a requested rotation, targets rolling',
    phase('DualKey'),
  );
  await k.capture('monitoring.yaml', ns, 'api', 'Monitoring: signing with the new key', phase('Monitoring'));
  await k.capture(
    'completing.yaml',
    ns,
    'api',
    'Completing: the new key alone, targets rolling',
    phase('Completing'),
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
  await rotate(k, ns, 'rotate');
  await waitForPhase(k.c, ns, 'api', 'Monitoring');
  await rotate(k, ns, 'rollback');
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
  await rotate(k, ns, 'rotate');
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
async function notObserved(k: Capturer, restart: () => Promise<void>): Promise<void> {
  const ns = await setUp(k, 'generation', 1);
  await k.operator.stop();
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
  const ns = k.ns.paused;
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
    await rotate(k, ns, 'rotate');
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

export interface CaptureOptions {
  /** Where the YAML files go. */
  dir: string;
  /** Only these steps (default: all). */
  only?: readonly CaptureStep[] | undefined;
  /** Told of each file written. */
  log?: (message: string) => void;
}

/**
 * Captures every state (or the steps asked for) into `options.dir`, with an operator process of its
 * own watching the steps' namespaces only. Returns that process's whole output, for a leak check.
 */
export async function captureStates(cluster: TestCluster, options: CaptureOptions): Promise<string> {
  const steps = CAPTURE_STEPS.filter((s) => options.only === undefined || options.only.includes(s));
  const ns = Object.fromEntries(
    await Promise.all(CAPTURE_STEPS.map(async (s) => [s, await cluster.newNamespace(`capture-${s}`)])),
  ) as Record<CaptureStep, string>;
  const start = (): Promise<OperatorProcess> =>
    startOperatorProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      env: { WATCH_NAMESPACES: Object.values(ns).join(',') },
    });
  const k: Capturer = {
    cluster,
    c: clients(cluster),
    ns,
    operator: await start(),
    async capture(file, namespace, name, what, accept) {
      const r = await firstVersion(cluster, namespace, name, `${what} (${file})`, accept);
      const header = [
        `# ${what}.`,
        `# Captured from the real operator on the local control plane by test/support/capture-states.ts`,
        `# (kubectl get jwtrotation ${name} -o json, as YAML). Regenerate with: npm run capture`,
      ].join('\n');
      writeFileSync(path.join(options.dir, file), `${header}\n${stringify(r, { lineWidth: 0 })}`);
      options.log?.(`${file}: phase ${r.status?.phase ?? '(no status)'}`);
      return r;
    },
  };
  const run: Record<CaptureStep, () => Promise<void>> = {
    rotation: () => rotation(k),
    rollback: () => rollback(k),
    'target-deleted': () => targetDeleted(k),
    'managed-elsewhere': () => managedElsewhere(k),
    suspended: () => suspended(k),
    generation: () =>
      notObserved(k, async () => {
        k.operator = await start();
      }),
    paused: () => paused(k),
  };
  const timed = async (step: CaptureStep): Promise<void> => {
    const started = Date.now();
    await run[step]();
    options.log?.(`${step} done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  };
  const outputs: string[] = [];
  try {
    // Side by side, each in its namespace; "generation" last and alone, as it stops the operator.
    await Promise.all(steps.filter((s) => s !== 'generation').map(timed));
    if (steps.includes('generation')) {
      outputs.push(k.operator.output());
      await timed('generation');
    }
  } finally {
    await k.operator.stop();
  }
  return [...outputs, k.operator.output()].join('\n');
}
