/**
 * The operator's API clients on a real API server (src/adapters/kubernetes/keep-alive.ts): requests
 * share one keep-alive pool instead of a TLS connection each, and a change of TLS material gets a
 * pool of its own.
 */
import https from 'node:https';
import type { Duplex } from 'node:stream';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { apiClient, keepAliveAuth } from '../../src/adapters/kubernetes/keep-alive.ts';
import { useCluster, type TestCluster } from '../support/cluster.ts';

/** Counts the connections `agent` opens from now on. */
function countConnections(agent: https.Agent): { opened: number } {
  const counter = { opened: 0 };
  const open = (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection;
  (agent as unknown as { createConnection: (...args: unknown[]) => Duplex }).createConnection = (
    ...args: unknown[]
  ) => {
    counter.opened += 1;
    return open.apply(agent, args);
  };
  return counter;
}

describe('API clients on one keep-alive pool, on a real API server', function () {
  let cluster: TestCluster;

  before(async function () {
    this.timeout(40 * 60_000);
    cluster = await useCluster();
  });

  it('sends 100 requests from two API clients, 4 at a time, over at most 4 connections', async function () {
    this.timeout(60_000);
    const kubeConfig = new k8s.KubeConfig();
    kubeConfig.loadFromString(cluster.kubeConfig.exportConfig());
    const core = apiClient(kubeConfig, k8s.CoreV1Api);
    const apps = apiClient(kubeConfig, k8s.AppsV1Api);
    await core.readNamespace({ name: 'default' });
    const agent = keepAliveAuth(kubeConfig).agent;
    expect(agent).to.be.instanceOf(https.Agent);
    const connections = countConnections(agent as https.Agent);
    let left = 100;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (; left > 0; left--) {
          if (left % 2 === 0) await core.readNamespace({ name: 'default' });
          else await apps.listNamespacedDeployment({ namespace: 'default', limit: 1 });
        }
      }),
    );
    // The first request left one idle connection; up to three more for the others running at once.
    expect(connections.opened).to.be.at.most(3);
    expect(keepAliveAuth(kubeConfig).agent).to.equal(agent);
  });

  it('keeps one pool per KubeConfig, and makes a new one when its TLS material changes', async function () {
    this.timeout(60_000);
    const a = new k8s.KubeConfig();
    a.loadFromString(cluster.kubeConfig.exportConfig());
    const b = new k8s.KubeConfig();
    b.loadFromString(cluster.kubeConfig.exportConfig());
    await apiClient(a, k8s.CoreV1Api).readNamespace({ name: 'default' });
    await apiClient(b, k8s.CoreV1Api).readNamespace({ name: 'default' });
    const first = keepAliveAuth(a).agent;
    expect(first).to.not.equal(undefined);
    expect(keepAliveAuth(b).agent).to.not.equal(first);
    // A server name to check the certificate against is TLS material: the old pool is not reused.
    const cluster0 = a.getCurrentCluster();
    if (cluster0 === null) throw new Error('no current cluster');
    (cluster0 as { tlsServerName?: string }).tlsServerName = 'localhost';
    await apiClient(a, k8s.CoreV1Api).readNamespace({ name: 'default' });
    const second = keepAliveAuth(a).agent;
    expect(second).to.not.equal(first);
    expect((second as https.Agent & { options: { servername?: string } }).options.servername).to.equal(
      'localhost',
    );
  });
});
