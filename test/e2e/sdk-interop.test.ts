/**
 * The Go and Python consumer kits (sdk/go, sdk/python) on real pods: their demo services (the reference
 * consumer's HTTP API) read the operator's HS256 Secret through envFrom, and clients log in at one language
 * and call the other, both ways at once, under the session load generator, through a rotation, a rotation
 * rolled back before its signing date, and an emergency rotation. Counted like the TypeScript run
 * (rotation.test.ts): zero rejected valid tokens and zero ended sessions through the rotation and the
 * rollback; the emergency replaces the key at once by design (every earlier token is rejected), so its load
 * starts on the new key, and every pod must hold that key alone.
 *
 * The operator runs as a host process watching this test's namespace; the load pods talk only to Service IPs
 * on this machine's pod network.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';

import type { SessionLoadSummary } from '../../examples/consumer/session-load.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import {
  annotate,
  clients,
  createJwtRotation,
  getJwtRotation,
  isRolledOut,
  patchSpec,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { images, realNodeEnabled } from '../support/real-node.ts';

const SERVICES = { 'api-go': images.consumerGo, 'api-python': images.consumerPython } as const;
type Service = keyof typeof SERVICES;
type LoadSummary = SessionLoadSummary & { msg: string };
/** Each direction: sign in one language, verify in the other. */
const DIRECTIONS: { name: string; login: Service; verify: Service }[] = [
  { name: 'go-to-python', login: 'api-go', verify: 'api-python' },
  { name: 'python-to-go', login: 'api-python', verify: 'api-go' },
];

function kitDeployment(name: Service): k8s.V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas: 2,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name, role: 'consumer' } },
        spec: {
          terminationGracePeriodSeconds: 5,
          containers: [
            {
              name: 'consumer',
              image: SERVICES[name],
              imagePullPolicy: 'Never',
              ports: [{ name: 'http', containerPort: 8080 }],
              env: [{ name: 'PORT', value: '8080' }],
              envFrom: [{ secretRef: { name: 'api-jwt' } }],
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 1 },
              resources: { requests: { cpu: '10m', memory: '32Mi' } },
            },
          ],
        },
      },
    },
  };
}

describe('the Go and Python consumer kits on real pods, signing and verifying across each other under session load', function () {
  this.timeout(30 * 60_000);
  let cluster: TestCluster;
  let c: Clients;
  let ns: string;
  let operator: OperatorProcess | undefined;
  let original = '';

  async function serviceUrl(name: Service): Promise<string> {
    return `http://${(await c.core.readNamespacedService({ namespace: ns, name })).spec?.clusterIP ?? ''}:8080`;
  }

  /** What each kit pod logged at start: the kids (fingerprints) of the keys it loaded. */
  async function keysLoaded(): Promise<
    { pod: string; currentKid: string | undefined; newKid: string | undefined }[]
  > {
    const pods = await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'role=consumer' });
    const live = pods.items.filter((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp);
    return Promise.all(
      live.map(async (p) => {
        const pod = p.metadata?.name ?? '';
        const { stdout } = await cluster.kubectl(['logs', pod], { namespace: ns });
        const line = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as { msg?: string; currentKid?: string; newKid?: string })
          .find((l) => l.msg === 'keys loaded');
        if (line === undefined)
          throw new Error(`pod ${pod} logged no "keys loaded" line: ${stdout.slice(0, 500)}`);
        return { pod, currentKid: line.currentKid, newKid: line.newKid };
      }),
    );
  }

  async function allHold(kid: string): Promise<void> {
    for (const name of Object.keys(SERVICES))
      await waitFor(`${name} rolled out`, () => isRolledOut(c, ns, name), { timeoutMs: 180_000 });
    for (const loaded of await keysLoaded()) {
      expect(loaded.currentKid, loaded.pod).to.equal(kid);
      expect(loaded.newKid, loaded.pod).to.equal(undefined);
    }
  }

  /** Starts one session load pod per direction; resolves with a function that stops them and returns their summaries. */
  async function startLoads(tag: string): Promise<() => Promise<Record<string, LoadSummary>>> {
    const stops = await Promise.all(
      DIRECTIONS.map(
        async (d) => [d.name, await startLoad(`load-${tag}-${d.name}`, d.login, d.verify)] as const,
      ),
    );
    return async () => {
      const summaries: Record<string, LoadSummary> = {};
      for (const [name, stop] of stops) summaries[name] = await stop();
      return summaries;
    };
  }

  async function startLoad(
    name: string,
    login: Service,
    verify: Service,
  ): Promise<() => Promise<LoadSummary>> {
    const args = ['--login', await serviceUrl(login), '--verify', await serviceUrl(verify)];
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
              args: [...args, '--users', '12', '--rps', '12', '--duration', '20m'],
            },
          ],
        },
      },
    });
    await waitFor(
      `load pod ${name} running`,
      async () => (await c.core.readNamespacedPod({ namespace: ns, name })).status?.phase === 'Running',
    );
    return () => stopLoad(name);
  }

  async function stopLoad(name: string): Promise<LoadSummary> {
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
  }

  function expectNobodyLoggedOut(summaries: Record<string, LoadSummary>, minVerified: number): void {
    for (const [direction, load] of Object.entries(summaries)) {
      expect(load.rejectedValid, `${direction}: ${JSON.stringify(load.rejectionReasons)}`).to.equal(0);
      expect(load.endedSessions, direction).to.equal(0);
      expect(load.verified, direction).to.be.greaterThan(minVerified);
    }
  }

  before(async function () {
    if (!realNodeEnabled) this.skip(); // CLUSTER_REAL_NODE=0
    this.timeout(20 * 60_000);
    cluster = await useCluster();
    await installCrd(cluster);
    c = clients(cluster);
    ns = await cluster.newNamespace('e2e-sdk');
    operator = await startOperatorProcess({ kubeconfigPath: cluster.kubeconfigPath, namespace: ns });
    await createJwtRotation(c, ns, 'api', {
      secretName: 'api-jwt',
      targets: Object.keys(SERVICES).map((name) => ({ kind: 'Deployment' as const, name })),
      tokenTTL: '20s',
      refreshTokenTTL: '40s',
      schedule: { interval: '720h' },
      rollout: { signingDelay: '5s', pollInterval: '1s' },
      monitoring: { minDuration: '20s', maxDuration: '10m', requireOldTokenExpiry: true },
      rollback: { retention: '1h' },
    });
    const values = await waitFor('the Secret', () => secretValues(c, ns, 'api-jwt'), { timeoutMs: 120_000 });
    original = fingerprint(values.JWT_SECRET ?? '');
    for (const name of Object.keys(SERVICES) as Service[]) {
      await c.apps.createNamespacedDeployment({ namespace: ns, body: kitDeployment(name) });
      await c.core.createNamespacedService({
        namespace: ns,
        body: {
          metadata: { name },
          spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
        },
      });
    }
    await allHold(original);
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint === original);
  });

  after(async () => {
    await operator?.stop();
  });

  it('rotates with zero rejected valid tokens and zero ended sessions, Go-signed tokens verified in Python and back', async () => {
    const stop = await startLoads('rotate');
    await new Promise((resolve) => setTimeout(resolve, 10_000)); // every session logged in on the old key
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'e2e' });
    const done = await waitFor(
      'the rotation to complete',
      async () => {
        const r = await getJwtRotation(c, ns, 'api');
        if (r.status?.phase === 'Failed' || r.status?.lastRotation?.outcome === 'RolledBack')
          throw new Error(`rotation ended ${JSON.stringify(r.status.lastRotation ?? r.status.conditions)}`);
        return r.status?.phase === 'Idle' && r.status.lastRotation?.outcome === 'Completed' ? r : undefined;
      },
      { timeoutMs: 15 * 60_000, intervalMs: 1000 },
    );
    const summaries = await stop();
    expectNobodyLoggedOut(summaries, 200);
    for (const [direction, load] of Object.entries(summaries)) {
      expect(
        load.issuedByKeyVersion.new ?? 0,
        `${direction}: tokens signed with the new key`,
      ).to.be.greaterThan(0);
      expect(load.byKeyVersion.new ?? 0, `${direction}: new-key tokens verified as new`).to.be.greaterThan(0);
    }
    const rotated = done.status?.currentKeyFingerprint ?? '';
    expect(rotated).to.not.equal(original);
    await allHold(rotated);
  });

  it('rolls a rotation back before its signing date with zero rejected valid tokens and zero ended sessions', async () => {
    const before = (await getJwtRotation(c, ns, 'api')).status?.currentKeyFingerprint ?? '';
    // A signing date far enough ahead that the rollback lands while every pod still signs with the current key.
    await patchSpec(c, ns, 'api', { rollout: { signingDelay: '30m', pollInterval: '1s' } });
    const stop = await startLoads('rollback');
    await new Promise((resolve) => setTimeout(resolve, 10_000));
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'e2e-2' });
    await waitFor(
      'every pod to verify the new key',
      async () => {
        const values = await secretValues(c, ns, 'api-jwt');
        if (values?.JWT_SECRET_NEW === undefined) return false;
        const next = fingerprint(values.JWT_SECRET_NEW);
        for (const name of Object.keys(SERVICES)) if (!(await isRolledOut(c, ns, name))) return false;
        return (await keysLoaded()).every((k) => k.newKid === next);
      },
      { timeoutMs: 10 * 60_000, intervalMs: 1000 },
    );
    await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'e2e' });
    const rolledBack = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack',
      10 * 60_000,
    );
    expect(rolledBack.status?.currentKeyFingerprint).to.equal(before);
    await allHold(before);
    await new Promise((resolve) => setTimeout(resolve, 10_000)); // sessions carry on across the rolled pods
    const summaries = await stop();
    expectNobodyLoggedOut(summaries, 150);
    for (const load of Object.values(summaries)) expect(load.issuedByKeyVersion.new ?? 0).to.equal(0);
    await patchSpec(c, ns, 'api', { rollout: { signingDelay: '5s', pollInterval: '1s' } });
  });

  it('replaces the key at once with an emergency rotation; every pod holds the new key alone, and Go and Python tokens verify across on it', async () => {
    const replaced = (await getJwtRotation(c, ns, 'api')).status?.currentKeyFingerprint ?? '';
    await annotate(c, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'e2e-leak' });
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.trigger === 'Emergency',
      10 * 60_000,
    );
    const emergency = done.status?.currentKeyFingerprint ?? '';
    expect(emergency).to.not.equal(replaced);
    await allHold(emergency);
    const stop = await startLoads('emergency');
    await new Promise((resolve) => setTimeout(resolve, 30_000));
    expectNobodyLoggedOut(await stop(), 100);
  });
});
