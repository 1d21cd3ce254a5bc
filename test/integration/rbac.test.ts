/**
 * The operator with the permissions deploy/operator.yaml grants and nothing more: a real
 * ServiceAccount token, bound by the manifests' ClusterRole and Role, through a whole rotation,
 * a rollback and leader election. A missing verb shows up here as a 403.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
    const token = await cluster.kubectl([
      'create',
      'token',
      'jwt-rotation-operator',
      '-n',
      'jwt-rotation-system',
      '--duration=1h',
    ]);
    expect(token.code, token.stderr).to.equal(0);

    // The admin kubeconfig's server and CA, with the ServiceAccount's token instead of the admin cert.
    const server = cluster.kubeConfig.getCurrentCluster();
    kubeconfigPath = path.join(tmpdir(), `jwtr-sa-${String(process.pid)}.kubeconfig`);
    writeFileSync(
      kubeconfigPath,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'local',
            cluster: {
              server: server?.server,
              'certificate-authority-data': server?.caData,
              'certificate-authority': server?.caFile,
            },
          },
        ],
        users: [{ name: 'operator', user: { token: token.stdout.trim() } }],
        contexts: [{ name: 'operator', context: { cluster: 'local', user: 'operator' } }],
        'current-context': 'operator',
      }),
    );
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
        monitoring: { minDuration: '2s', maxDuration: '1m' },
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
});
