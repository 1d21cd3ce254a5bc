/**
 * The namespaced mode: the chart rendered with `rbac.scope: Namespaced` and one watched namespace
 * (A) grants Roles only. The operator, with a token of the chart's ServiceAccount and the chart's
 * WATCH_NAMESPACE(S), starts without reading its CRD, rotates and rolls back in A, and never acts on
 * a JwtRotation in another namespace (B). Requests outside A (a Secret in B, every Secret, the CRD)
 * are refused by the API server.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { parseAllDocuments, stringify } from 'yaml';

import { GROUP, PLURAL, VERSION } from '../../src/api/constants.ts';
import { repoRoot, waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  eventsOf,
  getJwtRotation,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';
import { serviceAccountAccess, statusOf, type ServiceAccountAccess } from '../support/service-account.ts';
import { helmPath, run } from '../support/tools.ts';

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: unknown[];
  spec?: { template: { spec: { serviceAccountName: string; containers: { env?: EnvVar[] }[] } } };
}

interface EnvVar {
  name: string;
  value?: string;
}

const CHART = path.join(repoRoot, 'charts/jwt-rotation-operator');
const RBAC_KINDS = ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];

describe('the operator under the namespaced RBAC of the chart (rbac.scope: Namespaced)', function () {
  this.timeout(300_000);
  const suite = operatorSuite({ withOperator: false });
  let cluster: TestCluster;
  let c: Clients;
  let release: string; // the release namespace: ServiceAccount, leader-election Lease
  let nsA: string; // watched
  let nsB: string; // not watched
  let rendered: K8sObject[];
  let sa: ServiceAccountAccess;
  let operatorEnv: Record<string, string>;

  before(async function () {
    this.timeout(1_800_000); // a cold helm build
    ({ cluster, c } = suite);
    const helm = await helmPath();
    [release, nsA, nsB] = await Promise.all([
      cluster.newNamespace('rbac-op'),
      cluster.newNamespace('rbac-a'),
      cluster.newNamespace('rbac-b'),
    ]);
    const scratch = mkdtempSync(path.join(tmpdir(), 'jwtr-rbac-ns-'));
    const values = path.join(scratch, 'values.yaml');
    writeFileSync(values, stringify({ rbac: { scope: 'Namespaced' }, watchNamespaces: [nsA] }));
    const out = await run(helm, ['template', 'jwtr', CHART, '--namespace', release, '-f', values], {
      env: {
        ...process.env,
        HELM_CONFIG_HOME: path.join(scratch, 'config'),
        HELM_CACHE_HOME: path.join(scratch, 'cache'),
        HELM_DATA_HOME: path.join(scratch, 'data'),
      },
    });
    expect(out.code, out.stderr).to.equal(0);
    rendered = parseAllDocuments(out.stdout)
      .map((d) => d.toJS() as K8sObject | null)
      .filter((d): d is K8sObject => d !== null);

    const rbac = rendered.filter((o) => RBAC_KINDS.includes(o.kind));
    const applied = await cluster.kubectl(['apply', '-f', '-'], {
      input: rbac.map((o) => stringify(o)).join('---\n'),
    });
    expect(applied.code, applied.stderr).to.equal(0);

    const deployment = rendered.find((o) => o.kind === 'Deployment');
    const serviceAccount = deployment?.spec?.template.spec.serviceAccountName ?? '';
    sa = await serviceAccountAccess(cluster, serviceAccount, release);
    // The chart's own settings for the process: the watched namespaces and the Lease name.
    operatorEnv = Object.fromEntries(
      (deployment?.spec?.template.spec.containers[0]?.env ?? [])
        .filter((e) => ['WATCH_NAMESPACE', 'WATCH_NAMESPACES', 'LEASE_NAME'].includes(e.name))
        .map((e) => [e.name, e.value ?? '']),
    );
    expect(operatorEnv).to.include({ WATCH_NAMESPACES: nsA });
  });

  it('renders Roles only: the rules in the watched namespace, the Lease in the release namespace', () => {
    const kinds = rendered.filter((o) => RBAC_KINDS.includes(o.kind)).map((o) => o.kind);
    expect(kinds).to.not.include('ClusterRole');
    expect(kinds).to.not.include('ClusterRoleBinding');
    const roles = rendered.filter((o) => o.kind === 'Role');
    expect(roles.map((r) => r.metadata.namespace)).to.have.members([nsA, release]);
    const bindings = rendered.filter((o) => o.kind === 'RoleBinding');
    expect(bindings.map((b) => b.metadata.namespace)).to.have.members([nsA, release]);
    // Nothing in the rules is cluster-scoped: no CRD read.
    expect(JSON.stringify(roles)).to.not.include('customresourcedefinitions');
  });

  it('refuses a request outside the watched namespace, with the same token', async () => {
    // Granted in A, so the refusals below are RBAC's and not a broken token's.
    expect(await sa.can('list', 'secrets', nsA)).to.equal(true);
    expect(await sa.can('watch', 'jwtrotations.jwtrotation.io', nsA)).to.equal(true);
    expect(await sa.can('patch', 'leases.coordination.k8s.io', release)).to.equal(true);
    const refused: [verb: string, resource: string, namespace?: string][] = [
      ['get', 'secrets', nsB],
      ['list', 'secrets', nsB],
      ['list', 'secrets'],
      ['watch', 'secrets'],
      ['get', 'secrets', release],
      ['list', 'jwtrotations.jwtrotation.io', nsB],
      ['list', 'jwtrotations.jwtrotation.io'],
      ['patch', 'deployments.apps', nsB],
      ['list', 'pods'],
      ['get', 'customresourcedefinitions.apiextensions.k8s.io'],
      ['get', 'leases.coordination.k8s.io', nsA],
    ];
    for (const [verb, resource, namespace] of refused) {
      expect(
        await sa.can(verb, resource, namespace),
        `${verb} ${resource} in ${namespace ?? 'every namespace'}`,
      ).to.equal(false);
    }

    // The requests themselves: a real Secret in B, read with the operator's token.
    await c.core.createNamespacedSecret({
      namespace: nsB,
      body: { metadata: { name: 'other-team' }, stringData: { password: 'not-for-the-operator' } },
    });
    const core = sa.kubeConfig.makeApiClient(k8s.CoreV1Api);
    expect(await statusOf(core.readNamespacedSecret({ namespace: nsB, name: 'other-team' }))).to.equal(403);
    expect(await statusOf(core.listSecretForAllNamespaces())).to.equal(403);
    expect(await statusOf(core.listNamespacedSecret({ namespace: nsB }))).to.equal(403);
    const crds = sa.kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
    expect(await statusOf(crds.readCustomResourceDefinition({ name: `${PLURAL}.${GROUP}` }))).to.equal(403);
    const custom = sa.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    expect(
      await statusOf(
        custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: nsB, plural: PLURAL }),
      ),
    ).to.equal(403);
    // In A the same token reads (the Secret list is allowed, and empty of managed Secrets yet).
    await core.listNamespacedSecret({ namespace: nsA });
  });

  it('rotates and rolls back in the watched namespace, and never acts on a JwtRotation elsewhere', async () => {
    // B's JwtRotation exists before the operator starts: any watch of B would list it at once.
    await createConsumerDeployment(c, nsB, 'api', 'api-jwt');
    await createJwtRotation(c, nsB, 'api', {
      secretName: 'api-jwt',
      targets: [{ kind: 'Deployment', name: 'api' }],
    });

    const operator = await startOperatorProcess({
      kubeconfigPath: sa.kubeconfigPath,
      env: {
        ...operatorEnv,
        LEADER_ELECTION: 'true',
        LEASE_NAMESPACE: release,
        POD_NAME: 'rbac-namespaced-test',
      },
    });
    try {
      // It started without the CRD read (403), by asking A for JwtRotations instead.
      expect(operator.logs.map((l) => l.message)).to.include(
        'CRD not readable (namespaced RBAC); every watched namespace serves it',
      );

      await createConsumerDeployment(c, nsA, 'api', 'api-jwt');
      await createJwtRotation(c, nsA, 'api', {
        secretName: 'api-jwt',
        targets: [{ kind: 'Deployment', name: 'api' }],
        rollout: { signingDelay: '3s', pollInterval: '500ms' },
        monitoring: { minDuration: '2s', maxDuration: '1m', requireOldTokenExpiry: false },
      });
      await waitForPhase(c, nsA, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
      const original = (await secretValues(c, nsA, 'api-jwt'))?.JWT_SECRET;
      expect(original).to.be.a('string');

      await annotate(c, nsA, 'api', { 'jwtrotation.io/rotate': 'rbac-namespaced' });
      await waitForPhase(c, nsA, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
      expect((await secretValues(c, nsA, 'api-jwt'))?.JWT_SECRET).to.not.equal(original);
      await annotate(c, nsA, 'api', { 'jwtrotation.io/rollback': 'rbac-namespaced' });
      const rolledBack = await waitForPhase(
        c,
        nsA,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'RolledBack',
      );
      expect((await secretValues(c, nsA, 'api-jwt'))?.JWT_SECRET).to.equal(original);
      await waitFor('the RotationCompleted and RolledBack Events', async () => {
        const reasons = (await eventsOf(c, nsA)).map((e) => e.reason);
        return reasons.includes('RotationCompleted') && reasons.includes('RolledBack');
      });

      // B: change its JwtRotation now too (an event a watch of B would deliver), then wait for the
      // operator's next look at A after that change: by then it has had B's object since its start
      // and a fresh event about it, and never passed over it.
      await annotate(c, nsB, 'api', { 'jwtrotation.io/rotate': 'not-watched' });
      await annotate(c, nsA, 'api', { 'example.com/touched': 'after-b' });
      const latestA = (await getJwtRotation(c, nsA, 'api')).metadata.resourceVersion ?? '';
      expect(
        BigInt(latestA) > BigInt(rolledBack.metadata.resourceVersion ?? '0'),
        'a later resourceVersion',
      ).to.equal(true);
      await operator.lookedAt(nsA, 'api', latestA);

      const passesOverB = operator.logs.filter((l) => l.namespace === nsB);
      expect(passesOverB, JSON.stringify(passesOverB.slice(0, 3))).to.deep.equal([]);
      const inB = await getJwtRotation(c, nsB, 'api');
      expect(inB.status, 'the status of the JwtRotation in B').to.equal(undefined);
      expect(await secretValues(c, nsB, 'api-jwt'), 'the Secret of the JwtRotation in B').to.equal(undefined);
      const eventsInB = (await eventsOf(c, nsB)).filter((e) => e.involvedObject.kind === 'JwtRotation');
      expect(eventsInB, 'Events on the JwtRotation in B').to.deep.equal([]);

      // And it did all that without a single refused request.
      const denied = operator.logs.filter((l) => /HTTP 403|forbidden/i.test(JSON.stringify(l)));
      expect(denied, JSON.stringify(denied.slice(0, 3))).to.deep.equal([]);
    } finally {
      await operator.stop();
    }
  });
});
