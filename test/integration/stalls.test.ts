/**
 * Targets that hang a rotation (issue 27), on real workloads and the real kube-controller-manager
 * (kwok plays the pods): a paused Deployment, StatefulSets and a DaemonSet with updateStrategy
 * OnDelete, a StatefulSet partition above zero, and a Deployment past progressDeadlineSeconds. Each
 * gets Stalled with a reason and a message naming the workload and the fix, a Warning Event, the
 * kubectl plugin says so (exit 1), kstatus reads Failed and Argo CD Degraded. With
 * spec.rollout.replaceOnDeletePods, an OnDelete StatefulSet is replaced pod by pod within its
 * PodDisruptionBudget: a budget that allows nothing stops it (EvictionRefused, no pod deleted), one
 * that allows one lets it finish with never fewer ready pods than it promises.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { stringify } from 'yaml';
import type { JwtRotation, JwtRotationSpec, TargetKind } from '../../src/api/types.ts';
import { onKwok, repoRoot, waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  eventsOf,
  getJwtRotation,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';
import { goToolPath, jsonLines, run } from '../support/tools.ts';

const spec = (kind: TargetKind, extra: Partial<JwtRotationSpec> = {}): JwtRotationSpec => ({
  secretName: 'api-jwt',
  targets: [{ kind, name: 'api' }],
  tokenTTL: '15m',
  refreshTokenTTL: '1h',
  rollout: { signingDelay: '2s', pollInterval: '500ms', ...extra.rollout },
  monitoring: { minDuration: '1s', maxDuration: '1m', requireOldTokenExpiry: false },
  ...(extra.schedule === undefined ? {} : { schedule: extra.schedule }),
});

const podTemplate = (name: string) => ({
  metadata: { labels: { app: name } },
  spec: {
    ...onKwok,
    containers: [
      { name: 'api', image: 'example.invalid/api:1', envFrom: [{ secretRef: { name: 'api-jwt' } }] },
    ],
  },
});

const stalledOf = (r: JwtRotation) => r.status?.conditions?.find((k) => k.type === 'Stalled');

describe('targets that hang a rotation, on the real controller-manager', function () {
  this.timeout(900_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;

  before(() => {
    ({ cluster, c } = suite);
  });

  async function statefulSet(ns: string, replicas: number, updateStrategy: k8s.V1StatefulSetUpdateStrategy) {
    await c.apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'api' },
        spec: {
          replicas,
          serviceName: 'api',
          selector: { matchLabels: { app: 'api' } },
          updateStrategy,
          template: podTemplate('api'),
        },
      },
    });
  }

  /** Every pod of the target runs and is ready: its first rollout is done. */
  async function ready(ns: string, want: number): Promise<void> {
    await waitFor(`${want} ready pods in ${ns}`, async () => {
      const pods = await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=api' });
      const up = pods.items.filter((p) =>
        p.status?.conditions?.some((k) => k.type === 'Ready' && k.status === 'True'),
      );
      return up.length === want && pods.items.length === want ? true : undefined;
    });
  }

  /** A JwtRotation, Idle, then asked to rotate: the rotation rolls the target. */
  async function rotate(ns: string, kind: TargetKind, extra: Partial<JwtRotationSpec> = {}): Promise<void> {
    await createJwtRotation(c, ns, 'api', spec(kind, extra));
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
  }

  async function waitForStall(ns: string, reason: string): Promise<JwtRotation> {
    return waitForPhase(c, ns, 'api', 'DualKey', (r) => stalledOf(r)?.reason === reason, 180_000);
  }

  /** The condition, the Event, the plugin, kstatus and Argo CD all say why and what to do. */
  async function expectToldEverywhere(
    ns: string,
    r: JwtRotation,
    reason: string,
    fix: RegExp,
  ): Promise<void> {
    const stalled = stalledOf(r);
    expect(stalled).to.include({ status: 'True', reason });
    expect(stalled?.message).to.match(/api/).and.to.match(fix);
    const events = await waitFor(`the ${reason} Event`, async () => {
      const found = (await eventsOf(c, ns)).filter((e) => e.reason === reason);
      return found.length > 0 ? found : undefined;
    });
    expect(events[0]?.type).to.equal('Warning');
    expect(events[0]?.message).to.match(fix);

    const plugin = await run('npx', [
      'tsx',
      path.join(repoRoot, 'src/cli/kubectl-jwtrotation.ts'),
      '--kubeconfig',
      cluster.kubeconfigPath,
      'status',
      'api',
      '-n',
      ns,
    ]);
    expect(plugin.stdout + plugin.stderr).to.contain(`Stalled: ${reason}`);
    expect(plugin.stdout + plugin.stderr).to.match(fix);

    const file = path.join(mkdtempSync(path.join(tmpdir(), 'jwtr-stall-')), `${reason}.yaml`);
    writeFileSync(file, stringify(r));
    const kstatus = await run(await goToolPath('kstatus'), ['compute', file]);
    expect(jsonLines<{ status: string }>(kstatus.stdout)[0]?.status, kstatus.stderr).to.equal('Failed');
    const argo = await run(await goToolPath('argocd-health'), [
      'eval',
      path.join(repoRoot, 'deploy/argocd/jwtrotation.io/JwtRotation/health.lua'),
      file,
    ]);
    const health = jsonLines<{ got: { status: string; message: string } }>(argo.stdout)[0]?.got;
    expect(health?.status, argo.stderr).to.equal('Degraded');
    expect(health?.message).to.contain(reason);
  }

  it('a paused Deployment: TargetPaused, resume it; once resumed the rotation goes on', async () => {
    const ns = await cluster.newNamespace('stall-paused');
    await createConsumerDeployment(c, ns, 'api', 'api-jwt', 2);
    await ready(ns, 2);
    await c.apps.patchNamespacedDeployment(
      { namespace: ns, name: 'api', body: { spec: { paused: true } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    await rotate(ns, 'Deployment');
    const r = await waitForStall(ns, 'TargetPaused');
    await expectToldEverywhere(ns, r, 'TargetPaused', /kubectl rollout resume deployment\/api/);
    await c.apps.patchNamespacedDeployment(
      { namespace: ns, name: 'api', body: { spec: { paused: false } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    // The rotation goes on to the end (Monitoring lasts 1 s here, too short to be sure to see it).
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (x) => x.status?.lastRotation?.request === 'rotate=go' && x.status.lastRotation.outcome === 'Completed',
      180_000,
    );
    expect(done.status?.currentKeyFingerprint).to.equal(r.status?.newKeyFingerprint);
  });

  it('a StatefulSet with updateStrategy OnDelete: TargetUpdateOnDelete, delete the pods or opt in', async () => {
    const ns = await cluster.newNamespace('stall-ondelete');
    await statefulSet(ns, 2, { type: 'OnDelete' });
    await ready(ns, 2);
    await rotate(ns, 'StatefulSet');
    const r = await waitForStall(ns, 'TargetUpdateOnDelete');
    await expectToldEverywhere(ns, r, 'TargetUpdateOnDelete', /replaceOnDeletePods/);
  });

  it('a DaemonSet with updateStrategy OnDelete: TargetUpdateOnDelete', async () => {
    const ns = await cluster.newNamespace('stall-ds');
    await c.apps.createNamespacedDaemonSet({
      namespace: ns,
      body: {
        metadata: { name: 'api' },
        spec: {
          selector: { matchLabels: { app: 'api' } },
          updateStrategy: { type: 'OnDelete' },
          template: podTemplate('api'),
        },
      },
    });
    await ready(ns, 1);
    await rotate(ns, 'DaemonSet');
    const r = await waitForStall(ns, 'TargetUpdateOnDelete');
    await expectToldEverywhere(ns, r, 'TargetUpdateOnDelete', /delete its pods/);
  });

  it('a StatefulSet partition above zero: TargetPartitioned, lower the partition', async () => {
    const ns = await cluster.newNamespace('stall-partition');
    await statefulSet(ns, 2, { type: 'RollingUpdate', rollingUpdate: { partition: 1 } });
    await ready(ns, 2);
    await rotate(ns, 'StatefulSet');
    const r = await waitForStall(ns, 'TargetPartitioned');
    await expectToldEverywhere(ns, r, 'TargetPartitioned', /partition.*0/);
  });

  it('a Deployment past progressDeadlineSeconds: RolloutStalled, with what to look at', async () => {
    const ns = await cluster.newNamespace('stall-deadline');
    // One pod allowed: the rollout's surge pod is refused by the quota, so it cannot progress.
    await c.core.createNamespacedResourceQuota({
      namespace: ns,
      body: { metadata: { name: 'one-pod' }, spec: { hard: { pods: '1' } } },
    });
    await c.apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'api' },
        spec: {
          replicas: 1,
          progressDeadlineSeconds: 2,
          strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
          selector: { matchLabels: { app: 'api' } },
          template: podTemplate('api'),
        },
      },
    });
    await ready(ns, 1);
    await rotate(ns, 'Deployment');
    const r = await waitForStall(ns, 'RolloutStalled');
    await expectToldEverywhere(ns, r, 'RolloutStalled', /kubectl describe deployment\/api/);
  });

  it('with replaceOnDeletePods, replaces an OnDelete StatefulSet pod by pod within its PodDisruptionBudget', async () => {
    const ns = await cluster.newNamespace('ondelete-pdb');
    await statefulSet(ns, 3, { type: 'OnDelete' });
    await ready(ns, 3);
    const policy = cluster.kubeConfig.makeApiClient(k8s.PolicyV1Api);
    // First a budget that allows no disruption at all.
    await policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: {
        metadata: { name: 'api' },
        spec: { minAvailable: 3, selector: { matchLabels: { app: 'api' } } },
      },
    });
    await waitFor('the disruption controller to count the pods', async () => {
      const pdb = await policy.readNamespacedPodDisruptionBudget({ namespace: ns, name: 'api' });
      return pdb.status?.currentHealthy === 3 || undefined;
    });
    const before = (await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=api' })).items.map(
      (p) => p.metadata?.uid,
    );
    // Ready pods, from the pods' own watch, from now on.
    const readyNow = new Map<string, boolean>();
    let fewest = 3;
    const listed = await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=api' });
    for (const p of listed.items)
      readyNow.set(
        p.metadata?.name ?? '',
        p.status?.conditions?.some((k) => k.type === 'Ready' && k.status === 'True') === true,
      );
    const watch = await new k8s.Watch(cluster.kubeConfig).watch(
      `/api/v1/namespaces/${ns}/pods`,
      { labelSelector: 'app=api', resourceVersion: listed.metadata?.resourceVersion },
      (type: string, p: k8s.V1Pod) => {
        const isReady =
          type !== 'DELETED' &&
          p.metadata?.deletionTimestamp == null &&
          p.status?.conditions?.some((k) => k.type === 'Ready' && k.status === 'True') === true;
        readyNow.set(p.metadata?.name ?? '', isReady);
        fewest = Math.min(fewest, [...readyNow.values()].filter(Boolean).length);
      },
      () => undefined,
    );
    try {
      await rotate(ns, 'StatefulSet', {
        rollout: { signingDelay: '2s', pollInterval: '500ms', replaceOnDeletePods: true },
      });
      // The operator tries, the Eviction API refuses: said in an Event, and no pod is deleted.
      const refused = await waitFor('two refused evictions', async () => {
        const e = (await eventsOf(c, ns)).find((x) => x.reason === 'EvictionRefused');
        return (e?.count ?? 0) >= 2 ? e : undefined;
      });
      expect(refused.message).to.match(/api-2.*disruption budget/);
      const still = (await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=api' })).items.map(
        (p) => p.metadata?.uid,
      );
      expect(still.sort()).to.deep.equal(before.sort());
      expect(stalledOf(await getJwtRotation(c, ns, 'api'))?.status).to.equal('False');
      expect(fewest).to.equal(3);

      // A budget that allows one pod down at a time: the rotation finishes.
      await policy.patchNamespacedPodDisruptionBudget(
        { namespace: ns, name: 'api', body: { spec: { minAvailable: 2 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const done = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'Completed',
        600_000,
      );
      expect(done.status?.lastRotation?.outcome).to.equal('Completed');
    } finally {
      watch.abort();
    }
    expect(fewest, 'fewest ready pods during the rotation').to.equal(2);
    const evicted = (await eventsOf(c, ns)).filter((e) => e.reason === 'PodEvicted');
    expect(evicted.length).to.be.greaterThan(0);
    // Every pod was made again (three rolls: each pod replaced at least once).
    const after = (await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=api' })).items.map(
      (p) => p.metadata?.uid,
    );
    expect(after.filter((u) => before.includes(u))).to.deep.equal([]);
  });
});
