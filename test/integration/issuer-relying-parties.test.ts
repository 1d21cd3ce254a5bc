/**
 * The issuer (issue 26) against relying parties that nobody here wrote: a second kube-apiserver of
 * the local control plane with a structured AuthenticationConfiguration naming our issuer, and
 * oauth2-proxy (built from its Go module) with our issuer as an extra JWT issuer. A client signs
 * tokens exactly as the consumer contract says and presents them to both every 200 ms through a
 * scheduled rotation, a rollback and an emergency rotation, then a second emergency that comes
 * while kube-apiserver may not fetch the key set again (its last fetch is younger than max-age - 30 s).
 *
 * Asserted: no valid token refused by either, except by kube-apiserver inside that documented hold
 * after the second emergency (each such refusal checked against the fetch times its metrics show);
 * the relying parties accepted the new key before the signing date was set; after each emergency,
 * tokens of the compromised key refused by both within BOUND_MS of the request, and from the moment
 * status says a relying party accepted the new key; status.issuer.compromisedKey lists each relying
 * party until it is shown to have dropped the key; after the rollback, IssuerCurrent again within 30 s
 * (the relying parties probed with the original key at once). Printed, not asserted: the counts, the phase
 * times, kube-apiserver's JWKS-fetch metrics and the refusal times.
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
import { PKS_PLURAL } from '../../src/api/published-key-set.ts';
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { useCluster, waitFor, type TestCluster } from '../support/cluster.ts';
import { installCrd } from '../support/crd.ts';
import { startIssuerProcess } from '../support/issuer.ts';
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

/** Runs `look` every `intervalMs` (after it finishes) until stopped; a look that throws is skipped. */
function repeatUntilStopped(intervalMs: number, look: () => Promise<void>): { stop(): Promise<void> } {
  const run = { stopping: false };
  const loop = (async () => {
    while (!run.stopping) {
      await look().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      run.stopping = true;
      await loop;
    },
  };
}

/** Records a Snapshot every time what it shows changes, every 250 ms, until stopped. */
function recordSnapshots(c: Clients, ns: string): { snapshots: Snapshot[]; stop(): Promise<void> } {
  const snapshots: Snapshot[] = [];
  const looking = repeatUntilStopped(250, async () => {
    const r = await getJwtRotation(c, ns, 'api');
    const secret = await c.core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' });
    const values = Object.fromEntries(
      Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
    );
    const snap = snapshotOf(r, values, secret.metadata?.annotations ?? {});
    const last = snapshots.at(-1);
    if (last === undefined || JSON.stringify({ ...last, at: 0 }) !== JSON.stringify({ at: 0, ...snap }))
      snapshots.push({ at: Date.now(), ...snap });
  });
  return { snapshots, stop: () => looking.stop() };
}

interface Mark {
  what: string;
  at: number;
  /** kube-apiserver's JWT authenticator metrics then, summarized. */
  metrics: string;
}

/** The value of the one series of `name` whose labels include `labels`, from metric lines. */
function seriesValue(lines: readonly string[], name: string, labels = ''): string | undefined {
  const line = lines.find((l) => l.startsWith(`${name}{`) && l.includes(labels));
  return line?.split(/\s+/).at(-1);
}

/**
 * The JWT authenticator's metrics in one line: the last successful JWKS fetch (seconds after
 * `origin`), the hash of the key set it got, and the authentications (cache misses) by result.
 */
function summarizeJwtMetrics(lines: readonly string[], origin: number): string {
  const fetched = Number(
    seriesValue(
      lines,
      'apiserver_authentication_jwt_authenticator_jwks_fetch_last_timestamp_seconds',
      'result="success"',
    ),
  );
  // The key set's hash label, not apiserver_id_hash or jwt_issuer_hash.
  const hash = /[{,]hash="sha256:([0-9a-f]{8})/.exec(
    lines.find((l) =>
      l.startsWith('apiserver_authentication_jwt_authenticator_jwks_fetch_last_key_set_info'),
    ) ?? '',
  )?.[1];
  const count = (result: string): string =>
    seriesValue(
      lines,
      'apiserver_authentication_jwt_authenticator_latency_seconds_count',
      `result="${result}"`,
    ) ?? '0';
  return `last JWKS fetch ${Number.isFinite(fetched) ? secondsAfter(fetched * 1000, origin) : '-'}, key set ${hash ?? '-'}, authentications ${count('success')} succeeded / ${count('failure')} failed`;
}

/** kube-apiserver's JWKS-fetch metrics, each time a line changed (sampled every second). */
function recordJwtMetrics(server: RelyingApiServer): {
  changes: { at: number; line: string }[];
  stop(): Promise<void>;
} {
  const changes: { at: number; line: string }[] = [];
  const last = new Map<string, string>();
  const looking = repeatUntilStopped(1000, async () => {
    for (const line of await server.jwtMetrics()) {
      const name = line.replace(/\s+\S+$/, '');
      if (!line.includes('_jwks_fetch_') || last.get(name) === line) continue;
      last.set(name, line);
      changes.push({ at: Date.now(), line });
    }
  });
  return { changes, stop: () => looking.stop() };
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
    const issuer = await startIssuerProcess({
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

  it("kube-apiserver and oauth2-proxy refuse no valid token through a scheduled rotation, a rollback and two emergencies (but inside kube-apiserver's refetch hold), and refuse each compromised key within the bound", async () => {
    const origin = Date.now();
    const marks: Mark[] = [];
    const mark = async (what: string): Promise<void> => {
      const at = Date.now();
      marks.push({ what, at, metrics: summarizeJwtMetrics(await apiserver.jwtMetrics(), origin) });
    };
    await createConsumerDeployment(c, ns, 'api', 'api-jwt', 2);
    await createJwtRotation(c, ns, 'api', spec(issuerUrl));
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    await waitFor('the issuer server to serve the discovery document', async () => {
      const answer = await httpsGet(`${issuerUrl}/.well-known/openid-configuration`, pki.caPem);
      return answer.status === 200 && (JSON.parse(answer.body) as { issuer?: string }).issuer === issuerUrl;
    });
    await mark('issuer serves the key set');
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
    await mark('both relying parties accept the first key');
    await registerRelyingParties(c, ns, proxy);
    await waitForPhase(c, ns, 'api', 'Idle', (r) => issuerCurrent(r) === 'IssuerCurrent', 60_000);
    await mark('relying parties registered, IssuerCurrent');

    const states = recordSnapshots(c, ns);
    const fetches = recordJwtMetrics(apiserver);
    client.start();
    client.phase('idle');
    await pause(5_000);

    // A scheduled rotation: the interval since the key was made has passed.
    client.phase('rotation');
    await mark('schedule.interval set to 30s');
    await patchSpec(c, ns, 'api', { schedule: { interval: '30s' } });
    await waitFor(
      'the scheduled rotation to start',
      async () => (await secretValues(c, ns, 'api-jwt'))?.JWT_PRIVATE_KEY_NEW,
      {
        timeoutMs: 60_000,
      },
    );
    await mark('rotation started (JWT_PRIVATE_KEY_NEW)');
    await patchSpec(c, ns, 'api', { schedule: { interval: '2160h' } });
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed', 300_000);
    await mark('rotation completed');
    await pause(5_000);

    client.phase('rollback');
    await mark('rollback requested');
    await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'issuer-rp' });
    await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'RolledBack',
      120_000,
    );
    await mark('rollback done');
    // The relying parties are shown to accept the original key again without waiting for the idle cadence.
    await waitForPhase(c, ns, 'api', 'Idle', (r) => issuerCurrent(r) === 'IssuerCurrent', 30_000);
    await mark('rollback: IssuerCurrent again');
    await pause(10_000);

    await emergency(c, ns, client, 'emergency', mark);
    await pause(5_000);
    // Again, while kube-apiserver fetched the key set less than max-age - 30 s ago (the attacker's
    // tokens of the first compromised key make it fetch as often as it may): it cannot fetch the new key
    // until then.
    await emergency(c, ns, client, 'emergency-2', mark);
    await pause(5_000);
    await client.stop();
    await states.stop();
    await fetches.stop();

    const figures = {
      origin,
      marks,
      outcomes: client.outcomes,
      snapshots: states.snapshots,
      fetches: fetches.changes,
      emergencies: client.emergencies,
      client,
    };
    report(figures);
    await printKeySetStatus(c, ns);
    assertNoValidTokenRefused(figures);
    assertEveryKeyUsed(
      client.outcomes,
      client.keysSeen().map((k) => k.fingerprint),
    );
    assertSwitchAfterAcceptance(states.snapshots);
    assertScheduled(states.snapshots);
    client.emergencies.forEach((e, i) => {
      assertCompromisedRefused(client.outcomes, e, states.snapshots);
      assertCompromisedListed(states.snapshots, e, client.emergencies[i + 1]?.at ?? Infinity);
    });
  });
});

function issuerCurrent(r: JwtRotation): string | undefined {
  return r.status?.conditions?.find((k) => k.type === 'IssuerCurrent')?.reason;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An emergency rotation, until status says no relying party or cache may still accept the compromised key. */
async function emergency(
  c: Clients,
  ns: string,
  client: TokenClient,
  phase: string,
  mark: (what: string) => Promise<void>,
): Promise<void> {
  const before = (await getJwtRotation(c, ns, 'api')).status?.currentKeyFingerprint;
  client.phase(phase);
  client.emergency(Date.now());
  await mark(`${phase} requested`);
  await annotate(c, ns, 'api', { 'jwtrotation.io/emergency-rotate': phase });
  await waitForPhase(
    c,
    ns,
    'api',
    'Idle',
    (r) => r.status?.lastRotation?.trigger === 'Emergency' && r.status.currentKeyFingerprint !== before,
    120_000,
  );
  await mark(`${phase} done`);
  await waitFor(
    'status.issuer.compromisedKey to clear (every relying party shown to drop it, caches expired)',
    async () => {
      const r = await getJwtRotation(c, ns, 'api');
      return r.status?.issuer?.compromisedKey === undefined && issuerCurrent(r) === 'IssuerCurrent';
    },
    { timeoutMs: 180_000, intervalMs: 500 },
  );
  await mark(`${phase}: compromisedKey cleared, IssuerCurrent`);
}

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
  marks: Mark[];
  outcomes: Outcome[];
  snapshots: Snapshot[];
  fetches: { at: number; line: string }[];
  emergencies: { at: number; compromised: string }[];
  client: TokenClient;
}

const log = (line: string): void => {
  console.log(`    [figures] ${line}`);
};

/** Prints the figures of the run (never asserted: timings depend on the machine). */
function report(f: Figures): void {
  log(`run started ${iso(f.origin)}; times below are seconds after it`);
  for (const m of f.marks)
    log(`mark ${secondsAfter(m.at, f.origin)}: ${m.what} | kube-apiserver: ${m.metrics}`);
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
  for (const e of f.emergencies) reportEmergency(f, e);
  log("kube-apiserver's JWKS fetches (the gauges, as they changed; sampled every second):");
  for (const ch of f.fetches) {
    const value = Number(ch.line.split(/\s+/).at(-1));
    const fetchedAt = ch.line.includes('_timestamp_seconds')
      ? ` = fetch at ${secondsAfter(value * 1000, f.origin)}`
      : '';
    log(
      `  ${secondsAfter(ch.at, f.origin)}: ${ch.line.replace(/\{.*\}/, (labels) => `{${/[{,]hash="sha256:([0-9a-f]{8})/.exec(labels)?.[1] ?? ''}…}`)}${fetchedAt}`,
    );
  }
}

function reportEmergency(f: Figures, e: { at: number; compromised: string }): void {
  const next = f.emergencies.find((x) => x.at > e.at)?.at ?? Infinity;
  for (const rp of [KUBE, PROXY]) {
    const during = f.outcomes.filter((o) => o.rp === rp && o.sentAt >= e.at && o.sentAt < next);
    for (const kind of ['compromised', 'withdrawn', 'fresh'] as const) {
      const of = during.filter((o) => o.kind === kind && (kind !== 'compromised' || o.key === e.compromised));
      const firstRefused = of.find((o) => o.result === 'refused');
      const lastRefused = of.filter((o) => o.result === 'refused').at(-1);
      const lastAccepted = of.filter((o) => o.result === 'accepted').at(-1);
      log(
        `emergency at ${secondsAfter(e.at, f.origin)} (compromised ${e.compromised}), ${rp}, ${kind} tokens: ${of.length} presented, ` +
          `${of.filter((o) => o.result === 'refused').length} refused (first ${secondsAfter(firstRefused?.sentAt, e.at)}, last ${secondsAfter(lastRefused?.sentAt, e.at)} after the request), ` +
          `last accepted ${secondsAfter(lastAccepted?.sentAt, e.at)} (bound for compromised: ${BOUND_MS / 1000} s)`,
      );
    }
  }
}

async function printKeySetStatus(c: Clients, ns: string): Promise<void> {
  const set = (await c.custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: ns,
    plural: PKS_PLURAL,
    name: 'api',
  })) as { status?: { servers?: unknown[] } };
  log(`PublishedKeySet status.servers: ${JSON.stringify(set.status?.servers ?? [])}`);
}

/** Successful JWKS fetches of kube-apiserver (epoch ms), from the timestamp gauge's values. */
function kubeFetches(f: Figures): number[] {
  return f.fetches
    .filter(
      (ch) => ch.line.includes('_jwks_fetch_last_timestamp_seconds') && ch.line.includes('result="success"'),
    )
    .map((ch) => Number(ch.line.split(/\s+/).at(-1)) * 1000);
}

/**
 * No valid token refused, with one exception that is kube-apiserver's documented rule: after the
 * second emergency, which comes less than max-age - 30 s after its last fetch, it refuses the new
 * key until that fetch is max-age - 30 s old (it may not fetch again before). Those refusals must
 * all fall inside that window; they are counted, not excused wholesale.
 */
function assertNoValidTokenRefused(f: Figures): void {
  const refused = f.outcomes.filter(
    (o) => (o.kind === 'fresh' || o.kind === 'held') && o.result === 'refused',
  );
  const fetches = kubeFetches(f);
  const second = f.emergencies[1]?.at ?? Infinity;
  const holdMs = Math.max(0, MAX_AGE_S - 30) * 1000;
  const held = refused.filter((o) => {
    if (o.rp !== KUBE || o.phase !== 'emergency-2' || o.sentAt < second) return false;
    const lastFetch = Math.max(...fetches.filter((t) => t <= o.sentAt));
    return o.sentAt <= lastFetch + holdMs + 1000;
  });
  log(
    `valid tokens kube-apiserver refused within its refetch hold after the second emergency: ${held.length}`,
  );
  const unexplained = refused.filter((o) => !held.includes(o));
  expect(
    unexplained
      .slice(0, 5)
      .map((o) => `${o.rp} ${o.phase} ${o.kind} ${o.key} ${o.detail} at ${iso(o.sentAt)}`),
    `${unexplained.length} valid tokens refused`,
  ).to.deep.equal([]);
}

function assertEveryKeyUsed(outcomes: readonly Outcome[], keys: readonly string[]): void {
  expect(keys, "the first key, the scheduled rotation's and the two emergencies'").to.have.length(4);
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

/** The first key in use after the emergency at `at` that is not the compromised one. */
function replacementOf(
  snapshots: readonly Snapshot[],
  e: { at: number; compromised: string },
): string | undefined {
  return snapshots.find(
    (s) => s.at > e.at && s.keys.current !== undefined && s.keys.current !== e.compromised,
  )?.keys.current;
}

function assertCompromisedRefused(
  outcomes: readonly Outcome[],
  e: { at: number; compromised: string },
  snapshots: readonly Snapshot[],
): void {
  const replacement = replacementOf(snapshots, e);
  for (const rp of [KUBE, PROXY]) {
    const attacks = outcomes.filter(
      (o) => o.rp === rp && o.kind === 'compromised' && o.key === e.compromised && o.sentAt >= e.at,
    );
    const late = attacks.filter((o) => o.sentAt > e.at + BOUND_MS);
    expect(late.length, `${rp}: tokens of ${e.compromised} presented after the bound`).to.be.greaterThan(10);
    expect(
      late.filter((o) => o.result !== 'refused').length,
      `${rp} accepted the compromised key ${e.compromised} more than ${BOUND_MS} ms after the emergency`,
    ).to.equal(0);
    // What status claims: a relying party that accepted the new key holds a set without the compromised one.
    const shown = snapshots.find((s) => s.at > e.at && s.accepted[rp]?.key === replacement);
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
  e: { at: number; compromised: string },
  /** When the next emergency was requested. */
  until: number,
): void {
  const replacement = replacementOf(snapshots, e);
  const after = snapshots.filter((s) => s.at > e.at && s.at < until && s.keys.current === replacement);
  expect(after.length).to.be.greaterThan(0);
  for (const s of after) {
    for (const rp of [KUBE, PROXY]) {
      if (s.accepted[rp]?.key === replacement) continue;
      expect(s.compromised?.fingerprint, `compromisedKey while ${rp} has not accepted the new key`).to.equal(
        e.compromised,
      );
      expect(s.compromised?.mayBeAcceptedBy ?? []).to.include(rp);
    }
  }
  expect(after.at(-1)?.compromised, 'compromisedKey cleared in the end').to.equal(undefined);
  expect(after.at(-1)?.issuerCurrent).to.equal('IssuerCurrent');
}
