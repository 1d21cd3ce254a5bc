import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';

import { kwokNodeName, kwokTaint, onKwok, useCluster, waitFor } from '../support/cluster.ts';
import type { TestCluster } from '../support/cluster.ts';

describe('the local control plane', function () {
  let cluster: TestCluster;

  before(async function () {
    // A warm start takes ~7 s; a cold binary cache means a build of 15-25 min first.
    this.timeout(40 * 60_000);
    cluster = await useCluster();
  });

  it('has a Ready kwok node, tainted so that only Pods asking for it land there, that kubectl lists', async function () {
    const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const node = await core.readNode({ name: kwokNodeName });
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.status, 'Ready condition').to.equal('True');
    expect(node.metadata?.labels?.type).to.equal('kwok');
    expect(node.metadata?.annotations?.['kwok.x-k8s.io/node']).to.equal('fake');
    expect(node.spec?.taints ?? []).to.deep.equal([kwokTaint]);
    // From tools/cluster/kwok-node.yaml, kept by kwok's node-initialize stage, which adds the address.
    expect(node.status?.allocatable).to.include({ cpu: '32', memory: '128Gi', pods: '12k' });
    expect(node.status?.addresses).to.deep.include({ type: 'InternalIP', address: '10.0.0.1' });

    const res = await cluster.kubectl(['get', 'nodes', '-o', 'name']);
    expect(res.code, res.stderr).to.equal(0);
    // The real node (tools/cluster/node.sh) is there too unless CLUSTER_REAL_NODE=0.
    expect(res.stdout.trim().split('\n')).to.include(`node/${kwokNodeName}`);
  });

  it('reports a failing kubectl command through its exit code instead of throwing', async function () {
    const res = await cluster.kubectl(['get', 'node', 'no-such-node']);
    expect(res.code).to.not.equal(0);
    expect(res.stderr).to.match(/not ?found/i);
  });

  it('rolls a Deployment out to a new ReplicaSet when its pod template changes', async function () {
    this.timeout(180_000);
    const namespace = await cluster.newNamespace('rollout');
    const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const name = 'app';
    const labels = { app: name };

    await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name, labels },
        spec: {
          replicas: 3,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            // kwok never pulls or runs the image; it only fakes the Pod status.
            spec: { ...onKwok, containers: [{ name: 'app', image: 'example.invalid/app:1' }] },
          },
        },
      },
    });

    const readDeployment = () => apps.readNamespacedDeployment({ name, namespace });
    const listReplicaSets = async () =>
      (await apps.listNamespacedReplicaSet({ namespace, labelSelector: 'app=app' })).items;

    await waitFor('3 available replicas of the first rollout', async () => {
      const d = await readDeployment();
      return d.status?.availableReplicas === 3 && d.status.updatedReplicas === 3 && d;
    });
    const [firstRs, ...otherRs] = await listReplicaSets();
    expect(otherRs, 'ReplicaSets after the first rollout').to.have.length(0);
    expect(firstRs?.status?.readyReplicas).to.equal(3);
    const firstRsName = firstRs!.metadata!.name!;

    const restartedAt = new Date().toISOString();
    await apps.patchNamespacedDeployment(
      {
        name,
        namespace,
        body: {
          spec: {
            template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': restartedAt } } },
          },
        },
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );

    const rolledOut = await waitFor(
      'the second rollout to complete',
      async () => {
        const d = await readDeployment();
        const s = d.status;
        const done =
          d.metadata?.generation !== undefined &&
          s?.observedGeneration === d.metadata.generation &&
          s.updatedReplicas === 3 &&
          s.readyReplicas === 3 &&
          s.availableReplicas === 3 &&
          s.replicas === 3;
        return done && d;
      },
      { timeoutMs: 120_000 },
    );
    expect(rolledOut.metadata?.generation).to.equal(2);
    expect(rolledOut.metadata?.annotations?.['deployment.kubernetes.io/revision']).to.equal('2');

    const replicaSets = await listReplicaSets();
    expect(replicaSets).to.have.length(2);
    const oldRs = replicaSets.find((rs) => rs.metadata?.name === firstRsName);
    const newRs = replicaSets.find((rs) => rs.metadata?.name !== firstRsName);
    expect(oldRs?.spec?.replicas, 'old ReplicaSet spec.replicas').to.equal(0);
    expect(oldRs?.status?.replicas ?? 0, 'old ReplicaSet status.replicas').to.equal(0);
    expect(newRs?.spec?.replicas, 'new ReplicaSet spec.replicas').to.equal(3);
    expect(newRs?.status?.readyReplicas).to.equal(3);
    expect(newRs?.status?.availableReplicas).to.equal(3);
    expect(newRs?.spec?.template?.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).to.equal(
      restartedAt,
    );

    // The old Pods are gone (kwok deletes terminating Pods) and the new ones run on the kwok node.
    const pods = await waitFor('only the 3 new Pods to remain', async () => {
      const items = (await core.listNamespacedPod({ namespace, labelSelector: 'app=app' })).items;
      return items.length === 3 && items;
    });
    for (const pod of pods) {
      expect(pod.metadata?.ownerReferences?.[0]?.name).to.equal(newRs?.metadata?.name);
      expect(pod.spec?.nodeName).to.equal(kwokNodeName);
      expect(pod.status?.phase).to.equal('Running');
      expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
    }
  });
});
