/**
 * spec.clusters and status.members (issue 24, docs/multi-cluster.md) against a real API server: the
 * kubeconfig Secret's key defaulting, and the OpenAPI and CEL rules that keep a member list usable.
 */
import { expect } from 'chai';

import { API_VERSION, KIND } from '../../src/api/constants.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { useCluster, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';

describe('spec.clusters on a real API server', function () {
  let cluster: TestCluster;
  let namespace: string;

  before(async function () {
    this.timeout(600_000);
    cluster = await useCluster();
    await installCrd(cluster);
    namespace = await cluster.newNamespace('members-crd');
  });

  const spec = (clusters: unknown): JwtRotationSpec =>
    ({
      secretName: 'api-jwt',
      targets: [{ kind: 'Deployment', name: 'api' }],
      clusters,
    }) as JwtRotationSpec;

  async function create(name: string, clusters: unknown): Promise<{ object?: JwtRotation; error: string }> {
    const input = JSON.stringify({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: { name },
      spec: spec(clusters),
    });
    const result = await cluster.kubectl(['create', '-f', '-', '-o', 'json'], { input, namespace });
    if (result.code !== 0) return { error: result.stderr };
    return { object: JSON.parse(result.stdout) as JwtRotation, error: '' };
  }

  async function rejection(name: string, clusters: unknown): Promise<string> {
    const result = await create(name, clusters);
    if (result.object !== undefined) throw new Error(`accepted clusters ${JSON.stringify(clusters)}`);
    return result.error;
  }

  it('accepts members by name alone, and defaults an explicit kubeconfig Secret key to value', async () => {
    const result = await create('two-members', [
      { name: 'eu-west' },
      { name: 'us-east', kubeconfigSecretRef: { name: 'us-east-jwt-rotation-kubeconfig' } },
    ]);
    if (result.object === undefined) throw new Error(result.error);
    expect(result.object.spec.clusters).to.deep.equal([
      { name: 'eu-west' },
      { name: 'us-east', kubeconfigSecretRef: { name: 'us-east-jwt-rotation-kubeconfig', key: 'value' } },
    ]);
  });

  it('rejects two members of the same name', async () => {
    const error = await rejection('duplicate', [{ name: 'eu-west' }, { name: 'eu-west' }]);
    expect(error).to.match(/spec\.clusters\[1\]: Duplicate value|clusters must have unique names/);
  });

  it('rejects a member name that is not a DNS label', async () => {
    const error = await rejection('not-a-label', [{ name: 'eu.west' }]);
    expect(error).to.include('spec.clusters[0].name: Invalid value: "eu.west"');
  });

  it('rejects more than 16 members', async () => {
    const many = Array.from({ length: 17 }, (_, i) => ({ name: `m${String(i)}` }));
    const error = await rejection('too-many', many);
    expect(error).to.include('spec.clusters: Too many: 17: must have at most 16 items');
  });

  it('rejects two members that name the same kubeconfig Secret (one by default)', async () => {
    const error = await rejection('same-secret', [
      { name: 'eu-west', kubeconfigSecretRef: { name: 'us-east-kubeconfig' } },
      { name: 'us-east' },
    ]);
    expect(error).to.include('two clusters name the same kubeconfig Secret');
  });

  it('rejects a kubeconfig Secret that is the Secret of JWT keys or a backup', async () => {
    const own = await rejection('own-keys', [{ name: 'eu-west', kubeconfigSecretRef: { name: 'api-jwt' } }]);
    expect(own).to.include("a cluster's kubeconfigSecretRef names a Secret of JWT keys");
    const backup = await rejection('backup-keys', [
      { name: 'eu-west', kubeconfigSecretRef: { name: 'other-jwtrotation-backup' } },
    ]);
    expect(backup).to.include("a cluster's kubeconfigSecretRef names a Secret of JWT keys");
  });

  it('rejects an empty member name', async () => {
    const error = await rejection('empty-name', [{ name: '' }]);
    expect(error).to.include('spec.clusters[0].name');
  });
});
