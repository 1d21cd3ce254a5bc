/**
 * The product as a user runs it: the operator installed with Helm from the locally built image, the
 * reference consumer as real pods that read the Secret through envFrom, a Prometheus (host process)
 * that finds them through the API server, and clients that log in, call and refresh across two
 * Deployments through their Services while the key rotates. One Deployment rolls far slower than
 * rollout.signingDelay; a third workload reads the Secret without being listed.
 *
 * The load generator runs in a pod and talks only to Service IPs on this machine's pod network.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

import { expect } from 'chai';

import type { SessionLoadSummary } from '../../examples/consumer/session-load.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { NOT_SCHEDULED, signsWithKey, verifiesKey } from '../../src/rotation/revision.ts';
import { clusterDir, repoRoot, useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
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
import { leakScan } from '../support/leak-scan.ts';
import { startPrometheus, type RunningPrometheus } from '../support/prometheus.ts';
import { bridge, consumerDeployment, images, realNodeEnabled } from '../support/real-node.ts';

const execFileAsync = promisify(execFile);
const REVISION = 'jwtrotation.io/secret-revision';
const CONSUMERS = ['api-a', 'api-b', 'worker'] as const;

type LoadSummary = SessionLoadSummary & { msg: string };

async function helm(args: string[]): Promise<string> {
  const { stdout: built } = await execFileAsync('bash', [path.join(repoRoot, 'tools/helm/build.sh')], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const binary = built.trim().split('\n').pop() ?? 'helm';
  const { stdout } = await execFileAsync(
    binary,
    [...args, '--kubeconfig', path.join(clusterDir, 'kubeconfig')],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return stdout;
}

describe('a rotation on real pods, installed with Helm, under session load', function () {
  this.timeout(25 * 60_000);
  let cluster: TestCluster;
  let c: Clients;
  let ns: string;
  let system: string;
  let release: string;
  let prometheus: RunningPrometheus | undefined;
  let original = '';

  /** Every pod of the consumers, with its revision annotation, container ids and key log line. */
  async function consumerPods(): Promise<
    {
      name: string;
      app: string;
      revision: string | undefined;
      containerIds: string[];
      phase: string | undefined;
    }[]
  > {
    const pods = await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'role=consumer' });
    return pods.items
      .filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed')
      .map((p) => ({
        name: p.metadata?.name ?? '',
        app: p.metadata?.labels?.app ?? '',
        revision: p.metadata?.annotations?.[REVISION],
        containerIds: (p.status?.containerStatuses ?? []).map((s) => s.containerID ?? ''),
        phase: p.status?.phase,
      }));
  }

  /** What a pod logged at start: the kids (fingerprints) of the keys it loaded. */
  async function keysLoaded(
    pod: string,
  ): Promise<{ currentKid?: string; newKid?: string; rotationDate?: string }> {
    const { stdout } = await cluster.kubectl(['logs', pod], { namespace: ns });
    for (const line of stdout.split('\n')) {
      try {
        const entry = JSON.parse(line) as {
          msg?: string;
          currentKid?: string;
          newKid?: string;
          rotationDate?: string;
        };
        if (entry.msg === 'keys loaded') return entry;
      } catch {
        // not a JSON line
      }
    }
    throw new Error(`pod ${pod} logged no "keys loaded" line: ${stdout.slice(0, 500)}`);
  }

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

  async function serviceIp(name: string): Promise<string> {
    const svc = await c.core.readNamespacedService({ namespace: ns, name });
    return svc.spec?.clusterIP ?? '';
  }

  /** Starts the session load pod; resolves with a function that stops it and returns its summary. */
  async function startLoad(name: string): Promise<() => Promise<LoadSummary>> {
    const urls = [`http://${await serviceIp('api-a')}:8080`, `http://${await serviceIp('api-b')}:8080`].join(
      ',',
    );
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
              args: ['--login', urls, '--verify', urls, '--users', '24', '--rps', '24', '--duration', '20m'],
            },
          ],
        },
      },
    });
    await waitFor(`load pod ${name} running`, async () => {
      const pod = await c.core.readNamespacedPod({ namespace: ns, name });
      return pod.status?.phase === 'Running';
    });
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
    if (!realNodeEnabled) this.skip(); // CLUSTER_REAL_NODE=0
    this.timeout(40 * 60_000);
    cluster = await useCluster();
    await installCrd(cluster);
    c = clients(cluster);
    ns = await cluster.newNamespace('e2e-rotation');
    system = await cluster.newNamespace('e2e-operator');
    release = `e2e-${system.slice(-6)}`;

    // 1. The operator, as users install it: Helm, the local image, two replicas with leader election.
    await helm([
      'install',
      release,
      path.join(repoRoot, 'charts/jwt-rotation-operator'),
      '--namespace',
      system,
      '--set',
      `image.repository=${images.operator.split(':')[0] ?? ''}`,
      '--set',
      'image.tag=dev',
      '--set',
      'image.pullPolicy=Never',
      '--set',
      `watchNamespace=${ns}`,
      // Prometheus runs on the host, on the bridge address: not a cluster Service name.
      '--set',
      `outbound.hosts={${bridge.address}}`,
      '--wait',
      '--timeout',
      '5m',
    ]);

    // `helm test`: the chart's test Pod reaches the operator's /healthz through its Service.
    await helm(['test', release, '--namespace', system, '--timeout', '2m']);

    // 2. Prometheus on the host, scraping the ready consumer pods the API server lists (see PodDiscovery);
    //    the operator pods reach it on the bridge address.
    prometheus = await startPrometheus({
      listenHost: bridge.address,
      scrapeIntervalSeconds: 1,
      pods: {
        list: async () => {
          const pods = await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'role=consumer' });
          return pods.items
            .filter((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'))
            .filter((p) => p.metadata?.deletionTimestamp === undefined && p.status?.podIP !== undefined)
            .map((p) => ({
              target: `${p.status?.podIP ?? ''}:8080`,
              labels: { namespace: ns, pod: p.metadata?.name ?? '', app: p.metadata?.labels?.app ?? '' },
            }));
        },
      },
    });

    // 3. The JwtRotation first, so the operator creates the Secret the pods read.
    await createJwtRotation(c, ns, 'api', {
      secretName: 'api-jwt',
      targets: [
        { kind: 'Deployment', name: 'api-a' },
        { kind: 'Deployment', name: 'api-b' },
      ],
      tokenTTL: '20s',
      refreshTokenTTL: '40s',
      schedule: { interval: '720h' },
      rollout: { signingDelay: '5s', pollInterval: '1s' },
      monitoring: {
        minDuration: '20s',
        maxDuration: '10m',
        requireOldTokenExpiry: true,
        prometheus: {
          url: prometheus.url,
          interval: '2s',
          timeout: '2s',
          window: '20s',
          selector: `namespace="${ns}"`,
          thresholds: { minSamples: 50, maxValidationLatencyP99Seconds: 0.25 },
        },
      },
      rollback: { retention: '1h' },
    });
    const values = await waitFor('the Secret', () => secretValues(c, ns, 'api-jwt'), { timeoutMs: 120_000 });
    original = fingerprint(values.JWT_SECRET ?? '');

    // 4. The consumers: api-a (3 replicas), api-b (2, each new pod ready only after 10 s: slower than
    //    signingDelay), and worker, which reads JWT_SECRET but is not in spec.targets.
    await c.apps.createNamespacedDeployment({ namespace: ns, body: consumerDeployment('api-a', 3) });
    await c.apps.createNamespacedDeployment({
      namespace: ns,
      body: consumerDeployment('api-b', 2, { minReadySeconds: 10 }),
    });
    await c.apps.createNamespacedDeployment({
      namespace: ns,
      body: consumerDeployment('worker', 1, { envFromSecret: false }),
    });
    for (const name of ['api-a', 'api-b']) {
      await c.core.createNamespacedService({
        namespace: ns,
        body: {
          metadata: { name },
          spec: { selector: { app: name }, ports: [{ name: 'http', port: 8080, targetPort: 'http' }] },
        },
      });
    }
    for (const name of CONSUMERS) {
      await waitFor(`${name} rolled out`, () => rolledOut(name), { timeoutMs: 180_000 });
    }
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint === original);
  });

  after(async () => {
    await prometheus?.stop();
    if (release) {
      // The in-cluster operators' whole output goes to the leak scan (test/support/leak-scan.ts).
      const logs = await cluster.kubectl(
        ['logs', '-l', `app.kubernetes.io/instance=${release}`, '--all-containers', '--prefix', '--tail=-1'],
        { namespace: system },
      );
      leakScan.addOutput(`operator pods of Helm release ${release}`, () => logs.stdout + logs.stderr);
    }
    if (release) await helm(['uninstall', release, '--namespace', system, '--wait']).catch(() => undefined);
  });

  it('rotates with zero rejected valid tokens and zero ended sessions, across a rollout slower than signingDelay, rolling the unlisted consumer', async () => {
    const before = await consumerPods();
    const oldContainers = new Set(before.flatMap((p) => p.containerIds));
    const stopLoad = await startLoad('load-rotate');
    // Let every session log in and the gate see traffic on the old key first.
    await new Promise((resolve) => setTimeout(resolve, 10_000));

    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'e2e' });
    // Throughout the rotation, from the pods themselves: nobody signs with a key another pod cannot verify,
    // and the signing date is set only once every pod verifies the new key.
    let sawPublishOnly = false;
    let checks = 0;
    const done = await waitFor(
      'the rotation to complete',
      async () => {
        const [r, secret, pods] = await Promise.all([
          getJwtRotation(c, ns, 'api'),
          secretValues(c, ns, 'api-jwt'),
          consumerPods(),
        ]);
        const newKey = secret?.JWT_SECRET_NEW === undefined ? undefined : fingerprint(secret.JWT_SECRET_NEW);
        if (newKey !== undefined && secret?.JWT_SECRET_ROTATION_DATE === NOT_SCHEDULED) sawPublishOnly = true;
        const revisions = pods.map((p) => p.revision ?? `${original}//`);
        const now = Date.now();
        for (const key of [original, newKey]) {
          if (key === undefined || !revisions.some((rev) => signsWithKey(rev, key, now))) continue;
          for (const rev of revisions)
            expect(verifiesKey(rev, key), `a pod on ${rev} cannot verify ${key}`).to.be.true;
        }
        checks++;
        if (r.status?.phase === 'Failed' || r.status?.lastRotation?.outcome === 'RolledBack') {
          throw new Error(`rotation ended ${JSON.stringify(r.status.lastRotation ?? r.status.conditions)}`);
        }
        return r.status?.phase === 'Idle' && r.status.lastRotation?.outcome === 'Completed' ? r : undefined;
      },
      { timeoutMs: 15 * 60_000, intervalMs: 1000 },
    );
    const load = await stopLoad();

    expect(sawPublishOnly, 'the new key was published for verification only first').to.be.true;
    expect(checks).to.be.greaterThan(30);
    expect(load.rejectedValid, JSON.stringify(load.rejectionReasons)).to.equal(0);
    expect(load.endedSessions).to.equal(0);
    expect(load.verified).to.be.greaterThan(500);
    expect(
      load.issuedByKeyVersion.new ?? 0,
      'tokens signed with the new key during the rotation',
    ).to.be.greaterThan(0);

    // Every consumer process was replaced, and each one holds the new key alone.
    const newKey = done.status?.currentKeyFingerprint ?? '';
    expect(newKey).to.not.equal(original);
    const after = await consumerPods();
    expect(after.map((p) => p.app)).to.include.members([...CONSUMERS]);
    for (const pod of after) {
      for (const id of pod.containerIds)
        expect(oldContainers.has(id), `${pod.name} kept its container`).to.be.false;
      const loaded = await keysLoaded(pod.name);
      expect(loaded.currentKid, pod.name).to.equal(newKey);
      expect(loaded.newKid, pod.name).to.equal(undefined);
    }
    // The unlisted consumer was found and rolled with the targets.
    expect(done.status?.unlistedConsumers).to.deep.equal([{ kind: 'Deployment', name: 'worker' }]);
    expect(done.status?.targets?.find((t) => t.name === 'worker')).to.include({
      discovered: true,
      ready: true,
    });
    // api-b's template was rolled exactly three times: publish, switch, complete.
    const apiB = await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api-b' });
    expect(apiB.metadata?.generation).to.equal(4);
  });

  it('brings the original key back into the running pods with the rollback annotation', async () => {
    await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'e2e' });
    const rolledBack = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack',
      10 * 60_000,
    );
    expect(rolledBack.status?.currentKeyFingerprint).to.equal(original);
    for (const name of CONSUMERS)
      await waitFor(`${name} rolled out`, () => rolledOut(name), { timeoutMs: 180_000 });
    for (const pod of await consumerPods())
      expect((await keysLoaded(pod.name)).currentKid, pod.name).to.equal(original);
  });

  it('replaces the key at once with an emergency rotation, and no pod keeps the replaced key', async () => {
    await annotate(c, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'e2e-leak' });
    const replaced = await waitFor('the emergency key in the Secret', async () => {
      const values = await secretValues(c, ns, 'api-jwt');
      const current = fingerprint(values?.JWT_SECRET ?? '');
      return current !== original && values?.JWT_SECRET_NEW === undefined && current;
    });
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.trigger === 'Emergency',
      10 * 60_000,
    );
    expect(done.status?.currentKeyFingerprint).to.equal(replaced);
    for (const name of CONSUMERS)
      await waitFor(`${name} rolled out`, () => rolledOut(name), { timeoutMs: 180_000 });
    for (const pod of await consumerPods()) {
      const loaded = await keysLoaded(pod.name);
      expect(loaded.currentKid, pod.name).to.equal(replaced);
      expect(loaded.newKid, pod.name).to.equal(undefined);
    }
  });
});
