/**
 * One key across clusters (issue 24, docs/multi-cluster.md) on three control planes: the hub is the
 * shared test cluster, and each of two members is a control plane of its own on loopback, started from
 * the same cached binaries (test/support/member-cluster.ts). The hub reaches a member only with the
 * token of deploy/components/member's ServiceAccount, never an admin kubeconfig. A member's
 * kube-apiserver is stopped before and after the signing switch, and during an emergency rotation.
 * Prints the time each member took to reach each shape of the Secret and to roll to it, and the
 * partition timings. In the two partitions around the switch, a model of each member's pods (the
 * consumer's code with the keys of the member's latest rolled template, test/support/member-tokens.ts)
 * signs access tokens in turn and verifies every member's: none may be refused. With ES256, a rollback
 * while a member is down keeps the new key in the hub's JWKS ConfigMap until that member is caught up
 * (docs/multi-cluster.md, "The keys published").
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';

import { JWKS_DATA_KEY } from '../../src/api/constants.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { HMAC_SCHEME, keyFingerprint, publicJwk, type KeyScheme } from '../../src/platform/keys.ts';
import { jwksConfigMapName, keyScheme, parseJwks, secretKeyName } from '../../src/reconcile/secret-data.ts';
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import {
  annotate,
  clients,
  createConsumerDeployment,
  createJwtRotation,
  eventsOf,
  getJwtRotation,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { REVISION, rolled, shapeOf, Timeline } from '../support/member-timeline.ts';
import {
  prepareMemberNamespace,
  startMemberControlPlane,
  stopMemberControlPlane,
  type MemberControlPlane,
} from '../support/member-cluster.ts';
import { TokenStream } from '../support/member-tokens.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';

const ROTATION_KEYS = ['JWT_SECRET_CURRENT', 'JWT_SECRET_NEW', 'JWT_SECRET_ROTATION_DATE'];
const SCENARIOS = ['complete', 'before', 'after', 'rollback', 'emergency', 'union', 'refused'] as const;
type Scenario = (typeof SCENARIOS)[number];

const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  clusters: [{ name: 'east' }, { name: 'west' }],
  rollout: { signingDelay: '4s', pollInterval: '500ms' },
  monitoring: { minDuration: '4s', maxDuration: '2m', requireOldTokenExpiry: false },
};

describe('one key across clusters: a hub and two member control planes', function () {
  this.timeout(900_000);
  let cluster: TestCluster;
  let hub: Clients;
  let operator: OperatorProcess | undefined;
  let members: MemberControlPlane[] = [];
  const namespaces = new Map<Scenario, string>();
  const tokens: string[] = [];
  /** The token stream of the running test, stopped after it whatever its outcome. */
  let stream: TokenStream | undefined;

  before(async function () {
    this.timeout(1_800_000);
    cluster = await useCluster();
    await installCrd(cluster);
    hub = clients(cluster);
    const started = Date.now();
    members = await Promise.all(['east', 'west'].map((name) => startMemberControlPlane(name)));
    console.log(`      two member control planes started in ${String(Date.now() - started)} ms`);
    for (const scenario of SCENARIOS) namespaces.set(scenario, await cluster.newNamespace(`hub-${scenario}`));
    operator = await startOperatorProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      // WATCH_NAMESPACE takes one name; the list goes in WATCH_NAMESPACES.
      env: { WATCH_NAMESPACES: [...namespaces.values()].join(',') },
    });
  });

  afterEach(async () => {
    await stream?.stop('stopped after the test');
    stream = undefined;
  });

  after(async function () {
    this.timeout(120_000);
    await operator?.stop();
    const output = operator?.output() ?? '';
    for (const m of members) await stopMemberControlPlane(m);
    // The hub never logs a member's credentials.
    for (const token of tokens) expect(output).to.not.include(token);
    expect(output).to.not.match(/[A-Za-z0-9+/]{80,}={0,2}/);
  });

  /** In the member: the namespace, deploy/components/member for it, the empty managed Secret, the consumer. */
  async function prepareMember(m: MemberControlPlane, ns: string): Promise<string> {
    await m.c.core.createNamespace({ body: { metadata: { name: ns } } });
    const { kubeconfig, bearer } = await prepareMemberNamespace({ ...m, ns });
    tokens.push(bearer);
    await m.c.core.createNamespacedSecret({
      namespace: ns,
      body: { metadata: { name: 'unrelated' }, type: 'Opaque', stringData: { password: 'not-for-the-hub' } },
    });
    await createConsumerDeployment(m.c, ns, 'api', 'api-jwt', 2);
    return kubeconfig;
  }

  /** Waits until the hub's MembersReady says `member` is unreachable; resolves with the JwtRotation then. */
  function namedUnreachable(ns: string, member: string, timeoutMs?: number): Promise<JwtRotation> {
    return waitFor(
      `MembersReady to name ${member}`,
      async () => {
        const r = await getJwtRotation(hub, ns, 'api');
        const ready = membersReady(r);
        return ready?.reason === 'MemberUnreachable' && ready.message.includes(`${member} (unreachable`)
          ? r
          : undefined;
      },
      timeoutMs === undefined ? {} : { timeoutMs },
    );
  }

  /** A hub namespace with both members prepared and their kubeconfig Secrets (Cluster API's layout). */
  async function setUp(
    scenario: Scenario,
    overrides: Partial<JwtRotationSpec> = {},
  ): Promise<{ ns: string; original: string; scheme: KeyScheme }> {
    const ns = namespaces.get(scenario) ?? '';
    for (const m of members) {
      const kubeconfig = await prepareMember(m, ns);
      await hub.core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: {
            name: `${m.name}-kubeconfig`,
            labels: { 'cluster.x-k8s.io/cluster-name': m.name },
            annotations: { 'jwtrotation.io/allow-references': 'api' },
          },
          type: 'cluster.x-k8s.io/secret',
          stringData: { value: kubeconfig },
        },
      });
    }
    await createJwtRotation(hub, ns, 'api', { ...spec, ...overrides });
    const idle = await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => membersReady(r)?.status === 'True',
      120_000,
    );
    // The key's slot and fingerprint follow the algorithm (JWT_PRIVATE_KEY for an asymmetric one).
    const scheme = keyScheme({ ...spec, ...overrides });
    const original = (await secretValues(hub, ns, 'api-jwt'))?.[secretKeyName(scheme, 'JWT_SECRET')] ?? '';
    expect(idle.status?.currentKeyFingerprint).to.equal(keyFingerprint(original, scheme));
    await expectMembersHold(ns, original, scheme);
    return { ns, original, scheme };
  }

  /** The stream's claims: no valid token refused, the new key signed in every member, the down period covered. */
  async function expectStream(s: TokenStream, title: string, down: string): Promise<void> {
    stream = undefined;
    await s.stop(title);
    for (const [name, c] of s.counts) {
      expect(c.rejected, `valid tokens ${name}'s pods refused: ${JSON.stringify(c.rejections)}`).to.equal(0);
      expect(c.verified, name).to.equal(s.issued);
      expect(c.signedWithNew, `tokens ${name}'s pods signed with the new key`).to.be.greaterThan(0);
    }
    expect(s.counts.get(down)?.issuedWhileDown, `tokens issued while ${down} was down`).to.be.greaterThan(0);
  }

  const membersReady = (r: JwtRotation) => r.status?.conditions?.find((c) => c.type === 'MembersReady');

  /** Both members' Secrets hold exactly `key` alone, and each member's Deployment runs it. */
  async function expectMembersHold(ns: string, key: string, scheme = HMAC_SCHEME): Promise<void> {
    const slot = (name: string): string => secretKeyName(scheme, name);
    for (const m of members) {
      const values = (await secretValues(m.c, ns, 'api-jwt')) ?? {};
      expect(values[slot('JWT_SECRET')], `${m.name}'s ${slot('JWT_SECRET')}`).to.equal(key);
      for (const name of ROTATION_KEYS) expect(values, m.name).to.not.have.property(slot(name));
      const d = await m.c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' });
      expect(d.spec?.template.metadata?.annotations?.[REVISION], m.name).to.match(
        new RegExp(`^${keyFingerprint(key, scheme)}/`),
      );
      await waitFor(`${m.name}'s Deployment to run it`, () => rolled(m.c, ns));
    }
  }

  it('completes a rotation with the same key in both members, each rolled, with status per member', async () => {
    const { ns, original } = await setUp('complete');
    const timeline = new Timeline(members, ns, original);
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    const done = await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed',
      180_000,
    );
    timeline.stop('rotation');
    const key = (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    expect(key).to.not.equal(original);
    await expectMembersHold(ns, key);
    expect(done.status?.members?.map((m) => [m.name, m.phase])).to.deep.equal([
      ['east', 'Rolled'],
      ['west', 'Rolled'],
    ]);
    expect(done.status?.members?.[0]?.keys).to.deep.equal([fingerprint(key)]);
    expect(done.status?.members?.[0]?.podsByKey).to.deep.equal([
      { key: fingerprint(key), verifying: 2, signing: 2 },
    ]);
    expect(done.status?.targets?.map((t) => t.name)).to.deep.equal(['east/api', 'west/api']);
    // Every member went through the staged shapes, in order, before completion.
    for (const m of members)
      for (const shape of ['published', 'switched', 'new-key-alone'])
        expect([...timeline.seen.keys()], `${m.name} ${shape}`).to.include(`${m.name} ${shape}`);
  });

  it('holds the rotation in DualKey while a member is down before the switch, names it, and completes on its return', async () => {
    const { ns, original } = await setUp('before');
    // Slow rollouts, so the publish roll outlasts the stop below.
    for (const m of members)
      await m.c.apps.patchNamespacedDeployment(
        { namespace: ns, name: 'api', body: { spec: { minReadySeconds: 4 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
    await waitFor('members settled after the patch', async () =>
      (await Promise.all(members.map((m) => rolled(m.c, ns)))).every(Boolean),
    );
    const west = members[1] as MemberControlPlane;
    const s = (stream = new TokenStream(members, ns));
    await s.start();
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    await waitForPhase(hub, ns, 'api', 'DualKey', () => true, 60_000);
    const stoppedAt = Date.now();
    s.setDown('west', true);
    const restart = await west.stopApiServer();
    const hubValues = await secretValues(hub, ns, 'api-jwt');
    expect(hubValues?.JWT_SECRET_ROTATION_DATE, 'the switch came before the stop').to.equal(NOT_SCHEDULED);
    const held = await waitForPhase(
      hub,
      ns,
      'api',
      'DualKey',
      (r) => membersReady(r)?.reason === 'MemberUnreachable',
      60_000,
    );
    const namedAt = Date.now();
    expect(membersReady(held)?.message).to.match(/west \(unreachable since [^)]*\)/);
    expect(held.status?.members?.find((m) => m.name === 'west')?.phase).to.equal('Unreachable');
    // East verifies the new key by now; the switch still waits: the operator looks again and does nothing.
    await waitFor(
      'east to verify the new key',
      async () =>
        shapeOf(await secretValues(members[0]!.c, ns, 'api-jwt'), original) === 'published' &&
        (await rolled(members[0]!.c, ns)),
    );
    const rv = (await getJwtRotation(hub, ns, 'api')).metadata.resourceVersion ?? '';
    await operator!.lookedAt(ns, 'api', rv, { wroteNothing: true, timeoutMs: 30_000 });
    expect((await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET_ROTATION_DATE).to.equal(NOT_SCHEDULED);
    expect(
      (await eventsOf(hub, ns)).some((e) => e.reason === 'MembersHeld' && e.message?.includes('west')),
    ).to.equal(true);
    const downFor = Date.now() - stoppedAt;
    await restart();
    s.setDown('west', false);
    const backAt = Date.now();
    await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed',
      180_000,
    );
    const doneAt = Date.now();
    await expectStream(s, 'west down before the switch', 'west');
    await expectMembersHold(ns, (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET ?? '');
    console.log(
      `      partition before the switch: west stopped → MembersReady names it ${String(namedAt - stoppedAt)} ms; down ${String(downFor)} ms; ready again → rotation completed ${String(doneAt - backAt)} ms`,
    );
  });

  it('holds completion while a member is down after the switch, and completes on its return', async () => {
    // Monitoring lasts 12 s here: east is stopped in it, well before completion could begin.
    const minDurationMs = 12_000;
    const { ns, original } = await setUp('after', {
      monitoring: { ...spec.monitoring, minDuration: `${String(minDurationMs / 1000)}s` },
    });
    const east = members[0] as MemberControlPlane;
    const timeline = new Timeline(members, ns, original);
    const s = (stream = new TokenStream(members, ns));
    await s.start();
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    // The state this test means by "after the switch": the signing date is set in every member, every pod
    // of both members runs it, and it has come (Monitoring): every pod may sign with the new key, so
    // dropping the old key must wait for every member, and only minDuration and the members hold completion.
    await waitForPhase(hub, ns, 'api', 'Monitoring', () => true, 120_000);
    for (const m of members)
      expect(shapeOf(await secretValues(m.c, ns, 'api-jwt'), original), m.name).to.equal('switched');
    const stoppedAt = Date.now();
    s.setDown('east', true);
    const restart = await east.stopApiServer();
    const held = await namedUnreachable(ns, 'east', 60_000);
    const namedAt = Date.now();
    expect(held.status?.phase, 'east stopped in Monitoring, before completion began').to.equal('Monitoring');
    // Once the signing date plus monitoring.minDuration has passed, with east down, the old key is still
    // there: completion waits for east. The date is the hub's, in its Secret.
    const date = Date.parse((await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET_ROTATION_DATE ?? '');
    await waitFor(
      'the signing date plus minDuration to pass',
      () => Promise.resolve(Date.now() > date + minDurationMs + 1000),
      { timeoutMs: 60_000 },
    );
    const rv = (await getJwtRotation(hub, ns, 'api')).metadata.resourceVersion ?? '';
    await operator!.lookedAt(ns, 'api', rv, { wroteNothing: true, timeoutMs: 30_000 });
    const still = await getJwtRotation(hub, ns, 'api');
    expect(still.status?.phase).to.equal('Monitoring');
    expect((await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET_CURRENT).to.equal(original);
    const downFor = Date.now() - stoppedAt;
    await restart();
    s.setDown('east', false);
    const backAt = Date.now();
    await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed',
      180_000,
    );
    const doneAt = Date.now();
    timeline.stop('rotation with east down after the switch');
    await expectStream(s, 'east down after the switch', 'east');
    await expectMembersHold(ns, (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET ?? '');
    console.log(
      `      partition after the switch (in Monitoring): east stopped → MembersReady names it ${String(namedAt - stoppedAt)} ms; down ${String(downFor)} ms; ready again → rotation completed ${String(doneAt - backAt)} ms`,
    );
  });

  it('restores the original key in both members on a rollback', async () => {
    const { ns, original } = await setUp('rollback');
    const timeline = new Timeline(members, ns, original);
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    await waitForPhase(hub, ns, 'api', 'Monitoring', () => true, 120_000);
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rollback': 'from-monitoring' });
    await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack' && membersReady(r)?.status === 'True',
      180_000,
    );
    timeline.stop('rotation, then rollback from Monitoring');
    expect((await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET).to.equal(original);
    await expectMembersHold(ns, original);
  });

  it('rotates at once in the member it reaches on an emergency, names the other, and catches it up on its return', async () => {
    const { ns, original } = await setUp('emergency');
    const west = members[1] as MemberControlPlane;
    const east = members[0] as MemberControlPlane;
    const stoppedAt = Date.now();
    const restart = await west.stopApiServer();
    await annotate(hub, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'leak-1' });
    const key = await waitFor(
      'the emergency key in east',
      async () => {
        const hubKey = (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET;
        const eastKey = (await secretValues(east.c, ns, 'api-jwt'))?.JWT_SECRET;
        return hubKey !== original && hubKey === eastKey ? hubKey : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const eastAt = Date.now();
    const held = await namedUnreachable(ns, 'west');
    expect(membersReady(held)?.message).to.include('The emergency rotation to key');
    expect(held.status?.lastRotation?.outcome).to.not.equal('Completed');
    await restart();
    const backAt = Date.now();
    await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.trigger === 'Emergency' && membersReady(r)?.status === 'True',
      180_000,
    );
    const doneAt = Date.now();
    await expectMembersHold(ns, key);
    console.log(
      `      emergency with west down: east has the new key ${String(eastAt - stoppedAt)} ms after the stop; west ready again → caught up and completed ${String(doneAt - backAt)} ms`,
    );
  });

  it("keeps the new key in the hub's JWKS while a member cut off during a rollback holds it, and drops it once that member is caught up (ES256)", async () => {
    // Monitoring lasts 12 s here, as in the partition after the switch: east is stopped in it, before
    // completion could begin.
    const overrides: Partial<JwtRotationSpec> = {
      algorithm: 'ES256',
      monitoring: { ...spec.monitoring, minDuration: '12s' },
    };
    const { ns, original, scheme } = await setUp('union', overrides);
    const east = members[0] as MemberControlPlane;
    const fp = (pem: string): string => keyFingerprint(pem, scheme);
    const kid = (pem: string): string => publicJwk(pem, scheme.algorithm).kid;
    /** The kids the hub's JWKS ConfigMap lists, sorted. */
    const servedKids = async (): Promise<string[]> => {
      const name = jwksConfigMapName({ ...spec, ...overrides });
      const map = await hub.core.readNamespacedConfigMap({ namespace: ns, name });
      return parseJwks(map.data?.[JWKS_DATA_KEY])
        .keys.map((k) => k.kid)
        .sort();
    };
    expect(await servedKids()).to.deep.equal([kid(original)]);

    await annotate(hub, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    await waitForPhase(hub, ns, 'api', 'Monitoring', () => true, 120_000);
    const next = (await secretValues(hub, ns, 'api-jwt'))?.JWT_PRIVATE_KEY_NEW ?? '';
    expect(next).to.match(/^-----BEGIN PRIVATE KEY-----\n/);
    // Every member holds both keys and the signing date, and every pod runs it: east's pods may sign
    // with the new key from here on.
    for (const m of members) {
      const values = (await secretValues(m.c, ns, 'api-jwt')) ?? {};
      expect(values.JWT_PRIVATE_KEY_CURRENT, m.name).to.equal(original);
      expect(values.JWT_PRIVATE_KEY_NEW, m.name).to.equal(next);
      expect(values.JWT_SECRET_ROTATION_DATE, m.name).to.be.a('string').and.not.equal(NOT_SCHEDULED);
      await waitFor(`${m.name}'s Deployment to run the signing date`, () => rolled(m.c, ns));
    }
    expect(await servedKids()).to.have.members([kid(original), kid(next)]);

    const stoppedAt = Date.now();
    const restart = await east.stopApiServer();
    const away = await namedUnreachable(ns, 'east', 60_000);
    expect(away.status?.phase, 'east stopped in Monitoring, before completion began').to.equal('Monitoring');
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rollback': 'east-away' });
    // The rollback is done in the hub's Secret and in west; recording its end waits for east
    // (rollbackCatchUp), so the hub stays in RollingBack. Waiting for west's status as read after its
    // roll means a pass that made the published keys exact came after the rollback's Secret write.
    const held = await waitForPhase(
      hub,
      ns,
      'api',
      'RollingBack',
      (r) => {
        const west = r.status?.members?.find((m) => m.name === 'west');
        return (
          west?.phase === 'Rolled' &&
          JSON.stringify(west.keys) === JSON.stringify([fp(original)]) &&
          r.status?.members?.find((m) => m.name === 'east')?.phase === 'Unreachable'
        );
      },
      120_000,
    );
    const heldAt = Date.now();
    const hubValues = (await secretValues(hub, ns, 'api-jwt')) ?? {};
    expect(hubValues.JWT_PRIVATE_KEY, "the hub's Secret is back on the original").to.equal(original);
    expect(hubValues).to.not.have.property('JWT_PRIVATE_KEY_NEW');
    expect(membersReady(held)?.message)
      .to.include('The rollback to key')
      .and.include('east (unreachable')
      .and.not.include('west (');
    expect(
      held.status?.members?.find((m) => m.name === 'east')?.keys,
      "east's keys as last read",
    ).to.have.members([fp(original), fp(next)]);
    // East's pods may still sign with the new key: the hub keeps serving it beside the original.
    expect(await servedKids(), 'while east is cut off').to.have.members([kid(original), kid(next)]);

    await restart();
    const backAt = Date.now();
    await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack' && membersReady(r)?.status === 'True',
      180_000,
    );
    const caughtUpAt = Date.now();
    expect((await secretValues(hub, ns, 'api-jwt'))?.JWT_PRIVATE_KEY).to.equal(original);
    await expectMembersHold(ns, original, scheme);
    // No member holds the new key any more: it leaves the JWKS.
    await waitFor(
      "the new key to leave the hub's JWKS",
      async () => JSON.stringify(await servedKids()) === JSON.stringify([kid(original)]),
      { timeoutMs: 60_000 },
    );
    console.log(
      `      rollback with east down (ES256): east stopped → rollback held in the hub, the new key still served ${String(heldAt - stoppedAt)} ms; east ready again → caught up and rollback recorded ${String(caughtUpAt - backAt)} ms, the new key out of the JWKS ${String(Date.now() - backAt)} ms`,
    );
  });

  it("refuses the member ServiceAccount any Secret but the managed one (a 403 from the member's API server)", async () => {
    const ns = namespaces.get('refused') ?? '';
    const m = members[0] as MemberControlPlane;
    const kubeconfig = await prepareMember(m, ns);
    const kc = new k8s.KubeConfig();
    kc.loadFromString(kubeconfig);
    const core = kc.makeApiClient(k8s.CoreV1Api);
    const code = (e: unknown): number | undefined => (e as { code?: number }).code;
    const other = await core.readNamespacedSecret({ namespace: ns, name: 'unrelated' }).then(() => 200, code);
    const list = await core.listNamespacedSecret({ namespace: ns }).then(() => 200, code);
    const own = await core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' }).then(() => 200, code);
    const create = await core
      .createNamespacedSecret({ namespace: ns, body: { metadata: { name: 'made-by-hub' } } })
      .then(() => 200, code);
    console.log(
      `      member ServiceAccount: get unrelated ${String(other)}, list ${String(list)}, create ${String(create)}, get api-jwt ${String(own)}`,
    );
    expect([other, list, create]).to.deep.equal([403, 403, 403]);
    expect(own).to.equal(200);
  });
});
