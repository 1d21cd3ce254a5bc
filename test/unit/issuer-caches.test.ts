/**
 * The zero-downtime promise with remote verifiers that cache the issuer's key set (issue 26): a
 * verifier that keeps a fetched set for max-age, and one that fetches only on an unknown kid (as
 * kube-apiserver does), each behind server replicas that pick up a new set after lags of their own.
 * Whatever the lags, the max-age and when each verifier fetched, no token any pod signs is refused;
 * the same world with a signing switch that ignores the caches refuses tokens (the mutation the
 * rule exists for). Emergency and rollback keep their promises too. All in the simulated world,
 * through the production decideInput, decide and plannedWrites.
 */
import { expect } from 'chai';
import fc from 'fast-check';

import type { JwtRotationSpec } from '../../src/api/types.ts';
import { kidFingerprint } from '../../src/platform/keys.ts';
import { parseJwks } from '../../src/reconcile/secret-data.ts';
import { decide } from '../../src/rotation/decide.ts';
import type { DecideInput } from '../../src/rotation/model.ts';
import { signsWithKey } from '../../src/rotation/revision.ts';
import { SECOND, T0 } from '../support/builders.ts';
import { CachingVerifier, IssuerSim, OnDemandVerifier } from '../support/issuer-sim.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';

interface Setup {
  maxAgeS: number;
  lagsS: number[];
  /** When each caching verifier first fetches, in seconds after the world settled. */
  fetchOffsetsS: number[];
  rolloutLooks: number;
}

const spec = (maxAgeS: number): JwtRotationSpec => ({
  secretName: 'api-jwt',
  algorithm: 'ES256',
  targets: [
    { kind: 'Deployment', name: 'api' },
    { kind: 'Deployment', name: 'web' },
  ],
  tokenTTL: '1h',
  refreshTokenTTL: '2h',
  rollout: { signingDelay: '10s', pollInterval: '1s' },
  // The runbook's completion, so a rotation ends in minutes of simulated time.
  monitoring: { minDuration: '30s', maxDuration: '60s', requireOldTokenExpiry: false },
  schedule: { interval: '24h' },
  issuer: {
    url: 'https://id.example.com/tenants/api',
    maxAge: `${maxAgeS}s`,
    cacheMargin: '5s',
    probeInterval: '5s',
    relyingParties: [{ name: 'kube-apiserver', kubernetes: {} }],
  },
});

function world(setup: Setup): { w: SimulatedWorld; sim: IssuerSim; startKey: string } {
  const w = new SimulatedWorld(spec(setup.maxAgeS), T0, ['api', 'web']);
  const sim = new IssuerSim(
    setup.maxAgeS * SECOND,
    setup.lagsS.map((s) => s * SECOND),
  );
  w.issuer = sim;
  w.rolloutLooks = setup.rolloutLooks;
  // Up and published, every replica serving, before any verifier starts.
  for (
    let i = 0;
    i < 60 && (w.status?.phase !== 'Idle' || sim.replicas.some((r) => r.version === undefined));
    i++
  ) {
    w.pass();
    w.now += SECOND;
  }
  // kube-apiserver refetches on an unknown kid only once its cached set has less than 30 s of max-age
  // left (go-oidc v2.5.0, measured: docs/issuer.md), so its hold after a fetch is max-age − 30 s.
  sim.onDemand.push(
    new OnDemandVerifier('kube-apiserver', sim, Math.max(0, (setup.maxAgeS - 30) * SECOND), 0),
  );
  setup.fetchOffsetsS.forEach((offset, i) =>
    sim.caching.push(new CachingVerifier(`cache-${i}`, sim, w.now + offset * SECOND, i)),
  );
  return { w, sim, startKey: w.secretView()?.fingerprints.JWT_SECRET ?? '' };
}

/** The keys pods sign with now (pods the operator never rolled hold the start key). */
function signingKeys(w: SimulatedWorld, startKey: string): Set<string> {
  const view = w.secretView();
  const keys = [view?.fingerprints.JWT_SECRET, view?.fingerprints.JWT_SECRET_NEW, startKey];
  const signing = new Set<string>();
  for (const t of w.targetViews())
    for (const pod of t.pods ?? [])
      for (const key of keys)
        if (key !== undefined && signsWithKey(pod.revision ?? `${startKey}//`, key, w.now)) signing.add(key);
  return signing;
}

/** Every token a pod signs now, offered to every verifier: who refuses which key. */
function refusals(w: SimulatedWorld, sim: IssuerSim, startKey: string): string[] {
  return [...signingKeys(w, startKey)].flatMap((key) =>
    sim.refusing(key, w.now).map((v) => `${v} refuses ${key}`),
  );
}

/** Steps a rotation second by second to its end; returns every refusal seen. */
function rotate(w: SimulatedWorld, sim: IssuerSim, startKey: string, limit = 3000): string[] {
  const seen: string[] = [];
  w.annotations['jwtrotation.io/rotate'] = 'go';
  for (let i = 0; i < limit; i++) {
    w.pass();
    seen.push(...refusals(w, sim, startKey).map((r) => `t+${(w.now - T0) / SECOND}s: ${r}`));
    if (w.status?.phase === 'Idle' && w.status.lastRotation !== undefined) return seen;
    w.now += SECOND;
  }
  throw new Error(
    `the rotation did not end; phase ${w.status?.phase ?? 'none'}: ${w.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? ''}`,
  );
}

/** The decision core with spec.issuer hidden: a signing switch that ignores remote caches. */
function ignoringCaches(input: DecideInput): ReturnType<typeof decide> {
  const spec = { ...input.resource.spec };
  delete spec.issuer;
  return decide({ ...input, resource: { ...input.resource, spec }, issuer: undefined });
}

const setups = fc.record({
  maxAgeS: fc.integer({ min: 10, max: 120 }),
  lagsS: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 3 }),
  fetchOffsetsS: fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 4 }),
  rolloutLooks: fc.integer({ min: 1, max: 20 }),
});

describe('the issuer: remote verifiers that cache the key set', () => {
  it('no token is refused by a max-age cache or an on-demand verifier, whatever the lags, max-age and fetch times', () => {
    fc.assert(
      fc.property(setups, (setup) => {
        const { w, sim, startKey } = world(setup);
        expect(rotate(w, sim, startKey)).to.deep.equal([]);
        expect(w.status?.lastRotation?.outcome).to.equal('Completed');
      }),
      { numRuns: 10, seed: 26 },
    );
  });

  for (const [maxAgeS, hinted] of [
    [60, true],
    [30, false],
  ] as const) {
    it(`with maxAge ${maxAgeS}s, ${hinted ? 'says' : 'does not say'} that kube-apiserver refetches only in the last 30 s of max-age while it is behind`, () => {
      const { w } = world({ maxAgeS, lagsS: [0], fetchOffsetsS: [], rolloutLooks: 1 });
      w.annotations['jwtrotation.io/rotate'] = 'go';
      const behind: string[] = [];
      for (let i = 0; i < 400 && w.status?.rotationDate === undefined; i++) {
        w.pass();
        const c = w.status?.conditions?.find((x) => x.type === 'IssuerCurrent');
        if (c?.reason === 'RelyingPartyBehind') behind.push(c.message);
        w.now += SECOND;
      }
      expect(behind, 'the relying party was behind at some pass').to.not.deep.equal([]);
      const said = behind.filter((m) => m.includes('set spec.issuer.maxAge to 30s or less'));
      expect(said).to.have.length(hinted ? behind.length : 0);
      if (hinted) expect(said[0]).to.include('kube-apiserver may take up to 30s after its last fetch');
    });
  }

  it('switches only after every replica has served the new key for max-age + cacheMargin, and kube-apiserver accepted it', () => {
    const { w, sim, startKey } = world({ maxAgeS: 60, lagsS: [0, 7], fetchOffsetsS: [0], rolloutLooks: 2 });
    w.annotations['jwtrotation.io/rotate'] = 'go';
    let publishedAt: number | undefined;
    for (let i = 0; i < 400 && w.status?.rotationDate === undefined; i++) {
      w.pass();
      expect(refusals(w, sim, startKey)).to.deep.equal([]);
      if (
        publishedAt === undefined &&
        sim.replicas.every((r) => r.keys.includes(w.status?.newKeyFingerprint ?? '-'))
      )
        publishedAt = Math.max(...sim.replicas.map((r) => r.since ?? 0));
      w.now += SECOND;
    }
    const switched = Date.parse(w.status?.rotationDate ?? '') - 10 * SECOND; // the date is the switch + signingDelay
    expect(publishedAt).to.not.equal(undefined);
    expect(switched).to.be.at.least((publishedAt ?? 0) + 65 * SECOND);
    const rp = w.status?.issuer?.relyingParties?.[0];
    expect(rp?.acceptedKey).to.equal(w.status?.newKeyFingerprint);
    expect(w.status?.issuer?.signingNotBefore).to.equal(
      new Date((publishedAt ?? 0) + 65 * SECOND).toISOString().replace('.000Z', 'Z'),
    );
  });

  it('mutation: a signing switch that ignores the caches makes verifiers refuse tokens', () => {
    let refused = 0;
    fc.assert(
      fc.property(setups, (setup) => {
        const { w, sim, startKey } = world(setup);
        w.decide = ignoringCaches;
        refused += rotate(w, sim, startKey).length;
      }),
      { numRuns: 10, seed: 26 },
    );
    expect(refused, 'the rule this file tests makes no difference: the checks cannot fail').to.be.greaterThan(
      0,
    );
  });

  it('an emergency serves the new key alone at once, and says who may still accept the compromised key until kube-apiserver is shown to have dropped it', () => {
    const { w, sim } = world({ maxAgeS: 60, lagsS: [0, 3], fetchOffsetsS: [0, 10], rolloutLooks: 2 });
    const compromised = w.secretView()?.fingerprints.JWT_SECRET ?? '';
    // kube-apiserver has verified tokens of the compromised key, so it holds it.
    expect(sim.onDemand[0]?.accepts(compromised, w.now)).to.equal(true);
    w.annotations['jwtrotation.io/emergency-rotate'] = 'incident-1';
    w.pass();
    // The pass that wrote decided on the Secret as it read it; the next one (the reconciler's second look) sees the emergency.
    w.pass();
    const fresh = w.secretView()?.fingerprints.JWT_SECRET ?? '';
    expect(parseJwks(sim.spec?.jwks).keys.map((k) => kidFingerprint(k.kid))).to.deep.equal([fresh]);
    expect(w.status?.issuer?.compromisedKey?.fingerprint).to.equal(compromised);
    expect(w.status?.issuer?.compromisedKey?.mayBeAcceptedBy).to.deep.equal(['kube-apiserver']);
    expect(w.status?.conditions?.find((c) => c.type === 'IssuerCurrent')?.reason).to.equal(
      'CompromisedKeyMayBeAccepted',
    );
    for (let i = 0; i < 300 && w.status?.issuer?.compromisedKey !== undefined; i++) {
      w.now += SECOND;
      w.pass();
    }
    expect(w.status?.issuer?.compromisedKey).to.equal(undefined);
    expect(w.events.map((e) => e.reason)).to.include('CompromisedKeyDropped');
    // kube-apiserver no longer accepts the compromised key, and neither does any max-age cache.
    expect(sim.onDemand[0]?.accepts(compromised, w.now)).to.equal(false);
    expect(sim.refusing(compromised, w.now)).to.have.members(['cache-0', 'cache-1', 'kube-apiserver']);
  });

  it('a rollback after the switch keeps serving the new key until the tokens it signed have expired', () => {
    const { w, sim, startKey } = world({ maxAgeS: 20, lagsS: [0], fetchOffsetsS: [0], rolloutLooks: 2 });
    w.annotations['jwtrotation.io/rotate'] = 'go';
    for (let i = 0; i < 400 && w.status?.phase !== 'Monitoring'; i++) {
      w.pass();
      w.now += SECOND;
    }
    const newKey = w.status?.newKeyFingerprint ?? '';
    expect(signingKeys(w, startKey)).to.include(newKey);
    w.annotations['jwtrotation.io/rollback'] = 'back';
    for (
      let i = 0;
      i < 400 && !(w.status?.phase === 'Idle' && w.status.lastRotation?.outcome === 'RolledBack');
      i++
    ) {
      w.pass();
      w.now += SECOND;
    }
    expect(w.status?.lastRotation?.outcome).to.equal('RolledBack');
    expect(w.secretView()?.fingerprints.JWT_SECRET).to.equal(startKey);
    // Tokens the new key signed during Monitoring are still valid for tokenTTL: every verifier accepts them.
    expect(sim.refusing(newKey, w.now)).to.deep.equal([]);
    const retiring = sim.spec?.retiring.map((r) => kidFingerprint(r.kid));
    expect(retiring).to.deep.equal([newKey]);
    // Two hours later (the longer TTL), the key leaves.
    w.now += 2 * 3600 * SECOND + SECOND;
    w.pass();
    expect(parseJwks(sim.spec?.jwks).keys.map((k) => kidFingerprint(k.kid))).to.deep.equal([startKey]);
  });

  for (const when of ['after completion', 'in Monitoring'] as const) {
    it(`after a rollback ${when}, probes the relying parties with the original key at once, so IssuerCurrent does not wait for the idle cadence`, () => {
      const { w, startKey } = world({ maxAgeS: 20, lagsS: [0], fetchOffsetsS: [0], rolloutLooks: 2 });
      const issuerCurrent = (): string | undefined =>
        w.status?.conditions?.find((c) => c.type === 'IssuerCurrent')?.reason;
      const reached = (): boolean =>
        when === 'in Monitoring'
          ? w.status?.phase === 'Monitoring'
          : w.status?.phase === 'Idle' && w.status.lastRotation !== undefined;
      w.annotations['jwtrotation.io/rotate'] = 'go';
      for (let i = 0; i < 400 && !reached(); i++) {
        w.pass();
        w.now += SECOND;
      }
      const newKey = w.status?.newKeyFingerprint ?? w.status?.currentKeyFingerprint;
      expect(w.status?.issuer?.relyingParties?.[0]?.acceptedKey).to.equal(newKey);
      // Long after the last probe (the new key was accepted before the switch), roll back.
      w.now += 120 * SECOND;
      w.annotations['jwtrotation.io/rollback'] = 'back';
      const rolledBackAt = w.now;
      for (let i = 0; i < 400 && w.status?.lastRotation?.outcome !== 'RolledBack'; i++) {
        w.pass();
        w.now += SECOND;
      }
      expect(w.secretView()?.fingerprints.JWT_SECRET).to.equal(startKey);
      for (let i = 0; i < 30 && issuerCurrent() !== 'IssuerCurrent'; i++) {
        w.pass();
        w.now += SECOND;
      }
      // kube-apiserver still holds a set with the original key (it fetched one with both): a probe shows it.
      expect(issuerCurrent()).to.equal('IssuerCurrent');
      expect(w.status?.issuer?.relyingParties?.[0]?.acceptedKey).to.equal(startKey);
      expect(w.now - rolledBackAt).to.be.below(60 * SECOND);
    });
  }
});
