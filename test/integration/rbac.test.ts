/**
 * The operator with the permissions deploy/operator.yaml grants and nothing more: a real
 * ServiceAccount token, bound by the manifests' ClusterRole and Role, through a whole rotation,
 * a rollback and leader election. A missing verb shows up here as a 403; a verb granted beyond
 * what the ClusterRole and Role say shows up as a request that should have been refused.
 * (The namespaced mode, Roles only: rbac-namespaced.test.ts.)
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { parseAllDocuments, stringify } from 'yaml';
import { repoRoot, waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  secretValues,
  waitForPhase,
  eventsOf,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';
import { serviceAccountAccess, statusOf, type ServiceAccountAccess } from '../support/service-account.ts';

const RBAC_KINDS = [
  'Namespace',
  'ServiceAccount',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
];

describe('the operator under the RBAC of deploy/operator.yaml', function () {
  this.timeout(240_000);
  const suite = operatorSuite({ withOperator: false });
  let cluster: TestCluster;
  let c: Clients;
  let kubeconfigPath: string;
  let sa: ServiceAccountAccess;

  before(async () => {
    ({ cluster, c } = suite);
    const manifests = parseAllDocuments(readFileSync(path.join(repoRoot, 'deploy/operator.yaml'), 'utf8'))
      .map((d) => d.toJS() as { kind?: string })
      .filter((d) => RBAC_KINDS.includes(d.kind ?? ''));
    expect(manifests.map((m) => m.kind)).to.have.members(RBAC_KINDS);
    const applied = await cluster.kubectl(['apply', '-f', '-'], {
      input: manifests.map((m) => stringify(m)).join('---\n'),
    });
    expect(applied.code, applied.stderr).to.equal(0);
    sa = await serviceAccountAccess(cluster, 'jwt-rotation-operator', 'jwt-rotation-system');
    kubeconfigPath = sa.kubeconfigPath;
  });

  it('rotates, rolls back and holds the leader Lease with exactly those permissions', async () => {
    const ns = await cluster.newNamespace('rbac');
    const operator = await startOperatorProcess({
      kubeconfigPath,
      env: {
        LEADER_ELECTION: 'true',
        LEASE_NAMESPACE: 'jwt-rotation-system',
        LEASE_NAME: `rbac-test-${String(process.pid)}`,
        POD_NAME: 'rbac-test',
      },
    });
    try {
      await createConsumerDeployment(c, ns, 'api', 'api-jwt');
      await createJwtRotation(c, ns, 'api', {
        secretName: 'api-jwt',
        targets: [{ kind: 'Deployment', name: 'api' }],
        rollout: { signingDelay: '3s', pollInterval: '500ms' },
        monitoring: { minDuration: '2s', maxDuration: '1m', requireOldTokenExpiry: false },
      });
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
      const original = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET;

      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'rbac' });
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
      await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'rbac' });
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'RolledBack');
      expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(original);

      // Events are written after the status that records the outcome: wait for them.
      const events = await waitFor('the RotationCompleted and RolledBack Events', async () => {
        const all = await eventsOf(c, ns);
        const reasons = all.map((e) => e.reason);
        return reasons.includes('RotationCompleted') && reasons.includes('RolledBack') ? all : undefined;
      });
      expect(events.map((e) => e.reason)).to.include.members(['RotationCompleted', 'RolledBack']);
      const denied = operator.logs.filter((l) => /HTTP 403|forbidden/i.test(JSON.stringify(l)));
      expect(denied, JSON.stringify(denied.slice(0, 3))).to.deep.equal([]);
    } finally {
      await operator.stop();
    }
  });
  it('refuses a request outside the ClusterRole and the Role', async () => {
    const ns = await cluster.newNamespace('rbac-refused');
    // Granted, so the answers below are RBAC's and not a broken token's.
    expect(await sa.can('list', 'secrets')).to.equal(true);
    expect(await sa.can('get', 'configmaps', ns)).to.equal(true);
    expect(await sa.can('get', 'leases.coordination.k8s.io', 'jwt-rotation-system')).to.equal(true);
    // Not granted: SelfSubjectAccessReviews (kubectl auth can-i) ...
    const refused: [verb: string, resource: string, namespace?: string][] = [
      ['list', 'configmaps'],
      ['list', 'configmaps', ns],
      ['patch', 'pods', ns],
      ['create', 'pods', ns],
      ['get', 'leases.coordination.k8s.io', ns],
      ['get', 'leases.coordination.k8s.io', 'kube-system'],
      ['patch', 'jwtrotations.jwtrotation.io', ns],
      ['delete', 'jwtrotations.jwtrotation.io', ns],
      ['patch', 'secrets', ns],
      ['delete', 'deployments.apps', ns],
      ['list', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['create', 'clusterrolebindings.rbac.authorization.k8s.io'],
      ['create', 'serviceaccounts/token', 'jwt-rotation-system'],
      ['list', 'nodes'],
    ];
    for (const [verb, resource, namespace] of refused) {
      expect(
        await sa.can(verb, resource, namespace),
        `${verb} ${resource} in ${namespace ?? 'every namespace'}`,
      ).to.be.false;
    }
    // ... and the requests themselves, refused with 403 by the API server.
    const core = sa.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const leases = sa.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    expect(await statusOf(core.listConfigMapForAllNamespaces()), 'list ConfigMaps cluster-wide').to.equal(
      403,
    );
    expect(
      await statusOf(core.patchNamespacedPod({ namespace: ns, name: 'any', body: {} })),
      'patch a Pod',
    ).to.equal(403);
    expect(
      await statusOf(leases.readNamespacedLease({ namespace: 'kube-system', name: 'kube-scheduler' })),
      'read a Lease outside jwt-rotation-system',
    ).to.equal(403);
    expect(await statusOf(leases.listLeaseForAllNamespaces()), 'list Leases cluster-wide').to.equal(403);
  });
});
