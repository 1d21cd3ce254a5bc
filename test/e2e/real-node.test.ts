/**
 * The real node of the local cluster (tools/cluster/node.sh): real containers from the images that
 * `npm run image:build` makes, on a pod network that never leaves this machine.
 *
 * Nothing here sends a packet anywhere but to loopback, the bridge address and the pods themselves.
 * That the guard drops traffic leaving the machine is checked by reading its rules and the pods'
 * routes, never by trying to leave.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';

import { fingerprint } from '../../examples/consumer/fingerprint.ts';
import { clusterDir, useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import {
  bridge,
  execIn,
  images,
  nodeImages,
  readGuard,
  realNodeEnabled,
  realNodeName,
  ruleMentions,
  runPod,
} from '../support/real-node.ts';

const key = (): string => randomBytes(48).toString('base64');

describe('the real node', function () {
  let cluster: TestCluster;
  let core: k8s.CoreV1Api;
  let ns: string;

  before(async function () {
    if (!realNodeEnabled) this.skip(); // CLUSTER_REAL_NODE=0
    this.timeout(40 * 60_000); // a cold cache builds the control plane and the node first
    cluster = await useCluster();
    core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    const state = readFileSync(path.join(clusterDir, 'state.env'), 'utf8');
    if (!/^REAL_NODE_RUNNING=1$/m.test(state)) {
      throw new Error(
        'the cluster runs without the real node (see the warning of tools/cluster/up.sh): run tools/cluster/install-deps.sh as root and restart it (npm run cluster:down), or set CLUSTER_REAL_NODE=0 to skip this tier',
      );
    }
    const present = await nodeImages();
    const absent = Object.values(images).filter((i) => !present.includes(i));
    expect(
      absent,
      `images missing from the node's containerd (run npm run image:build): ${absent.join(', ')}`,
    ).to.be.empty;
    ns = await cluster.newNamespace('real-node');
  });

  it('is Ready, with its InternalIP on the bridge, and the nftables guard is in place', async function () {
    const node = await core.readNode({ name: realNodeName });
    expect(node.status?.conditions?.find((c) => c.type === 'Ready')?.status).to.equal('True');
    expect(node.status?.addresses).to.deep.include({ type: 'InternalIP', address: bridge.address });
    expect(node.spec?.taints ?? []).to.deep.equal([]);

    const rules = await readGuard();
    expect(rules, 'table inet jwtr_guard').to.not.equal(undefined);
    const forward = rules!.filter((r) => r.chain === 'forward');
    // Pod traffic leaves only by the bridge, and nothing is routed out of the pod network.
    expect(
      forward.some(
        (r) => ruleMentions(r, '10.244.0.0') && ruleMentions(r, bridge.name) && ruleMentions(r, 'drop'),
      ),
    ).to.equal(true);
    expect(
      forward.some(
        (r) => ruleMentions(r, 'iifname') && ruleMentions(r, bridge.name) && ruleMentions(r, 'drop'),
      ),
    ).to.equal(true);
    // The API server's and the node's ports answer only on loopback and the bridge.
    const apiPort = Number(new URL(cluster.kubeConfig.getCurrentCluster()!.server).port);
    const input = rules!.filter((r) => r.chain === 'input' && ruleMentions(r, 'drop'));
    for (const port of [apiPort, 10250, 10248, 10256]) {
      expect(
        input.some((r) => ruleMentions(r, port) && ruleMentions(r, 'lo') && ruleMentions(r, bridge.name)),
        `port ${port}`,
      ).to.equal(true);
    }
    // And the host never sends cluster addresses anywhere but the bridge.
    expect(
      rules!.some((r) => r.chain === 'output' && ruleMentions(r, '10.96.0.0') && ruleMentions(r, 'drop')),
    ).to.equal(true);
  });

  describe('the reference consumer, reading the Secret through envFrom', function () {
    const keys = { old: key(), new: key() };
    let pod: k8s.V1Pod;

    before(async function () {
      this.timeout(120_000);
      await core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: { name: 'api-jwt' },
          stringData: {
            JWT_SECRET: keys.old,
            JWT_SECRET_CURRENT: keys.old,
            JWT_SECRET_NEW: keys.new,
            JWT_SECRET_ROTATION_DATE: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
            JWT_EXPIRATION: '1h',
          },
        },
      });
      // No nodeSelector and no toleration, as a user's Deployment: the kwok taint sends it here.
      pod = await runPod(cluster, ns, {
        name: 'consumer',
        automountServiceAccountToken: true,
        containers: [
          {
            name: 'consumer',
            image: images.consumer,
            imagePullPolicy: 'Never',
            envFrom: [{ secretRef: { name: 'api-jwt' } }],
            ports: [{ containerPort: 8080 }],
            readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
            securityContext: {
              readOnlyRootFilesystem: true,
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
            },
          },
        ],
      });
    });

    it('runs on the real node with an address on the bridge network', function () {
      expect(pod.spec?.nodeName).to.equal(realNodeName);
      expect(pod.status?.podIP).to.match(/^10\.244\.0\.\d+$/);
    });

    it('logs the fingerprints of the keys it loaded (kubectl logs), never the keys', async function () {
      const logs = await waitFor('the consumer to log its keys', async () => {
        const res = await cluster.kubectl(['logs', 'consumer'], { namespace: ns });
        return res.code === 0 && res.stdout.includes('keys loaded') && res.stdout;
      });
      const loaded = logs
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((entry) => entry.msg === 'keys loaded');
      expect(loaded).to.include({
        mode: 'dual',
        currentKid: fingerprint(keys.old),
        newKid: fingerprint(keys.new),
      });
      for (const k of Object.values(keys)) expect(logs).to.not.include(k);
    });

    it('runs a command in the container (kubectl exec) that sees the Secret', async function () {
      const res = await execIn(cluster, ns, 'consumer', [
        'node',
        '-e',
        "const h = (v) => require('crypto').createHash('sha256').update(v).digest('hex').slice(0, 12); console.log(h(process.env.JWT_SECRET_NEW), process.getuid())",
      ]);
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout.trim()).to.equal(`${fingerprint(keys.new)} 65532`);
    });

    it('reaches the API server through the kubernetes Service, from inside the pod', async function () {
      const script = `
        const fs = require('fs'), https = require('https');
        const sa = '/var/run/secrets/kubernetes.io/serviceaccount/';
        const req = https.get({
          host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT, path: '/version',
          ca: fs.readFileSync(sa + 'ca.crt'), headers: { authorization: 'Bearer ' + fs.readFileSync(sa + 'token', 'utf8') },
          timeout: 5000,
        }, (res) => { let body = ''; res.on('data', (c) => (body += c)); res.on('end', () => console.log(JSON.stringify({ host: process.env.KUBERNETES_SERVICE_HOST, status: res.statusCode, version: JSON.parse(body).gitVersion }))); });
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.on('error', (e) => { console.error(e.message); process.exit(1); });`;
      const res = await execIn(cluster, ns, 'consumer', ['node', '-e', script]);
      expect(res.code, res.stderr).to.equal(0);
      const answer = JSON.parse(res.stdout) as { host: string; status: number; version: string };
      expect(answer.host).to.equal('10.96.0.1');
      expect(answer.status).to.equal(200);
      expect(answer.version).to.match(/^v1\.\d+\.\d+/);
    });

    it('has no route off the machine and no resolver but its own loopback', async function () {
      const res = await execIn(cluster, ns, 'consumer', [
        'node',
        '-e',
        "const fs = require('fs'); console.log(JSON.stringify({ routes: fs.readFileSync('/proc/net/route', 'utf8'), resolv: fs.readFileSync('/etc/resolv.conf', 'utf8') }))",
      ]);
      expect(res.code, res.stderr).to.equal(0);
      const { routes, resolv } = JSON.parse(res.stdout) as { routes: string; resolv: string };
      // /proc/net/route: Iface Destination Gateway ... Mask, hex little-endian. 00000000 is the default route.
      const destinations = routes
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split('\t')[1]);
      expect(destinations).to.not.include('00000000');
      expect(destinations).to.have.members(['0000F40A', '0000600A']); // 10.244.0.0/24 (on link), 10.96.0.0/16 (via the bridge)
      const servers = resolv.split('\n').filter((l) => l.startsWith('nameserver'));
      expect(servers).to.deep.equal(['nameserver 127.0.0.1']);
    });
  });

  it('refuses, at admission, a Pod whose image could only come from a registry off this machine', async () => {
    const refused = await cluster.kubectl(
      ['run', 'pull-attempt', '--image=docker.io/library/busybox:1', '--restart=Never', '--dry-run=server'],
      { namespace: ns },
    );
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.contain('jwtr-local-images-only');
    const local = await cluster.kubectl(
      ['run', 'local-image', `--image=${images.consumer}`, '--restart=Never', '--dry-run=server'],
      { namespace: ns },
    );
    expect(local.code, local.stderr).to.equal(0);
  });

  it('starts the operator image as a Pod with a read-only root filesystem, answering /healthz', async function () {
    this.timeout(120_000);
    const pod = await runPod(cluster, ns, {
      name: 'operator',
      // While it waits for the CRD (it has no RBAC here) the operator has no SIGTERM handler yet, and
      // as PID 1 it ignores the signal: without this the pod takes the default 30 s to stop.
      terminationGracePeriodSeconds: 2,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      containers: [
        {
          name: 'operator',
          image: images.operator,
          imagePullPolicy: 'Never',
          env: [
            { name: 'HTTP_PORT', value: '8080' },
            { name: 'LEADER_ELECTION', value: 'false' },
          ],
          ports: [{ containerPort: 8080 }],
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 1 },
          securityContext: {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    });
    expect(pod.spec?.nodeName).to.equal(realNodeName);
    // From this host to the pod's own address, over the bridge.
    const res = await fetch(`http://${pod.status!.podIP!}:8080/healthz`, {
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).to.equal(200);

    const write = await execIn(cluster, ns, 'operator', [
      'node',
      '-e',
      "try { require('fs').writeFileSync('/app/x', '1'); console.log('written') } catch (e) { console.log(e.code) }",
    ]);
    expect(write.stdout.trim(), write.stderr).to.equal('EROFS');
    // The final stage ships no shell and no package manager.
    const tools = await execIn(cluster, ns, 'operator', [
      'node',
      '-e',
      "const fs = require('fs'); console.log(['/bin/sh', '/usr/bin/bash', '/usr/bin/apt-get', '/usr/bin/dpkg', '/usr/bin/npm', '/usr/local/bin/npm'].filter((p) => fs.existsSync(p)).join(',') || 'none')",
    ]);
    expect(tools.stdout.trim(), tools.stderr).to.equal('none');
  });
});
