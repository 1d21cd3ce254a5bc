/**
 * Rotations converge however slow the rollouts: many JwtRotations rotated at once, every target's
 * rollout far slower than rollout.signingDelay (minReadySeconds), and nothing is ever re-rolled.
 * Each target's template is changed exactly three times per rotation: publish, switch, complete.
 */
import { expect } from 'chai';

import { onKwok, waitFor, type TestCluster } from '../support/cluster.ts';
import { annotate, createJwtRotation, getJwtRotation, type Clients } from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';

/** JwtRotations rotated at once; CONVERGENCE_COUNT raises it for a longer local run. */
const COUNT = Number(process.env.CONVERGENCE_COUNT ?? 20);
/** Seconds before a new pod counts as available: 10 times signingDelay. */
const MIN_READY_SECONDS = Number(process.env.CONVERGENCE_MIN_READY_SECONDS ?? 20);

describe('convergence with rollouts slower than signingDelay', function () {
  this.timeout(20 * 60_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;
  before(() => ({ cluster, c } = suite));

  it(`completes ${COUNT} rotations started at once, rolling each target exactly three times`, async () => {
    const ns = await cluster.newNamespace('converge');
    const names = Array.from({ length: COUNT }, (_, i) => `app-${i}`);
    await Promise.all(
      names.map(async (name) => {
        await c.apps.createNamespacedDeployment({
          namespace: ns,
          body: {
            metadata: { name },
            spec: {
              replicas: 1,
              minReadySeconds: MIN_READY_SECONDS,
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
        await createJwtRotation(c, ns, name, {
          secretName: `${name}-jwt`,
          targets: [{ kind: 'Deployment', name }],
          rollout: { signingDelay: '2s', pollInterval: '1s' },
          monitoring: { minDuration: '1s', maxDuration: '10m', requireOldTokenExpiry: false },
        });
      }),
    );
    await waitFor(
      'every JwtRotation Idle with its Secret',
      async () => {
        const all = await Promise.all(names.map((n) => getJwtRotation(c, ns, n)));
        return all.every((r) => r.status?.phase === 'Idle' && r.status.currentKeyFingerprint !== undefined);
      },
      { timeoutMs: 5 * 60_000, intervalMs: 1000 },
    );
    const generations = await Promise.all(
      names.map(
        async (n) =>
          (await c.apps.readNamespacedDeployment({ namespace: ns, name: n })).metadata?.generation ?? 0,
      ),
    );

    const started = Date.now();
    await Promise.all(names.map((n) => annotate(c, ns, n, { 'jwtrotation.io/rotate': 'all-at-once' })));
    await waitFor(
      `all ${COUNT} rotations completed`,
      async () => {
        const all = await Promise.all(names.map((n) => getJwtRotation(c, ns, n)));
        return all.every((r) => r.status?.lastRotation?.outcome === 'Completed');
      },
      { timeoutMs: 15 * 60_000, intervalMs: 2000 },
    );
    const seconds = Math.round((Date.now() - started) / 1000);
    console.log(
      `      ${COUNT} rotations, minReadySeconds ${MIN_READY_SECONDS}, signingDelay 2s: completed in ${seconds} s`,
    );

    for (const [i, n] of names.entries()) {
      const d = await c.apps.readNamespacedDeployment({ namespace: ns, name: n });
      expect(d.metadata?.generation, `${n}: template changes`).to.equal((generations[i] ?? 0) + 3);
    }
  });
});
