/**
 * The issuer (issue 26) against relying parties that nobody here wrote: a second kube-apiserver of
 * the local control plane with a structured AuthenticationConfiguration naming our issuer, and
 * oauth2-proxy (built from its Go module) with our issuer as an extra JWT issuer. A client signs
 * tokens exactly as the consumer contract says and presents them to both every 200 ms through a
 * scheduled rotation, a rollback and an emergency rotation.
 *
 * Asserted: no valid token refused by either; the relying parties accepted the new key before the
 * signing date was set; after the emergency, tokens of the compromised key refused by both within
 * BOUND_MS of the request, and from the moment status says a relying party accepted the new key;
 * status.issuer.compromisedKey lists each relying party until it is shown to have dropped the key.
 * Printed, not asserted: the counts, the phase times, kube-apiserver's JWKS-fetch metrics and the
 * refusal times.
 *
 * The operator runs against the relying kube-apiserver itself, so its `kubernetes: {}` probe is a
 * TokenReview on the relying party. Real clocks throughout: the issuer server's reports and the
 * relying parties' caches run on wall time.
 */
import { expect } from 'chai';
import { request } from 'node:https';
import path from 'node:path';
import { GROUP, VERSION } from '../../src/api/constants.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { KEY_SET_PLURAL } from '../../src/adapters/kubernetes/published-key-sets.ts';
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import { startIssuerServerProcess } from '../support/issuer-server-process.ts';
import {
  annotate,
  clients,
  createConsumerDeployment,
  createJwtRotation,
  getJwtRotation,
  patchSpec,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOauth2Proxy, type Oauth2Proxy } from '../support/oauth2-proxy.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import {
  authenticationConfiguration,
  startRelyingApiServer,
  type RelyingApiServer,
} from '../support/relying-apiserver.ts';
import { makeTestPki, type TestPki } from '../support/tls.ts';
import { countOutcomes, TokenClient, type Outcome } from '../support/token-client.ts';

const KUBE = 'kube-apiserver';
const PROXY = 'oauth2-proxy';
const KUBE_AUDIENCE = 'jwtr-relying-apiserver';
const PROXY_AUDIENCE = 'jwtr-oauth2-proxy';
const MAX_AGE_S = 40;
const PROBE_INTERVAL_S = 2;
/**
 * The emergency refusal bound. kube-apiserver (go-oidc v2.5.0's remote key set) fetches the set again
 * on an unknown kid only once its last fetch is older than max-age minus 30 s; oauth2-proxy (go-oidc
 * v3) at once. The operator probes every probeInterval with the new key, whose kid is unknown to a
 * verifier holding the old set. So: the remaining refetch hold (at most max-age - 30 s), one probe
 * interval, and 15 s for the operator's pass and the issuer server's watch to serve the new set.
 */
const BOUND_MS = (Math.max(0, MAX_AGE_S - 30) + PROBE_INTERVAL_S + 15) * 1000;

const spec = (issuer: string): JwtRotationSpec => ({
  secretName: 'api-jwt',
  algorithm: 'ES256',
  targets: [{ kind: 'Deployment', name: 'api' }],
  tokenTTL: '2m',
  refreshTokenTTL: '2m',
  rollout: { signingDelay: '1s', pollInterval: '500ms' },
  monitoring: { minDuration: '10s', maxDuration: '2m', requireOldTokenExpiry: false },
  issuer: {
    url: issuer,
    maxAge: `${MAX_AGE_S}s`,
    cacheMargin: '2s',
    probeInterval: `${PROBE_INTERVAL_S}s`,
  },
});

/** What the test saw of the JwtRotation and its Secret, each time it changed. */
interface Snapshot {
  at: number;
  phase: string;
  keys: { current?: string | undefined; next?: string | undefined };
  date?: string | undefined;
  trigger?: string | undefined;
  issuerCurrent?: string | undefined;
  accepted: Record<string, { key?: string | undefined; at?: string | undefined }>;
  compromised?: { fingerprint?: string | undefined; mayBeAcceptedBy: string[] } | undefined;
  newKeyServedSince?: string | undefined;
  signingNotBefore?: string | undefined;
}

function snapshotOf(
  r: JwtRotation,
  values: Record<string, string> | undefined,
  annotations: Record<string, string>,
): Omit<Snapshot, 'at'> {
  const issuer = r.status?.issuer;
  return {
    phase: r.status?.phase ?? '',
    keys: { current: r.status?.currentKeyFingerprint, next: r.status?.newKeyFingerprint },
    date: values?.JWT_SECRET_ROTATION_DATE,
    trigger: annotations['jwtrotation.io/trigger'],
    issuerCurrent: r.status?.conditions?.find((k) => k.type === 'IssuerCurrent')?.reason,
    accepted: Object.fromEntries(
      (issuer?.relyingParties ?? []).map((rp) => [rp.name, { key: rp.acceptedKey, at: rp.acceptedAt }]),
    ),
    compromised:
      issuer?.compromisedKey === undefined
        ? undefined
        : {
            fingerprint: issuer.compromisedKey.fingerprint,
            mayBeAcceptedBy: [...(issuer.compromisedKey.mayBeAcceptedBy ?? [])],
          },
    newKeyServedSince: issuer?.newKeyServedSince,
    signingNotBefore: issuer?.signingNotBefore,
  };
}

/** Records a Snapshot every time what it shows changes, every 250 ms, until stopped. */
function recordSnapshots(c: Clients, ns: string): { snapshots: Snapshot[]; stop(): Promise<void> } {
  const snapshots: Snapshot[] = [];
  const run = { stopping: false };
  const loop = (async () => {
    while (!run.stopping) {
      try {
        const r = await getJwtRotation(c, ns, 'api');
        const secret = await c.core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' });
        const values = Object.fromEntries(
          Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
        );
        const snap = snapshotOf(r, values, secret.metadata?.annotations ?? {});
        const last = snapshots.at(-1);
        if (last === undefined || JSON.stringify({ ...last, at: 0 }) !== JSON.stringify({ at: 0, ...snap }))
          snapshots.push({ at: Date.now(), ...snap });
      } catch {
        // the next look
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    snapshots,
    async stop() {
      run.stopping = true;
      await loop;
    },
  };
}

/** kube-apiserver's JWT authenticator metrics, each time a line changed (sampled every second). */
function recordJwtMetrics(server: RelyingApiServer): {
  changes: { at: number; line: string }[];
  stop(): Promise<void>;
} {
  const changes: { at: number; line: string }[] = [];
  const last = new Map<string, string>();
  const run = { stopping: false };
  const loop = (async () => {
    while (!run.stopping) {
      const lines = await server.jwtMetrics().catch(() => []);
      for (const line of lines) {
        const name = line.replace(/\s+\S+$/, '');
        if (line.includes('_bucket{') || last.get(name) === line) continue;
        last.set(name, line);
        changes.push({ at: Date.now(), line });
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  })();
  return {
    changes,
    async stop() {
      run.stopping = true;
      await loop;
    },
  };
}

function httpsGet(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, agent: false, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const iso = (ms: number | undefined): string => (ms === undefined ? '-' : new Date(ms).toISOString());
const secondsAfter = (ms: number | undefined, origin: number): string =>
  ms === undefined ? '-' : `${((ms - origin) / 1000).toFixed(1)} s`;

describe('the OIDC issuer with relying parties from other codebases', function () {
  this.timeout(30 * 60_000);
  let cluster: TestCluster;
  let c: Clients;
  let ns: string;
  let pki: TestPki;
  let issuerUrl: string;
  let apiserver: RelyingApiServer;
  let operator: OperatorProcess | undefined;
  let proxy: Oauth2Proxy;

  before(async function () {
    this.timeout(40 * 60_000);
    cluster = await useCluster();
    await installCrd(cluster);
    c = clients(cluster);
    ns = await cluster.newNamespace('issuer-rp');
    pki = await makeTestPki(['127.0.0.1']);
    const issuer = await startIssuerServerProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      namespaces: [ns],
      replica: `issuer-${ns}`,
      namespace: ns,
      tlsDir: pki.dir,
    });
    issuerUrl = `https://127.0.0.1:${issuer.httpsPort}/tenants/${ns}`;
    apiserver = await startRelyingApiServer(
      authenticationConfiguration({
        url: issuerUrl,
        audiences: [KUBE_AUDIENCE],
        certificateAuthority: pki.caPem,
        usernamePrefix: 'oidc:',
      }),
    );
    operator = await startOperatorProcess({
      kubeconfigPath: apiserver.kubeconfigPath,
      namespace: ns,
      env: { ISSUER_SERVER_NAMESPACE: ns },
    });
  });

  after(async () => {
    await operator?.stop();
    expect(operator?.output() ?? '').to.not.contain('PRIVATE KEY');
  });

  it('kube-apiserver and oauth2-proxy refuse no valid token through a scheduled rotation, a rollback and an emergency, and refuse the compromised key within the bound', async () => {
    const origin = Date.now();
    const marks: { what: string; at: number }[] = [];
    const mark = (what: string): void => {
      marks.push({ what, at: Date.now() });
    };
    await createConsumerDeployment(c, ns, 'api', 'api-jwt', 2);
    await createJwtRotation(c, ns, 'api', spec(issuerUrl));
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    await waitFor('the issuer server to serve the discovery document', async () => {
      const answer = await httpsGet(`${issuerUrl}/.well-known/openid-configuration`, pki.caPem);
      return answer.status === 200 && (JSON.parse(answer.body) as { issuer?: string }).issuer === issuerUrl;
    });
    mark('issuer serves the key set');
    proxy = await startOauth2Proxy({
      issuer: issuerUrl,
      audience: PROXY_AUDIENCE,
      caFile: path.join(pki.dir, 'ca.crt'),
    });
    const client = new TokenClient({
      readSecret: () => secretValues(c, ns, 'api-jwt'),
      issuer: issuerUrl,
      algorithm: 'ES256',
      subject: 'jwtr-client',
      intervalMs: 200,
      maxDurationMs: 20 * 60_000,
      relyingParties: [
        {
          name: KUBE,
          audience: KUBE_AUDIENCE,
          async present(token) {
            const answer = await apiserver.selfSubjectReview(token);
            const result = answer.status === 201 ? 'accepted' : answer.status === 401 ? 'refused' : 'error';
            return { result, detail: `${answer.status} ${answer.username ?? ''}` };
          },
        },
        {
          name: PROXY,
          audience: PROXY_AUDIENCE,
          async present(token) {
            const status = await proxy.check(token);
            const result =
              status === 202 ? 'accepted' : status === 401 || status === 403 ? 'refused' : 'error';
            return { result, detail: String(status) };
          },
        },
      ],
    });
    // kube-apiserver reads discovery on a 10 s retry until it succeeds; both must accept the key in use.
    await waitFor(
      'both relying parties to accept a token of the key in use',
      async () => {
        const answers = await client.presentNow();
        if (
          Object.keys(answers).length === 2 &&
          Object.values(answers).every((a) => a.startsWith('accepted'))
        )
          return answers;
        throw new Error(JSON.stringify(answers));
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    mark('both relying parties accept the first key');
    await registerRelyingParties(c, ns, proxy);
    await waitForPhase(c, ns, 'api', 'Idle', (r) => issuerCurrent(r) === 'IssuerCurrent', 60_000);
    mark('relying parties registered, IssuerCurrent');

    const states = recordSnapshots(c, ns);
    const fetches = recordJwtMetrics(apiserver);
    client.start();
    client.phase('idle');
    await pause(5_000);

    // A scheduled rotation: the interval since the key was made has passed.
    client.phase('rotation');
    mark('schedule.interval set to 30s');
    await patchSpec(c, ns, 'api', { schedule: { interval: '30s' } });
    await waitFor(
      'the scheduled rotation to start',
      async () => (await secretValues(c, ns, 'api-jwt'))?.JWT_PRIVATE_KEY_NEW,
      {
        timeoutMs: 60_000,
      },
    );
    mark('rotation started (JWT_PRIVATE_KEY_NEW)');
    await patchSpec(c, ns, 'api', { schedule: { interval: '2160h' } });
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed', 300_000);
    mark('rotation completed');
    await pause(5_000);

    client.phase('rollback');
    mark('rollback requested');
    await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'issuer-rp' });
    await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack',
      120_000,
    );
    mark('rollback done');
    await pause(10_000);

    client.phase('emergency');
    const emergencyAt = Date.now();
    client.emergency(emergencyAt);
    mark('emergency requested');
    await annotate(c, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'issuer-rp' });
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.trigger === 'Emergency', 120_000);
    mark('emergency done');
    await waitFor(
      'status.issuer.compromisedKey to clear (every relying party shown to drop it, caches expired)',
      async () => {
        const r = await getJwtRotation(c, ns, 'api');
        return (
          r.status?.issuer?.compromisedKey === undefined &&
          issuerCurrent(r) === 'IssuerCurrent' &&
          client.compromisedKey !== undefined
        );
      },
      { timeoutMs: 180_000, intervalMs: 500 },
    );
    mark('compromisedKey cleared, IssuerCurrent');
    await pause(5_000);
    await client.stop();
    await states.stop();
    await fetches.stop();

    report({
      origin,
      marks,
      outcomes: client.outcomes,
      snapshots: states.snapshots,
      fetches: fetches.changes,
      emergencyAt,
      client,
    });
    await printKeySetStatus(c, ns);
    assertNoValidTokenRefused(client.outcomes);
    assertEveryKeyUsed(
      client.outcomes,
      client.keysSeen().map((k) => k.fingerprint),
    );
    assertSwitchAfterAcceptance(states.snapshots);
    assertScheduled(states.snapshots);
    assertCompromisedRefused(client.outcomes, emergencyAt, states.snapshots, client.compromisedKey ?? '');
    assertCompromisedListed(states.snapshots, client.compromisedKey ?? '', emergencyAt);
  });
});

function issuerCurrent(r: JwtRotation): string | undefined {
  return r.status?.conditions?.find((k) => k.type === 'IssuerCurrent')?.reason;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function registerRelyingParties(c: Clients, ns: string, proxy: Oauth2Proxy): Promise<void> {
  const r = await getJwtRotation(c, ns, 'api');
  await patchSpec(c, ns, 'api', {
    issuer: {
      ...(r.spec.issuer ?? { url: '' }),
      relyingParties: [
        { name: KUBE, audience: KUBE_AUDIENCE, kubernetes: {} },
        { name: PROXY, audience: PROXY_AUDIENCE, http: { url: proxy.authUrl } },
      ],
    },
  });
}

interface Figures {
  origin: number;
  marks: { what: string; at: number }[];
  outcomes: Outcome[];
  snapshots: Snapshot[];
  fetches: { at: number; line: string }[];
  emergencyAt: number;
  client: TokenClient;
}

/** Prints the figures of the run (never asserted: timings depend on the machine). */
function report(f: Figures): void {
  const log = (line: string): void => {
    console.log(`    [figures] ${line}`);
  };
  log(`run started ${iso(f.origin)}; times below are seconds after it`);
  for (const m of f.marks) log(`mark ${secondsAfter(m.at, f.origin)}: ${m.what}`);
  for (const k of f.client.keysSeen())
    log(`key ${k.fingerprint} first seen by the client at ${secondsAfter(k.firstSeen, f.origin)}`);
  for (const s of f.snapshots) {
    const { at, ...shape } = s;
    log(`state ${secondsAfter(at, f.origin)}: ${JSON.stringify(shape)}`);
  }
  log('counts (relying party, phase, kind, key, result: n)');
  for (const [row, n] of countOutcomes(f.outcomes)) log(`  ${row}\t${n}`);
  const errors = f.outcomes.filter((o) => o.result === 'error');
  log(`errors: ${errors.length}${errors.length > 0 ? ` e.g. ${errors[0]?.detail ?? ''}` : ''}`);
  for (const rp of [KUBE, PROXY]) {
    for (const kind of ['compromised', 'withdrawn'] as const) {
      const after = f.outcomes.filter((o) => o.rp === rp && o.kind === kind && o.sentAt >= f.emergencyAt);
      const firstRefused = after.find((o) => o.result === 'refused');
      const lastAccepted = after.filter((o) => o.result === 'accepted').at(-1);
      log(
        `emergency, ${rp}, ${kind} tokens: ${after.length} presented; first refused ${secondsAfter(firstRefused?.sentAt, f.emergencyAt)} after the request; last accepted ${secondsAfter(lastAccepted?.sentAt, f.emergencyAt)} (bound ${BOUND_MS / 1000} s)`,
      );
    }
  }
  log("kube-apiserver's JWT authenticator metrics, as they changed (sampled every second):");
  for (const ch of f.fetches) log(`  ${secondsAfter(ch.at, f.origin)}: ${ch.line}`);
}

async function printKeySetStatus(c: Clients, ns: string): Promise<void> {
  const set = (await c.custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: KEY_SET_PLURAL,
    name: 'api',
  })) as { status?: { servers?: unknown[] } };
  console.log(`    [figures] PublishedKeySet status.servers: ${JSON.stringify(set.status?.servers ?? [])}`);
}

function assertNoValidTokenRefused(outcomes: readonly Outcome[]): void {
  const refused = outcomes.filter((o) => (o.kind === 'fresh' || o.kind === 'held') && o.result === 'refused');
  expect(
    refused.slice(0, 5).map((o) => `${o.rp} ${o.phase} ${o.kind} ${o.key} ${o.detail}`),
    `${refused.length} valid tokens refused`,
  ).to.deep.equal([]);
}

function assertEveryKeyUsed(outcomes: readonly Outcome[], keys: readonly string[]): void {
  expect(keys, "the first key, the scheduled rotation's and the emergency's").to.have.length(3);
  for (const rp of [KUBE, PROXY]) {
    for (const key of keys) {
      const accepted = outcomes.filter(
        (o) => o.rp === rp && o.key === key && o.kind === 'fresh' && o.result === 'accepted',
      );
      expect(accepted.length, `${rp} accepted fresh tokens of ${key}`).to.be.greaterThan(5);
    }
    const sessions = outcomes.filter((o) => o.rp === rp && o.kind === 'held' && o.result === 'accepted');
    expect(sessions.length, `${rp} accepted held tokens of an earlier key`).to.be.greaterThan(0);
  }
}

/** The rotation's new key, and the first snapshot whose Secret carries a real signing date. */
function switchOf(snapshots: readonly Snapshot[]): { next: string; switched: Snapshot } {
  const switched = snapshots.find(
    (s) => s.keys.next !== undefined && s.date !== undefined && s.date !== NOT_SCHEDULED,
  );
  expect(switched, 'the signing date set during the rotation').to.not.equal(undefined);
  return { next: switched?.keys.next ?? '', switched: switched as Snapshot };
}

function assertSwitchAfterAcceptance(snapshots: readonly Snapshot[]): void {
  const { next, switched } = switchOf(snapshots);
  for (const rp of [KUBE, PROXY]) {
    const shown = snapshots.find((s) => s.accepted[rp]?.key === next);
    const acceptedAt = Date.parse(shown?.accepted[rp]?.at ?? '');
    expect(acceptedAt, `${rp} accepted ${next} before the signing date was written`).to.be.at.most(
      switched.at,
    );
  }
  const notBefore = snapshots.find(
    (s) => s.keys.next === next && s.signingNotBefore !== undefined,
  )?.signingNotBefore;
  expect(Date.parse(switched.date ?? ''), 'the date is not before signingNotBefore').to.be.at.least(
    Date.parse(notBefore ?? ''),
  );
}

function assertScheduled(snapshots: readonly Snapshot[]): void {
  const { switched } = switchOf(snapshots);
  expect(switched.trigger, 'the rotation was started by the schedule').to.equal('Scheduled');
}

function assertCompromisedRefused(
  outcomes: readonly Outcome[],
  emergencyAt: number,
  snapshots: readonly Snapshot[],
  compromised: string,
): void {
  const replacement = snapshots.find(
    (s) => s.at > emergencyAt && s.keys.current !== undefined && s.keys.current !== compromised,
  )?.keys.current;
  for (const rp of [KUBE, PROXY]) {
    const attacks = outcomes.filter(
      (o) => o.rp === rp && o.kind === 'compromised' && o.sentAt >= emergencyAt,
    );
    const late = attacks.filter((o) => o.sentAt > emergencyAt + BOUND_MS);
    expect(late.length, `${rp}: compromised-key tokens presented after the bound`).to.be.greaterThan(10);
    expect(
      late.filter((o) => o.result !== 'refused').length,
      `${rp} accepted the compromised key after ${BOUND_MS} ms`,
    ).to.equal(0);
    // What status claims: a relying party that accepted the new key holds a set without the compromised one.
    const shown = snapshots.find((s) => s.at > emergencyAt && s.accepted[rp]?.key === replacement);
    const acceptedAt = Date.parse(shown?.accepted[rp]?.at ?? '');
    expect(acceptedAt, `${rp} shown to accept ${replacement ?? '?'}`).to.be.a('number').and.not.NaN;
    const afterClaim = attacks.filter((o) => o.sentAt > acceptedAt + 1000);
    expect(
      afterClaim.filter((o) => o.result !== 'refused').length,
      `${rp} accepted the compromised key after status said it dropped it`,
    ).to.equal(0);
  }
}

function assertCompromisedListed(
  snapshots: readonly Snapshot[],
  compromised: string,
  emergencyAt: number,
): void {
  const after = snapshots.filter(
    (s) => s.at > emergencyAt && s.keys.current !== undefined && s.keys.current !== compromised,
  );
  expect(after.length).to.be.greaterThan(0);
  const replacement = after[0]?.keys.current;
  for (const s of after) {
    for (const rp of [KUBE, PROXY]) {
      if (s.accepted[rp]?.key === replacement) continue;
      expect(s.compromised?.fingerprint, `compromisedKey while ${rp} has not accepted the new key`).to.equal(
        compromised,
      );
      expect(s.compromised?.mayBeAcceptedBy ?? []).to.include(rp);
    }
  }
  expect(after.at(-1)?.compromised, 'compromisedKey cleared in the end').to.equal(undefined);
  expect(after.at(-1)?.issuerCurrent).to.equal('IssuerCurrent');
}
