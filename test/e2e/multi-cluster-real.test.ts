/**
 * One key across clusters (issue 24, docs/multi-cluster.md) with real pods and a session load that signs
 * in one member and verifies in the other, through a rotation, a rollback and an emergency rotation.
 *
 * - The hub is a control plane of this file's own (test/support/private-cluster.ts, kwok only); the
 *   operator runs there as compiled (test/support/operator.ts), with the CRD from crds/.
 * - Member `west` is the shared test cluster, which has the machine's one real node: in a namespace of
 *   this file's own, deploy/components/member is applied, and the hub reaches west only with that
 *   ServiceAccount's token. West's Deployment `api` runs real pods of the reference consumer image
 *   (localhost/jwt-consumer:dev), reading the Secret through envFrom, as test/e2e/rotation.test.ts does.
 * - Member `east` is a second control plane of this file's own, kwok only: its pods run no code. East's
 *   pods are kwok; east's verifier (test/support/member-tokens.ts MemberVerifier) is the consumer's
 *   verification code (examples/consumer/tokens.ts verifyToken over config.ts parseJwtConfig) holding
 *   the keys east's latest rolled template would give its pods: each time east's Deployment gets a new
 *   template, east's Secret is read and becomes the verifier's key ring.
 *
 * The session load (examples/consumer/session-load.ts, in this process) logs in, refreshes and calls /me
 * at west's ready pods (their pod IPs, on this machine's pod network), and every token it presents to
 * west is presented to east's verifier at the same moment. Counted by the load's own rules (a token
 * refused more than SKEW_MS before its `exp` is a rejected valid token; a refresh token refused so ends
 * the session), per phase and per side. The rotation and the rollback (taken after the signing date was
 * written, before it came) must reject no valid token and end no session on either side. An emergency
 * replaces the key at once by design (docs/runbook-mapping.md): tokens of the compromised key are
 * refused from then on, and while the members roll, pods not yet restarted refuse the new key's tokens;
 * so the emergency's own window is reported, not asserted, and what follows it must refuse every
 * compromised-key token and no other valid one.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';

import {
  runSessionLoad,
  stillValid,
  type SessionLoadSummary,
  type TokenEvent,
} from '../../examples/consumer/session-load.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { isSigningScheduled } from '../../src/rotation/revision.ts';
import { useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import {
  annotate,
  clients,
  createConsumerDeployment,
  createJwtRotation,
  patchSpec,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { rolled, shapeOf, Timeline, type MemberView } from '../support/member-timeline.ts';
import { MemberVerifier } from '../support/member-tokens.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { startPrivateCluster, type PrivateCluster } from '../support/private-cluster.ts';
import { consumerDeployment, realNodeEnabled } from '../support/real-node.ts';
import { prepareMemberNamespace } from '../support/member-cluster.ts';

const PHASES = ['warm-up', 'rotation', 'rollback', 'emergency', 'after-emergency'] as const;
type Phase = (typeof PHASES)[number];

const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  clusters: [{ name: 'east' }, { name: 'west' }],
  tokenTTL: '10s',
  refreshTokenTTL: '20s',
  schedule: { interval: '720h' },
  rollout: { signingDelay: '4s', pollInterval: '500ms' },
  // requireOldTokenExpiry: completion waits until every old-key token has expired (no session ends).
  monitoring: { minDuration: '4s', maxDuration: '5m', requireOldTokenExpiry: true },
  rollback: { retention: '1h' },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The `kid` header of a JWT (the fingerprint of the HMAC key that signed it). */
function kidOf(token: string): string {
  const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as {
    kid?: string;
  };
  return header.kid ?? 'none';
}

/** What one side (west's pods, or east's verifier) did with the tokens of one phase. */
interface Side {
  verified: number;
  rejectedValid: number;
  rejectedExpired: number;
  endedSessions: number;
  errors: number;
  verifiedByKid: Record<string, number>;
  rejectedValidByKid: Record<string, number>;
  endedByKid: Record<string, number>;
}

interface PhaseCounts {
  /** Token pairs west's pods issued (logins and refreshes), by the kid that signed them. */
  issued: number;
  issuedByKid: Record<string, number>;
  west: Side;
  east: Side;
}

const emptySide = (): Side => ({
  verified: 0,
  rejectedValid: 0,
  rejectedExpired: 0,
  endedSessions: 0,
  errors: 0,
  verifiedByKid: {},
  rejectedValidByKid: {},
  endedByKid: {},
});

const bump = (r: Record<string, number>, k: string): void => {
  r[k] = (r[k] ?? 0) + 1;
};

/** Valid tokens of any key but `except` that a side refused, and sessions it so ended. */
function refusedOtherThan(side: Side, except: string): { rejectedValid: number; ended: number } {
  const sum = (r: Record<string, number>): number =>
    Object.entries(r).reduce((n, [kid, v]) => (kid === except ? n : n + v), 0);
  return { rejectedValid: sum(side.rejectedValidByKid), ended: sum(side.endedByKid) };
}

describe('one key across clusters with real pods: west on the real node, east on kwok, under session load', function () {
  this.timeout(10 * 60_000);
  let westCluster: TestCluster;
  let hubCluster: PrivateCluster | undefined;
  let eastCluster: PrivateCluster | undefined;
  let hub: Clients;
  let west: Clients;
  let east: Clients;
  let members: MemberView[] = [];
  let ns = '';
  let operator: OperatorProcess | undefined;
  let verifier: MemberVerifier | undefined;
  const tokens: string[] = [];

  // The load, its targets and what it counted.
  let phase: Phase = 'warm-up';
  const counts = new Map<Phase, PhaseCounts>(
    PHASES.map((p) => [p, { issued: 0, issuedByKid: {}, west: emptySide(), east: emptySide() }]),
  );
  const westUrls: string[] = [];
  const pendingEast = new Set<Promise<void>>();
  let abortLoad: AbortController | undefined;
  let load: Promise<SessionLoadSummary> | undefined;
  const podWatch = { on: false };
  const phaseStarted = new Map<Phase, number>();

  const at = (p: Phase): PhaseCounts => counts.get(p) as PhaseCounts;

  /** Counts an outcome on a side, by the load's rules; `ended` for a valid refresh token refused. */
  function record(side: Side, e: TokenEvent, outcome: 'verified' | 'rejected' | 'error'): void {
    const kid = kidOf(e.token);
    if (outcome === 'error') {
      side.errors++;
    } else if (outcome === 'verified') {
      side.verified++;
      bump(side.verifiedByKid, kid);
    } else if (stillValid(e.expiresAt, Date.now())) {
      side.rejectedValid++;
      bump(side.rejectedValidByKid, kid);
      if (e.use === 'refresh') {
        side.endedSessions++;
        bump(side.endedByKid, kid);
      }
    } else {
      side.rejectedExpired++;
    }
  }

  /** Each token the load receives and presents to west; every presented one goes to east's verifier too. */
  function onToken(e: TokenEvent): void {
    const c = at(phase);
    if (e.what === 'issued') {
      if (e.use === 'access') {
        c.issued++;
        bump(c.issuedByKid, kidOf(e.token));
      }
      return;
    }
    // West's verdict is the load's own (same SKEW_MS rule as record()).
    if (e.what === 'verified') record(c.west, e, 'verified');
    else if (e.what === 'rejected-valid') {
      c.west.rejectedValid++;
      bump(c.west.rejectedValidByKid, kidOf(e.token));
      if (e.use === 'refresh') {
        c.west.endedSessions++;
        bump(c.west.endedByKid, kidOf(e.token));
      }
    } else c.west.rejectedExpired++;
    const v = verifier;
    if (v === undefined) return;
    const p = v
      .verify(e.token, e.use)
      .then(
        (r) => {
          record(
            c.east,
            e,
            r.result === 'success' ? 'verified' : r.result === 'rejected' ? 'rejected' : 'error',
          );
        },
        () => {
          c.east.errors++;
        },
      )
      .finally(() => pendingEast.delete(p));
    pendingEast.add(p);
  }

  /** West's ready pods, as an endpoint list would have them; never left empty. */
  async function watchWestPods(): Promise<void> {
    podWatch.on = true;
    const look = async (): Promise<void> => {
      const pods = await west.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=api' });
      const ready = pods.items
        .filter((p) => p.metadata?.deletionTimestamp === undefined && p.status?.podIP !== undefined)
        .filter((p) => p.status?.conditions?.some((x) => x.type === 'Ready' && x.status === 'True'))
        .map((p) => `http://${p.status?.podIP ?? ''}:8080`);
      if (ready.length > 0) westUrls.splice(0, westUrls.length, ...ready);
    };
    await waitFor('a ready pod in west', async () => {
      await look();
      return westUrls.length > 0;
    });
    void (async () => {
      while (podWatch.on) {
        await sleep(250);
        await look().catch(() => undefined);
      }
    })();
  }

  /** Moves the load's counting to `next`, once every east verification of the phase before is in. */
  async function enter(next: Phase): Promise<void> {
    await Promise.all([...pendingEast]);
    phase = next;
    phaseStarted.set(next, Date.now());
  }

  function printPhase(p: Phase): void {
    const c = at(p);
    const side = (s: Side): string =>
      `verified ${s.verified}, rejected valid ${s.rejectedValid}, ended sessions ${s.endedSessions}, rejected expired ${s.rejectedExpired}, errors ${s.errors}`;
    console.log(`      ${p}: issued ${c.issued} pairs ${JSON.stringify(c.issuedByKid)}`);
    console.log(`        west's pods:     ${side(c.west)}`);
    console.log(`        east's verifier: ${side(c.east)}`);
    if (c.west.rejectedValid + c.east.rejectedValid > 0)
      console.log(
        `        rejected valid by kid: west ${JSON.stringify(c.west.rejectedValidByKid)}, east ${JSON.stringify(c.east.rejectedValidByKid)}; ended by kid: west ${JSON.stringify(c.west.endedByKid)}, east ${JSON.stringify(c.east.endedByKid)}`,
      );
  }

  const membersReady = (r: JwtRotation) => r.status?.conditions?.find((k) => k.type === 'MembersReady');

  /** In a member: deploy/components/member for `ns`, the empty managed Secret; returns the hub's kubeconfig. */
  async function prepareMember(
    name: string,
    cluster: TestCluster,
    c: Clients,
    server: string,
  ): Promise<string> {
    const { kubeconfig, bearer } = await prepareMemberNamespace({
      name,
      server,
      c,
      kubectl: (args) => cluster.kubectl(args),
      ns,
    });
    tokens.push(bearer);
    return kubeconfig;
  }

  /** Both members' Secrets hold `key` alone and each member's Deployment runs it everywhere. */
  async function membersHold(key: string): Promise<void> {
    for (const m of members)
      await waitFor(
        `${m.name} to hold the key alone, rolled`,
        async () => {
          const values = (await secretValues(m.c, ns, 'api-jwt')) ?? {};
          return values.JWT_SECRET === key && values.JWT_SECRET_NEW === undefined && (await rolled(m.c, ns));
        },
        { timeoutMs: 120_000 },
      );
  }

  before(async function () {
    if (!realNodeEnabled) this.skip(); // CLUSTER_REAL_NODE=0
    this.timeout(10 * 60_000);
    const started = Date.now();
    [westCluster, hubCluster, eastCluster] = await Promise.all([
      useCluster(),
      startPrivateCluster('mc-real-hub'),
      startPrivateCluster('mc-real-east'),
    ]);
    console.log(
      `      hub and east control planes (and the shared cluster) up in ${Date.now() - started} ms`,
    );
    hub = clients(hubCluster);
    west = clients(westCluster);
    east = clients(eastCluster);
    members = [
      { name: 'east', c: east },
      { name: 'west', c: west },
    ];
    ns = await westCluster.newNamespace('mc-real');
    await hubCluster.newNamespace(ns);
    await eastCluster.newNamespace(ns);
    await installCrd(hubCluster);
    const server = (kc: k8s.KubeConfig): string => kc.getCurrentCluster()?.server ?? '';
    const kubeconfigs = {
      east: await prepareMember('east', eastCluster, east, server(eastCluster.kubeConfig)),
      west: await prepareMember('west', westCluster, west, server(westCluster.kubeConfig)),
    };
    for (const [name, kubeconfig] of Object.entries(kubeconfigs))
      await hub.core.createNamespacedSecret({
        namespace: ns,
        body: {
          metadata: {
            name: `${name}-kubeconfig`,
            labels: { 'cluster.x-k8s.io/cluster-name': name },
            annotations: { 'jwtrotation.io/allow-references': 'api' },
          },
          type: 'cluster.x-k8s.io/secret',
          stringData: { value: kubeconfig },
        },
      });
    // East's kwok pods run no code, so they may start before the hub fills the Secret.
    await createConsumerDeployment(east, ns, 'api', 'api-jwt', 2);
    operator = await startOperatorProcess({
      kubeconfigPath: hubCluster.kubeconfigPath,
      env: { WATCH_NAMESPACES: ns },
    });
    await createJwtRotation(hub, ns, 'api', spec);
    // The hub writes the key into each member's Secret (Idle catch-up); west's real pods start only then,
    // so that none reads an empty Secret.
    const key = await waitFor(
      "the hub's key in west's Secret",
      async () => {
        const hubKey = (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET;
        return hubKey !== undefined && (await secretValues(west, ns, 'api-jwt'))?.JWT_SECRET === hubKey
          ? hubKey
          : undefined;
      },
      { timeoutMs: 120_000 },
    );
    await west.apps.createNamespacedDeployment({ namespace: ns, body: consumerDeployment('api', 2) });
    await waitForPhase(hub, ns, 'api', 'Idle', (r) => membersReady(r)?.status === 'True', 180_000);
    await membersHold(key);
    console.log(
      `      set up (three control planes, member RBAC, real pods rolled) in ${Date.now() - started} ms`,
    );

    verifier = new MemberVerifier(east, ns, 'east');
    await verifier.start();
    await watchWestPods();
    abortLoad = new AbortController();
    load = runSessionLoad({
      login: westUrls,
      verify: westUrls,
      users: 24,
      rps: 24,
      durationMs: 20 * 60_000,
      maxRequests: 200_000,
      refreshAt: 0.3,
      reportEveryMs: 60_000,
      onToken,
      signal: abortLoad.signal,
    });
    phaseStarted.set('warm-up', Date.now());
    // Every session logged in, and tokens verify on both sides, before the first request.
    await waitFor(
      'the load to run on both sides',
      () => Promise.resolve(at('warm-up').west.verified >= 48 && at('warm-up').east.verified >= 48),
      { timeoutMs: 60_000 },
    );
  });

  after(async function () {
    this.timeout(180_000);
    abortLoad?.abort();
    const summary = await load?.catch(() => undefined);
    await Promise.all([...pendingEast]);
    podWatch.on = false;
    verifier?.stop();
    if (summary !== undefined) {
      const { byKeyVersion, issuedByKeyVersion, rejectionReasons, ...totals } = summary;
      console.log(`      session load, whole run: ${JSON.stringify(totals)}`);
      console.log(
        `        by key version: verified ${JSON.stringify(byKeyVersion)}, issued ${JSON.stringify(issuedByKeyVersion)}, reasons ${JSON.stringify(rejectionReasons)}`,
      );
    }
    if (verifier !== undefined)
      console.log(
        `      east's verifier loaded ${verifier.loads.length} templates; Secret read = template's revision each time: ${verifier.loads.every((l) => l.secretMatches)} (${verifier.loads.map((l) => `${l.at} ms`).join(', ')})`,
      );
    await operator?.stop();
    const output = operator?.output() ?? '';
    // West's namespace goes now (it is also on the run's list); the hub and east go with their control planes.
    if (ns !== '') await west.core.deleteNamespace({ name: ns }).catch(() => undefined);
    await hubCluster?.stop();
    await eastCluster?.stop();
    // The hub never logs a member's credentials.
    for (const token of tokens) expect(output).to.not.include(token);
  });

  it('rotates in both members with zero valid tokens rejected in west or by east, and no session ended', async () => {
    const original = (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    await enter('rotation');
    const timeline = new Timeline(members, ns, original);
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rotate': 'e2e' });
    const done = await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed' && membersReady(r)?.status === 'True',
      300_000,
    );
    const key = (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    await membersHold(key);
    timeline.stop(`rotation (${Date.now() - (phaseStarted.get('rotation') ?? 0)} ms)`);
    await enter('rollback');
    printPhase('warm-up');
    printPhase('rotation');
    const c = at('rotation');
    expect(key).to.not.equal(original);
    expect(done.status?.members?.map((m) => [m.name, m.phase])).to.deep.equal([
      ['east', 'Rolled'],
      ['west', 'Rolled'],
    ]);
    for (const p of ['warm-up', 'rotation'] as const)
      for (const side of ['west', 'east'] as const) {
        const s = at(p)[side];
        expect(s.rejectedValid, `${p}, ${side}: ${JSON.stringify(s.rejectedValidByKid)}`).to.equal(0);
        expect(s.endedSessions, `${p}, ${side}`).to.equal(0);
        expect(s.errors, `${p}, ${side}`).to.equal(0);
      }
    expect(c.issuedByKid[fingerprint(key)] ?? 0, 'pairs signed with the new key').to.be.greaterThan(0);
    expect(c.east.verifiedByKid[fingerprint(key)] ?? 0, 'new-key tokens east verified').to.be.greaterThan(0);
    expect(
      c.east.verifiedByKid[fingerprint(original)] ?? 0,
      'old-key tokens east verified',
    ).to.be.greaterThan(0);
  });

  it('rolls a second rotation back after its signing date is written, before it comes: zero rejected, no session ended', async () => {
    const before = (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    // A signing date far enough ahead that the rollback lands while every pod still signs with the current key.
    await patchSpec(hub, ns, 'api', { rollout: { signingDelay: '30m', pollInterval: '500ms' } });
    const timeline = new Timeline(members, ns, before);
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rotate': 'e2e-2' });
    const next = await waitFor(
      'every member to run the signing date',
      async () => {
        const values = await secretValues(hub, ns, 'api-jwt');
        if (values?.JWT_SECRET_NEW === undefined || !isSigningScheduled(values.JWT_SECRET_ROTATION_DATE))
          return undefined;
        for (const m of members) {
          const there = await secretValues(m.c, ns, 'api-jwt');
          if (shapeOf(there, before) !== 'switched' || !(await rolled(m.c, ns))) return undefined;
        }
        return values.JWT_SECRET_NEW;
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    await annotate(hub, ns, 'api', { 'jwtrotation.io/rollback': 'e2e' });
    const rolledBack = await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack' && membersReady(r)?.status === 'True',
      180_000,
    );
    await membersHold(before);
    timeline.stop(
      `second rotation, rolled back after the date was written (${Date.now() - (phaseStarted.get('rollback') ?? 0)} ms)`,
    );
    await enter('emergency');
    printPhase('rollback');
    expect(rolledBack.status?.currentKeyFingerprint).to.equal(fingerprint(before));
    const c = at('rollback');
    for (const side of ['west', 'east'] as const) {
      expect(c[side].rejectedValid, `${side}: ${JSON.stringify(c[side].rejectedValidByKid)}`).to.equal(0);
      expect(c[side].endedSessions, side).to.equal(0);
      expect(c[side].errors, side).to.equal(0);
      expect(c[side].verified, side).to.be.greaterThan(0);
    }
    expect(c.issuedByKid[fingerprint(next)] ?? 0, 'no pair signed with the withdrawn key').to.equal(0);
  });

  it('replaces the key at once in both members on an emergency; afterwards no compromised-key token verifies and no other valid one is refused', async () => {
    const compromised = (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    const timeline = new Timeline(members, ns, compromised);
    await annotate(hub, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'e2e-leak' });
    const done = await waitForPhase(
      hub,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.trigger === 'Emergency' && membersReady(r)?.status === 'True',
      180_000,
    );
    const key = (await secretValues(hub, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    await membersHold(key);
    timeline.stop(`emergency rotation (${Date.now() - (phaseStarted.get('emergency') ?? 0)} ms)`);
    await enter('after-emergency');
    expect(key).to.not.equal(compromised);
    expect(done.status?.currentKeyFingerprint).to.equal(fingerprint(key));
    // Afterwards: until every session has moved to the new key (a refresh token lives 20 s), and both
    // sides verified the new key's tokens.
    const after = at('after-emergency');
    const newKid = fingerprint(key);
    await waitFor(
      'the sessions to move to the emergency key',
      () =>
        Promise.resolve(
          Date.now() - (phaseStarted.get('after-emergency') ?? 0) > 22_000 &&
            (after.west.verifiedByKid[newKid] ?? 0) >= 100 &&
            (after.east.verifiedByKid[newKid] ?? 0) >= 100,
        ),
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    await Promise.all([...pendingEast]);
    printPhase('emergency');
    printPhase('after-emergency');
    const oldKid = fingerprint(compromised);
    for (const side of ['west', 'east'] as const) {
      expect(after[side].verifiedByKid[oldKid] ?? 0, `${side} verified a compromised-key token`).to.equal(0);
      const others = refusedOtherThan(after[side], oldKid);
      expect(others.rejectedValid, `${side}: ${JSON.stringify(after[side].rejectedValidByKid)}`).to.equal(0);
      expect(others.ended, side).to.equal(0);
      expect(after[side].errors, side).to.equal(0);
    }
    expect(Object.keys(after.issuedByKid), 'pairs issued after the emergency').to.deep.equal([newKid]);
  });
});
