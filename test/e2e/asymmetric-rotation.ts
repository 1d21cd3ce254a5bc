/**
 * An asymmetric rotation on real pods, for one algorithm: test/e2e/asymmetric-es256.test.ts,
 * asymmetric-eddsa.test.ts and asymmetric-rs256.test.ts each describe one, so the parallel runner runs
 * them side by side (E2E_ALGORITHMS, default "ES256,EdDSA,RS256", a comma-separated subset, runs
 * fewer). The reference consumer signs with
 * the Secret's private key (envFrom) and verifies by kid against the JWKS ConfigMap mounted as a volume
 * (--jwks-file), under the session load generator, through a rotation, a rollback and an emergency
 * rotation, with zero rejected valid tokens during the rotation. A pod that only mounts the JWKS (not a
 * target, never rolled) measures how long kubelet takes to bring a ConfigMap change into a running pod.
 * The operator runs as a host process (the Helm install is covered by rotation.test.ts).
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';

import type { SessionLoadSummary } from '../../examples/consumer/session-load.ts';
import type { Algorithm } from '../../src/api/types.ts';
import { keyFingerprint } from '../../src/platform/keys.ts';
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import {
  annotate,
  clients,
  createJwtRotation,
  getJwtRotation,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { images, realNodeEnabled } from '../support/real-node.ts';

const ALGORITHMS = (process.env.E2E_ALGORITHMS ?? process.env.E2E_ALGORITHM ?? 'ES256,EdDSA,RS256')
  .split(',')
  .map((a) => a.trim())
  .filter((a) => a !== '') as Algorithm[];
const CONSUMERS = ['api-a', 'api-b'] as const;
/** How often the test looks into the never-rolled verifier pod (kubelet syncs a ConfigMap volume in ~1 min). */
const MOUNT_POLL_MS = 5000;
type LoadSummary = SessionLoadSummary & { msg: string };

function consumerDeployment(name: string, replicas: number, minReadySeconds = 0): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      minReadySeconds,
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
                { name: 'JWKS_FILE', value: '/etc/jwks/jwks.json' },
              ],
              envFrom: [{ secretRef: { name: 'api-jwt' } }],
              volumeMounts: [{ name: 'jwks', mountPath: '/etc/jwks', readOnly: true }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
              resources: { requests: { cpu: '10m', memory: '48Mi' } },
            },
          ],
          volumes: [{ name: 'jwks', configMap: { name: 'api-jwt-jwks' } }],
        },
      },
    },
  };
}

/** Describes the e2e rotation for this algorithm, unless E2E_ALGORITHMS leaves it out. */
export function describeAlgorithm(ALGORITHM: Algorithm): void {
  if (!ALGORITHMS.includes(ALGORITHM)) return;
  describe(`an asymmetric (${ALGORITHM}) rotation on real pods with a mounted JWKS, under session load`, function () {
    this.timeout(25 * 60_000);
    let cluster: TestCluster;
    let c: Clients;
    let ns: string;
    let operator: OperatorProcess | undefined;
    const scheme = { algorithm: ALGORITHM, rsaKeySize: 2048 };

    async function rolledOut(name: string): Promise<boolean> {
      const d = await c.apps.readNamespacedDeployment({ namespace: ns, name });
      const s = d.status ?? {};
      const want = d.spec?.replicas ?? 1;
      return (
        (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        s.updatedReplicas === want &&
        s.availableReplicas === want &&
        (s.replicas ?? 0) === want
      );
    }

    async function jwksKids(): Promise<string[]> {
      const map = await c.core.readNamespacedConfigMap({ namespace: ns, name: 'api-jwt-jwks' });
      return (JSON.parse(map.data?.['jwks.json'] ?? '{"keys":[]}') as { keys: { kid: string }[] }).keys.map(
        (k) => k.kid,
      );
    }

    /** The kids in the JWKS file as the never-rolled verifier pod sees it. */
    async function mountedKids(): Promise<string[]> {
      const { stdout, code } = await cluster.kubectl(
        ['exec', 'verifier', '--', 'cat', '/etc/jwks/jwks.json'],
        {
          namespace: ns,
        },
      );
      if (code !== 0) return [];
      return (JSON.parse(stdout) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    }

    async function serviceIp(name: string): Promise<string> {
      return (await c.core.readNamespacedService({ namespace: ns, name })).spec?.clusterIP ?? '';
    }

    async function startLoad(name: string): Promise<() => Promise<LoadSummary>> {
      const urls = [
        `http://${await serviceIp('api-a')}:8080`,
        `http://${await serviceIp('api-b')}:8080`,
      ].join(',');
      await c.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name, labels: { app: name } },
          spec: {
            restartPolicy: 'Never',
            containers: [
              {
                name: 'load',
                image: images.consumer,
                imagePullPolicy: 'Never',
                command: ['node', 'consumer/session-load.js'],
                args: [
                  '--login',
                  urls,
                  '--verify',
                  urls,
                  '--users',
                  '24',
                  '--rps',
                  '24',
                  '--duration',
                  '20m',
                ],
              },
            ],
          },
        },
      });
      await waitFor(
        `load pod ${name} running`,
        async () => (await c.core.readNamespacedPod({ namespace: ns, name })).status?.phase === 'Running',
      );
      return async () => {
        await cluster.kubectl(['exec', name, '--', 'node', '-e', "process.kill(1, 'SIGTERM')"], {
          namespace: ns,
        });
        await waitFor(
          `load pod ${name} finished`,
          async () => (await c.core.readNamespacedPod({ namespace: ns, name })).status?.phase === 'Succeeded',
          { timeoutMs: 60_000 },
        );
        const { stdout } = await cluster.kubectl(['logs', name], { namespace: ns });
        const summary = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as LoadSummary)
          .find((l) => l.msg === 'summary');
        if (summary === undefined) throw new Error(`no summary from ${name}: ${stdout.slice(-500)}`);
        console.log(`      session load (${name}): ${JSON.stringify(summary)}`);
        return summary;
      };
    }

    before(async function () {
      if (!realNodeEnabled) this.skip();
      this.timeout(20 * 60_000);
      cluster = await useCluster();
      await installCrd(cluster);
      c = clients(cluster);
      ns = await cluster.newNamespace(`e2e-asym-${ALGORITHM.toLowerCase()}`);
      operator = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigPath });
      await createJwtRotation(c, ns, 'api', {
        secretName: 'api-jwt',
        algorithm: ALGORITHM,
        targets: CONSUMERS.map((name) => ({ kind: 'Deployment' as const, name })),
        tokenTTL: '20s',
        refreshTokenTTL: '40s',
        schedule: { interval: '720h' },
        rollout: { signingDelay: '5s', pollInterval: '1s' },
        monitoring: { minDuration: '20s', maxDuration: '10m', requireOldTokenExpiry: true },
        rollback: { retention: '1h' },
      });
      await waitFor('the Secret and the JWKS', async () => (await jwksKids()).length === 1, {
        timeoutMs: 120_000,
      });
      await c.apps.createNamespacedDeployment({ namespace: ns, body: consumerDeployment('api-a', 2) });
      await c.apps.createNamespacedDeployment({ namespace: ns, body: consumerDeployment('api-b', 2, 10) });
      for (const name of CONSUMERS) {
        await c.core.createNamespacedService({
          namespace: ns,
          body: {
            metadata: { name },
            spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
          },
        });
      }
      // A verify-only pod: mounts the JWKS and nothing else, so the operator never rolls it.
      await c.core.createNamespacedPod({
        namespace: ns,
        body: {
          metadata: { name: 'verifier' },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'verifier',
                image: images.consumer,
                imagePullPolicy: 'Never',
                command: ['node', '-e', 'setInterval(() => undefined, 1 << 30)'],
                volumeMounts: [{ name: 'jwks', mountPath: '/etc/jwks', readOnly: true }],
              },
            ],
            volumes: [{ name: 'jwks', configMap: { name: 'api-jwt-jwks' } }],
          },
        },
      });
      for (const name of CONSUMERS)
        await waitFor(`${name} rolled out`, () => rolledOut(name), { timeoutMs: 180_000 });
      await waitFor(
        'the verifier running',
        async () =>
          (await c.core.readNamespacedPod({ namespace: ns, name: 'verifier' })).status?.phase === 'Running',
        { timeoutMs: 120_000 },
      );
    });

    after(async () => {
      await operator?.stop();
      if (operator !== undefined) expect(operator.output()).to.not.contain('PRIVATE KEY');
    });

    it('rotates with zero rejected valid tokens; the new key is in the JWKS before any pod signs with it', async () => {
      const original = keyFingerprint((await secretValues(c, ns, 'api-jwt'))?.JWT_PRIVATE_KEY ?? '', scheme);
      const stopLoad = await startLoad('load-rotate');
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'e2e' });

      let publishedAt: number | undefined;
      let mountedAfterMs: number | undefined;
      // kubectl exec costs a process, an exec through kubelet and a runc start: every MOUNT_POLL_MS.
      let lookedInPodAt = 0;
      let sawPublishOnly = false;
      const done = await waitFor(
        'the rotation to complete',
        async () => {
          const [r, secret, kids] = await Promise.all([
            getJwtRotation(c, ns, 'api'),
            secretValues(c, ns, 'api-jwt'),
            jwksKids(),
          ]);
          const next = secret?.JWT_PRIVATE_KEY_NEW;
          if (next !== undefined) {
            const fp = keyFingerprint(next, scheme);
            const listed = kids.some((kid) => Buffer.from(kid, 'base64url').toString('hex').startsWith(fp));
            expect(listed, 'the new key is in the JWKS whenever the Secret holds it').to.be.true;
            if (secret?.JWT_SECRET_ROTATION_DATE === NOT_SCHEDULED) sawPublishOnly = true;
            if (publishedAt === undefined) publishedAt = Date.now();
            if (mountedAfterMs === undefined && Date.now() - lookedInPodAt >= MOUNT_POLL_MS) {
              lookedInPodAt = Date.now();
              if ((await mountedKids()).length === 2) mountedAfterMs = Date.now() - publishedAt;
            }
          }
          if (r.status?.phase === 'Failed' || r.status?.lastRotation?.outcome === 'RolledBack') {
            throw new Error(`rotation ended ${JSON.stringify(r.status.lastRotation ?? r.status.conditions)}`);
          }
          return r.status?.phase === 'Idle' && r.status.lastRotation?.outcome === 'Completed' ? r : undefined;
        },
        { timeoutMs: 15 * 60_000, intervalMs: 1000 },
      );
      const load = await stopLoad();
      console.log(
        `      kubelet brought the published key into the never-rolled verifier pod ${
          mountedAfterMs === undefined
            ? 'not before completion'
            : `within ${(mountedAfterMs / 1000).toFixed(1)} s`
        } (looked every ${MOUNT_POLL_MS / 1000} s from the first look at the dual-key Secret)`,
      );
      expect(sawPublishOnly).to.be.true;
      expect(load.rejectedValid, JSON.stringify(load.rejectionReasons)).to.equal(0);
      expect(load.endedSessions).to.equal(0);
      expect(load.verified).to.be.greaterThan(200);
      expect(load.issuedByKeyVersion.new ?? 0, 'tokens signed with the new key').to.be.greaterThan(0);
      const current = done.status?.currentKeyFingerprint ?? '';
      expect(current).to.not.equal(original);
      expect(await jwksKids()).to.have.length(1);
    });

    it('rolls back, the JWKS and the pods going back to the original key', async () => {
      const before = (await getJwtRotation(c, ns, 'api')).status?.lastRotation?.previousKeyFingerprint ?? '';
      await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'e2e' });
      const done = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'RolledBack',
        10 * 60_000,
      );
      expect(done.status?.currentKeyFingerprint).to.equal(before);
      expect(await jwksKids()).to.have.length(1);
      for (const name of CONSUMERS)
        await waitFor(`${name} rolled out`, () => rolledOut(name), { timeoutMs: 180_000 });
    });

    it('on an emergency rotation, drops the replaced key from the JWKS, and kubelet brings that to a running pod', async () => {
      const replaced = (await jwksKids())[0] ?? '';
      await annotate(c, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'e2e-leak' });
      const start = Date.now();
      await waitFor('the JWKS without the replaced key', async () => !(await jwksKids()).includes(replaced), {
        timeoutMs: 60_000,
      });
      const written = Date.now() - start;
      await waitFor('the verifier to see it', async () => !(await mountedKids()).includes(replaced), {
        timeoutMs: 180_000,
        intervalMs: MOUNT_POLL_MS,
      });
      console.log(
        `      JWKS ConfigMap written ${(written / 1000).toFixed(1)} s after the request; in the running verifier pod after ${((Date.now() - start) / 1000).toFixed(1)} s (looked every ${MOUNT_POLL_MS / 1000} s)`,
      );
      await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.trigger === 'Emergency',
        10 * 60_000,
      );
    });
  });
}
