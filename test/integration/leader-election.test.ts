/**
 * Two operator replicas on a real control plane: only the holder of the Lease acts, and the
 * other takes over when the leader dies.
 */
import { expect } from 'chai';
import { waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';

describe('leader election between two operator replicas', function () {
  this.timeout(240_000);
  const suite = operatorSuite({ withOperator: false });
  let cluster: TestCluster;
  let c: Clients;

  before(() => ({ cluster, c } = suite));

  it('lets only the leader act, and hands over to the follower when the leader is killed', async () => {
    const ns = await cluster.newNamespace('leader');
    const election = (identity: string): Record<string, string> => ({
      LEADER_ELECTION: 'true',
      LEASE_NAMESPACE: ns,
      LEASE_NAME: 'jwt-rotation-operator',
      LEASE_DURATION_MS: '3000',
      LEASE_RETRY_PERIOD_MS: '500',
      POD_NAME: identity,
    });
    const a = await startOperatorProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: ns,
      env: election('replica-a'),
    });
    const b = await startOperatorProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      namespace: ns,
      env: election('replica-b'),
      waitUntil: 'up',
    });
    try {
      expect(await a.metric('jwtrotation_leader')).to.equal(1);
      expect(await b.metric('jwtrotation_leader')).to.equal(0);
      const lease = await cluster.kubeConfig
        .makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api)
        .readNamespacedLease({ namespace: ns, name: 'jwt-rotation-operator' });
      expect(lease.spec?.holderIdentity).to.equal('replica-a');

      await createConsumerDeployment(c, ns, 'api', 'api-jwt');
      await createJwtRotation(c, ns, 'api', {
        secretName: 'api-jwt',
        targets: [{ kind: 'Deployment', name: 'api' }],
        rollout: { signingDelay: '3s', pollInterval: '500ms' },
        monitoring: { minDuration: '3s', maxDuration: '1m', requireOldTokenExpiry: false },
      });
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
      expect(a.logs.some((l) => l.message === 'acting')).to.equal(true);
      expect(
        b.logs.some((l) => l.message === 'acting'),
        'the follower made no change',
      ).to.equal(false);
      expect(await b.metric('jwtrotation_api_writes_total')).to.equal(0);

      await a.stop('SIGKILL');
      await waitFor(
        'the follower to take over',
        () => Promise.resolve(b.logs.find((l) => l.message === 'operator started')),
        { timeoutMs: 30_000 },
      );
      expect(await b.metric('jwtrotation_leader')).to.equal(1);

      const original = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET;
      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'after-failover' });
      const done = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'Completed',
      );
      expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.not.equal(original);
      expect(done.status?.history).to.have.length(1);
    } finally {
      await a.stop('SIGKILL');
      await b.stop('SIGKILL');
    }
  });
});
