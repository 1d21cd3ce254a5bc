/**
 * The local cluster's real node (tools/cluster/node.sh): kubelet, containerd and kube-proxy running
 * real containers from the images `npm run image:build` makes. For test/e2e.
 *
 *   const pod = await runPod(cluster, ns, { name: 'consumer', containers: [...] });  // Ready, on the real node
 *   const { stdout } = await execIn(cluster, ns, pod, ['node', '-e', '...']);
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import * as k8s from '@kubernetes/client-node';

import { waitFor, type TestCluster } from './cluster.ts';

export const realNodeName = 'jwtr-node-0';
/** CLUSTER_REAL_NODE=0 starts the cluster without it (tools/cluster/up.sh); the e2e tier then skips. */
export const realNodeEnabled = process.env.CLUSTER_REAL_NODE !== '0';
export const bridge = { name: 'jwtr0', address: '10.244.0.1', podCidr: '10.244.0.0/24' } as const;
export const guardTable = 'jwtr_guard';

export const images = {
  consumer: 'localhost/jwt-consumer:dev',
  operator: 'localhost/jwt-rotation-operator:dev',
  /** The Go and Python consumer kits' demo services (sdk/go/examples/server, sdk/python/examples/server.py). */
  consumerGo: 'localhost/jwt-consumer-go:dev',
  consumerPython: 'localhost/jwt-consumer-python:dev',
} as const;

const execFileAsync = promisify(execFile);

/** `nft -j list table inet jwtr_guard`, parsed; undefined if the table does not exist. */
export async function readGuard(): Promise<NftRule[] | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync('nft', ['-j', 'list', 'table', 'inet', guardTable]));
  } catch {
    return undefined;
  }
  const doc = JSON.parse(stdout) as { nftables: Record<string, unknown>[] };
  return doc.nftables.flatMap((entry) => (entry.rule === undefined ? [] : [entry.rule as NftRule]));
}

export interface NftRule {
  chain: string;
  expr: unknown[];
  comment?: string;
}

/** True if the rule's expressions mention `value` anywhere (a port, an address, an interface name). */
export function ruleMentions(rule: NftRule, value: string | number): boolean {
  return JSON.stringify(rule.expr).includes(JSON.stringify(value));
}

/** The images imported into the node's containerd (`ctr images ls`), by name. */
export async function nodeImages(): Promise<string[]> {
  const { stdout } = await execFileAsync('ctr', [
    '--address',
    '/run/jwtr-node/containerd.sock',
    '-n',
    'k8s.io',
    'images',
    'ls',
    '-q',
  ]);
  return stdout.split('\n').filter(Boolean);
}

/** Creates a Pod (no node selector: the taint on kwok sends it to the real node) and waits until it is Ready. */
export async function runPod(
  cluster: TestCluster,
  namespace: string,
  spec: { name: string } & k8s.V1PodSpec,
  opts: { timeoutMs?: number } = {},
): Promise<k8s.V1Pod> {
  const core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const { name, ...podSpec } = spec;
  await core.createNamespacedPod({
    namespace,
    body: { metadata: { name, labels: { app: name } }, spec: podSpec },
  });
  return waitFor(
    `Pod ${namespace}/${name} Ready`,
    async () => {
      const pod = await core.readNamespacedPod({ namespace, name });
      const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting?.reason)?.state?.waiting;
      if (waiting?.reason === 'ErrImageNeverPull' || waiting?.reason === 'CrashLoopBackOff') {
        throw new Error(`${waiting.reason}: ${waiting.message ?? ''}`);
      }
      const ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
      return ready && pod;
    },
    { timeoutMs: opts.timeoutMs ?? 60_000 },
  );
}

/** `kubectl exec <pod> -- <command>`; resolves with the result, whatever the exit code. */
export function execIn(
  cluster: TestCluster,
  namespace: string,
  pod: string,
  command: string[],
): ReturnType<TestCluster['kubectl']> {
  return cluster.kubectl(['exec', pod, '--', ...command], { namespace });
}

/** A Deployment of the reference consumer reading the Secret, on the real node (no selector). */
export function consumerDeployment(
  name: string,
  replicas: number,
  opts: { minReadySeconds?: number; envFromSecret?: boolean } = {},
): k8s.V1Deployment {
  const fromSecret = opts.envFromSecret ?? true;
  return {
    metadata: { name },
    spec: {
      replicas,
      minReadySeconds: opts.minReadySeconds ?? 0,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, role: 'consumer' } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'consumer',
              image: images.consumer,
              imagePullPolicy: 'Never',
              ports: [{ name: 'http', containerPort: 8080 }],
              env: [
                { name: 'PORT', value: '8080' },
                ...(fromSecret
                  ? []
                  : [
                      {
                        name: 'JWT_SECRET',
                        valueFrom: { secretKeyRef: { name: 'api-jwt', key: 'JWT_SECRET' } },
                      },
                    ]),
              ],
              envFrom: fromSecret ? [{ secretRef: { name: 'api-jwt' } }] : [],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
              resources: { requests: { cpu: '10m', memory: '48Mi' } },
            },
          ],
        },
      },
    },
  };
}
