/**
 * A fleet (issue 27) on the real control plane: 200 JwtRotations created at once, with a 1h interval
 * and a 10-minute spread window, and an operator with a rollout budget of 10. Their next rotations
 * cover the window; with the operator's clock moved past all of them, every one comes due at once,
 * and the Deployments' own watch (not the operator's word) shows no more than 10 of them rolling at
 * any moment, across a kill -9 of the operator in the middle (the budget is rebuilt from the
 * cluster). The queue is visible on the JwtRotations waiting in it.
 *
 * The watch covers the rotations while the queue is full: until OBSERVED have completed, six budgets'
 * worth, with the kill -9 after two, and at least half the fleet still waiting at the end. That is where
 * the budget is under pressure; the queue's drain after it (the other 140 rotations, minutes of the
 * machine's CPU) would add rotations under less pressure, not a harder case.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { stringify } from 'yaml';
import { onKwok, repoRoot, waitFor } from '../support/cluster.ts';
import { goToolPath, jsonLines, run } from '../support/tools.ts';
import { createJwtRotation, getJwtRotation, type Clients } from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';
import { setClock } from '../support/test-clocks.ts';

const COUNT = 200;
const NAMESPACES = 2;
const BUDGET = 10;
/** Completed rotations the watch covers (see above); the kill -9 comes after a third of them. */
const OBSERVED = 6 * BUDGET;
const T0 = Date.parse('2026-06-01T00:00:00Z');
const MINUTE = 60_000;

const spec = (i: number): JwtRotationSpec => ({
  secretName: `api-${i}-jwt`,
  targets: [{ kind: 'Deployment', name: `api-${i}` }],
  tokenTTL: '15m',
  refreshTokenTTL: '1h',
  schedule: { interval: '1h', spreadWindow: '10m' },
  rollout: { signingDelay: '2s', pollInterval: '500ms' },
  monitoring: { minDuration: '1s', maxDuration: '1m', requireOldTokenExpiry: false },
});

/** A Deployment whose rollout is under way: by the rules of `kubectl rollout status`. */
function rolling(d: k8s.V1Deployment): boolean {
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  return (
    (s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0) ||
    (s.updatedReplicas ?? 0) < want ||
    (s.replicas ?? 0) > (s.updatedReplicas ?? 0) ||
    (s.availableReplicas ?? 0) < want
  );
}

/** Runs `fn` over the items in batches (the API server and kwok take a fleet at a steady pace). */
async function inBatches<T>(
  items: readonly T[],
  size: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe('a fleet: spread, a rollout budget, and a restart in the middle', function () {
  this.timeout(1_800_000);
  const suite = operatorSuite({ withOperator: false });
  let c: Clients;
  const clockFile = path.join(mkdtempSync(path.join(tmpdir(), 'jwt-clock-')), 'offset');
  const runId = `fleet-${String(process.pid)}`;
  const namespaces: string[] = [];
  const where = (i: number): { ns: string; name: string } => ({
    ns: namespaces[i % NAMESPACES] ?? '',
    name: `api-${i}`,
  });
  const all = Array.from({ length: COUNT }, (_, i) => i);
  let operator: OperatorProcess;

  const startOperator = (): Promise<OperatorProcess> =>
    startOperatorProcess({
      kubeconfigPath: suite.cluster.kubeconfigPath,
      env: {
        WATCH_NAMESPACES: namespaces.join(','),
        TEST_CLOCK_FILE: clockFile,
        MAX_CONCURRENT_ROLLOUTS: String(BUDGET),
        // Debug logs of 200 JwtRotations are not what this test reads.
        LOG_LEVEL: 'info',
      },
    });

  before(async () => {
    c = suite.c;
    for (let n = 0; n < NAMESPACES; n++) namespaces.push(await suite.cluster.newNamespace('fleet'));
    setClock(clockFile, T0);
    await inBatches(all, 20, async (i) => {
      const { ns, name } = where(i);
      await c.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name, labels: { 'test.jwtrotation.io/run': runId } },
          spec: {
            replicas: 1,
            minReadySeconds: 1,
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name } },
              spec: {
                ...onKwok,
                containers: [
                  {
                    name: 'api',
                    image: 'example.invalid/api:1',
                    envFrom: [{ secretRef: { name: `${name}-jwt` } }],
                  },
                ],
              },
            },
          },
        },
      });
    });
    operator = await startOperator();
    await inBatches(all, 20, (i) => createJwtRotation(c, where(i).ns, where(i).name, spec(i)));
  });
  after(async () => {
    await operator.stop();
    expect(operator.output()).to.not.match(/[A-Za-z0-9+/]{80,}={0,2}/);
  });

  const list = async (): Promise<JwtRotation[]> =>
    (
      await Promise.all(
        namespaces.map(
          async (namespace) =>
            (
              (await c.custom.listNamespacedCustomObject({
                group: GROUP,
                version: VERSION,
                namespace,
                plural: PLURAL,
              })) as {
                items: JwtRotation[];
              }
            ).items,
        ),
      )
    ).flat();

  it('gives the 200 next rotations that cover the 10-minute window, none later than the interval', async () => {
    const idle = await waitFor(
      'every JwtRotation Idle with a next rotation',
      async () => {
        const items = await list();
        return items.length === COUNT &&
          items.every((r) => r.status?.phase === 'Idle' && r.status.nextRotationAt)
          ? items
          : undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    // How long before the end of the interval each comes due (the schedule counts from when its key was made).
    const early = await Promise.all(
      idle.map(async (r) => {
        const secret = await c.core.readNamespacedSecret({
          namespace: r.metadata.namespace ?? '',
          name: r.spec.secretName,
        });
        const made = Date.parse(secret.metadata?.annotations?.['jwtrotation.io/key-created-at'] ?? '');
        return made + 60 * MINUTE - Date.parse(r.status?.nextRotationAt ?? '');
      }),
    );
    for (const e of early) expect(e).to.be.within(0, 10 * MINUTE - 1);
    const minutes = new Set(early.map((e) => Math.floor(e / MINUTE)));
    expect([...minutes].sort((a, b) => a - b)).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('rolls no more than the budget at any moment, as the Deployments show, across a kill -9', async () => {
    await waitFor(
      'every Deployment rolled out before the clock moves',
      async () => {
        const ds = await Promise.all(
          namespaces.map((namespace) => c.apps.listNamespacedDeployment({ namespace })),
        );
        return ds.every((d) => d.items.every((x) => !rolling(x))) || undefined;
      },
      { timeoutMs: 300_000, intervalMs: 1000 },
    );
    // One watch over every Deployment of the run: events come in the API server's order.
    const listed = await c.apps.listDeploymentForAllNamespaces({
      labelSelector: `test.jwtrotation.io/run=${runId}`,
    });
    const now = new Set<string>();
    const rolls = new Map<string, number>();
    let most = 0;
    const watch = await new k8s.Watch(suite.cluster.kubeConfig).watch(
      '/apis/apps/v1/deployments',
      {
        labelSelector: `test.jwtrotation.io/run=${runId}`,
        resourceVersion: listed.metadata?.resourceVersion,
      },
      (type: string, d: k8s.V1Deployment) => {
        const key = `${d.metadata?.namespace ?? ''}/${d.metadata?.name ?? ''}`;
        rolls.set(key, Math.max(rolls.get(key) ?? 0, d.metadata?.generation ?? 0));
        if (type !== 'DELETED' && rolling(d)) now.add(key);
        else now.delete(key);
        most = Math.max(most, now.size);
      },
      () => undefined,
    );
    // The queue is visible: JwtRotations waiting for the budget say so, with their place.
    let queued: JwtRotation | undefined;
    const lookForQueue = setInterval(() => {
      void list()
        .then((items) => {
          queued ??= items.find((r) =>
            r.status?.conditions?.some(
              (k) => k.type === 'Reconciling' && k.reason === 'WaitingForRolloutBudget',
            ),
          );
        })
        .catch(() => undefined);
    }, 2000);
    let finished: JwtRotation[] = [];
    try {
      // Every rotation comes due at once.
      setClock(clockFile, T0 + 70 * MINUTE);
      const completed = (items: JwtRotation[]): number =>
        items.filter((r) => r.status?.lastRotation?.outcome === 'Completed').length;
      await waitFor(
        `${OBSERVED / 3} rotations to complete`,
        async () => completed(await list()) >= OBSERVED / 3 || undefined,
        { timeoutMs: 900_000, intervalMs: 2000 },
      );
      // A crash in the middle: the new process counts who rolls from the cluster before admitting anyone.
      await operator.stop('SIGKILL');
      operator = await startOperator();
      finished = await waitFor(
        `${OBSERVED} rotations to complete`,
        async () => {
          const items = await list();
          return completed(items) >= OBSERVED ? items : undefined;
        },
        { timeoutMs: 900_000, intervalMs: 2000 },
      );
    } finally {
      clearInterval(lookForQueue);
      watch.abort();
    }
    // The queue was full all along: at the end, at least half the fleet had not been rolled once.
    const deployments = await c.apps.listDeploymentForAllNamespaces({
      labelSelector: `test.jwtrotation.io/run=${runId}`,
    });
    const untouched = deployments.items.filter((d) => d.metadata?.generation === 1);
    expect(untouched.length, 'Deployments never rolled when the watch ended').to.be.at.least(COUNT / 2);
    expect(most, 'Deployments rolling at once').to.be.at.most(BUDGET);
    // The budget was used, not a one-by-one crawl.
    expect(most).to.be.at.least(2);
    const waiting = queued?.status?.conditions?.find((k) => k.type === 'Reconciling');
    expect(waiting?.message ?? '').to.match(/place \d+ of \d+ in the queue \(\d+ of at most 10 rotations/);
    expect(queued?.status?.conditions?.find((k) => k.type === 'Ready')).to.include({
      status: 'False',
      reason: 'WaitingForRolloutBudget',
    });
    // Argo CD reads a queued JwtRotation as a rotation in progress, not as trouble.
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'jwtr-queued-')), 'queued.yaml');
    writeFileSync(file, stringify(queued));
    const argo = await run(await goToolPath('argocd-health'), [
      'eval',
      path.join(repoRoot, 'deploy/argocd/jwtrotation.io/JwtRotation/health.lua'),
      file,
    ]);
    const health = jsonLines<{ got: { status: string; message: string } }>(argo.stdout)[0]?.got;
    expect(health?.status, argo.stderr).to.equal('Healthy');
    expect(health?.message).to.contain('WaitingForRolloutBudget');
    // Three rolls per rotation (publish, signing switch, completion): generation 1 → 4, for every
    // rotation that completed, as the watch saw its Deployment.
    const done = finished.filter((r) => r.status?.lastRotation?.outcome === 'Completed');
    for (const r of done) {
      const key = `${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}`;
      expect(rolls.get(key), key).to.be.at.least(4);
    }
    const one = await getJwtRotation(c, done[0]?.metadata.namespace ?? '', done[0]?.metadata.name ?? '');
    expect(one.status?.phase).to.equal('Idle');
  });
});
