/**
 * The control plane restarts under the operator (issue 10, "The API server restarts"): kube-apiserver,
 * and then etcd, are stopped and started again (tools/cluster/restart.sh) while a rotation is in
 * DualKey. The operator process stays up, its watch resumes, and the rotation completes without
 * anyone touching it. The time from the component being healthy again to the operator's watch
 * running again is printed (a figure, not asserted).
 *
 * On a control plane of its own (test/support/private-cluster.ts), so stopping its API server and
 * etcd breaks no other file's watch and the file runs side by side with the others.
 */
import { expect } from 'chai';
import type { JwtRotationSpec } from '../../src/api/types.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { waitFor } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import {
  annotate,
  clients,
  createConsumerDeployment,
  createJwtRotation,
  isRolledOut,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { startPrivateCluster, type PrivateCluster } from '../support/private-cluster.ts';

const spec = (secretName: string): JwtRotationSpec => ({
  secretName,
  targets: [{ kind: 'Deployment', name: 'api' }],
  tokenTTL: '15m',
  refreshTokenTTL: '1h',
  // Long enough that DualKey outlasts the restart; the rotation then goes on by itself.
  rollout: { signingDelay: '30s', pollInterval: '500ms' },
  monitoring: { minDuration: '2s', maxDuration: '1m', requireOldTokenExpiry: false },
});

describe('the operator rides out control-plane restarts', function () {
  this.timeout(600_000);
  let cluster: PrivateCluster | undefined;
  let c: Clients;
  let operator: OperatorProcess | undefined;

  before(async function () {
    this.timeout(300_000);
    const own = await startPrivateCluster('restarts');
    cluster = own;
    await installCrd(own);
    c = clients(own);
    operator = await startOperatorProcess({ kubeconfigPath: own.kubeconfigPath });
  });

  after(async () => {
    await operator?.stop();
    expect(operator?.output() ?? '').to.not.match(/[A-Za-z0-9+/]{80,}={0,2}/);
    await cluster?.stop();
  });

  for (const component of ['kube-apiserver', 'etcd'] as const) {
    it(`finishes a rotation when ${component} restarts during DualKey, without restarting itself`, async () => {
      if (cluster === undefined || operator === undefined) throw new Error('no control plane');
      const started = operator;
      const ns = await cluster.newNamespace(`restart-${component === 'etcd' ? 'etcd' : 'api'}`);
      await c.core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'api-jwt' }, stringData: { JWT_SECRET: 'original-key-value' } },
      });
      await createConsumerDeployment(c, ns, 'api', 'api-jwt', 1);
      await createJwtRotation(c, ns, 'api', spec('api-jwt'));
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
      await waitFor(
        'the Deployment to be available',
        async () => (await isRolledOut(c, ns, 'api')) || undefined,
      );

      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': component });
      await waitForPhase(c, ns, 'api', 'DualKey', (r) => r.status?.newKeyFingerprint !== undefined);
      const newKey = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET_NEW ?? '';
      expect(newKey).to.not.equal('');

      const resumedBefore = started.logs.filter((l) => l.message === 'watch resumed').length;
      const healthyAt = await cluster.restart(component, 2);

      // The operator comes back in-process: its next pass over the JwtRotation after the component
      // is healthy again. The API server's restart breaks the watch (then a 'watch resumed' line
      // says how long it was down); etcd's restart may not: the API server keeps the watch open
      // and only the passes fail meanwhile, retried with backoff.
      const pass = await waitFor(
        'the operator to finish a pass after the restart',
        () =>
          Promise.resolve(
            started.logs.find(
              (l) =>
                l.message === 'pass done' &&
                l.namespace === ns &&
                Date.parse(String(l.timestamp)) >= healthyAt,
            ),
          ),
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      const resumedLines = (): Record<string, unknown>[] =>
        started.logs.filter((l) => l.message === 'watch resumed').slice(resumedBefore);
      if (component === 'kube-apiserver') {
        // Killing the API server breaks the watch; it must come back.
        await waitFor('the watch to resume', () => Promise.resolve(resumedLines()[0]), { timeoutMs: 60_000 });
      }
      const resumed = resumedLines();
      process.stdout.write(
        `      ${component} restart: first pass ${String(Date.parse(String(pass.timestamp)) - healthyAt)} ms after ${component} was healthy again; ` +
          (resumed.length > 0
            ? `watch down ${resumed.map((r) => String(r.downMs)).join(', ')} ms, back ${resumed
                .map((r) => String(Date.parse(String(r.timestamp)) - healthyAt))
                .join(', ')} ms after ${component} was healthy`
            : 'the watch never dropped') +
          `; ${String(started.logs.filter((l) => l.message === 'reconcile failed; retrying' && l.key === `${ns}/api`).length)} failed passes retried\n`,
      );

      // The rotation finishes by itself.
      const done = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) =>
          r.status?.lastRotation?.outcome === 'Completed' && r.status.handledRequests?.rotate === component,
        180_000,
      );
      expect(done.status?.lastRotation?.newKeyFingerprint).to.equal(fingerprint(newKey));
      expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(newKey);
      // Still the same process: the operator was never restarted, and it still works.
      expect(operator).to.equal(started);
      expect(started.output()).to.not.match(/failed to start|exited/);
    });
  }
});
