/**
 * One key across clusters, the keys published (docs/multi-cluster.md, "The keys published"): with an
 * asymmetric algorithm, a hub's JWKS ConfigMap and PublishedKeySet keep every key they served that a
 * member's Secret still holds (an unreachable member's as last read), beside the hub Secret's own;
 * after an emergency, less the compromised key, at once. Through the executor's planned writes
 * (src/reconcile/execute.ts, plannedWrites) with real ES256 keys, and through the real Reconciler over
 * in-memory ports for a hub's quiet pass.
 */
import { expect } from 'chai';

import { JWKS_DATA_KEY, SecretAnnotations } from '../../src/api/constants.ts';
import type { JwtRotation, JwtRotationSpec, MemberClusterStatus } from '../../src/api/types.ts';
import { plannedWrites, type ReadSecrets, type Write } from '../../src/reconcile/execute.ts';
import { KeySetPublisher, keySetVersion } from '../../src/reconcile/issuer-data.ts';
import type { KeySetSpec, MemberApi } from '../../src/reconcile/ports.ts';
import { Reconciler } from '../../src/reconcile/reconciler.ts';
import { jwksOf, jwksText, parseJwks } from '../../src/reconcile/secret-data.ts';
import { generateKey, keyFingerprint, kidFingerprint, publicJwk } from '../../src/platform/keys.ts';
import { compromisedKeys, keptForMembers, type MemberView } from '../../src/rotation/members.ts';
import type { Action, SecretView } from '../../src/rotation/model.ts';
import { toRfc3339 } from '../../src/rotation/time.ts';
import { HOUR, SECOND, T0 } from '../support/builders.ts';
import { MemorySecrets, MemoryWorkloads, memoryDeps } from '../support/memory-ports.ts';

const SCHEME = { algorithm: 'ES256', rsaKeySize: 2048 } as const;
const ORIGINAL_PEM = generateKey(0, SCHEME);
const NEW_PEM = generateKey(0, SCHEME);
const EMERGENCY_PEM = generateKey(0, SCHEME);
const fp = (pem: string): string => keyFingerprint(pem, SCHEME);
const ORIGINAL = fp(ORIGINAL_PEM);
const NEW = fp(NEW_PEM);
const EMERGENCY = fp(EMERGENCY_PEM);
const kidOf = (pem: string): string => publicJwk(pem, SCHEME.algorithm).kid;

const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  algorithm: 'ES256',
  tokenTTL: '1h',
  refreshTokenTTL: '2h',
  issuer: { url: 'https://issuer.example' },
  targets: [{ kind: 'Deployment', name: 'api' }],
  clusters: [{ name: 'east' }, { name: 'west' }],
};
const resource: JwtRotation = {
  apiVersion: 'jwtrotation.io/v1alpha1',
  kind: 'JwtRotation',
  metadata: { name: 'api', namespace: 'ns', uid: 'uid-1' },
  spec,
};

/** The hub's Secret values: JWT_PRIVATE_KEY and, when given, the dual-key slots. */
function values(key: string, dual?: { current: string; next: string }): Record<string, string> {
  return dual === undefined
    ? { JWT_PRIVATE_KEY: key }
    : { JWT_PRIVATE_KEY: key, JWT_PRIVATE_KEY_CURRENT: dual.current, JWT_PRIVATE_KEY_NEW: dual.next };
}

const DUAL = values(ORIGINAL_PEM, { current: ORIGINAL_PEM, next: NEW_PEM });

/** A member's Secret as the hub sees it: fingerprints only. */
function memberSecret(fingerprints: SecretView['fingerprints']): SecretView {
  return { resourceVersion: '1', fingerprints, annotations: {} };
}
const HOLDS_BOTH = memberSecret({ JWT_SECRET: ORIGINAL, JWT_SECRET_CURRENT: ORIGINAL, JWT_SECRET_NEW: NEW });
const HOLDS_ORIGINAL = memberSecret({ JWT_SECRET: ORIGINAL });

const up = (name: string, secret: SecretView | undefined): MemberView => ({
  name,
  reach: { reachable: true },
  secret,
  targets: [],
});
/** Unreachable, with its Secret as last read. */
const away = (name: string, secret: SecretView | undefined): MemberView => ({
  name,
  reach: { reachable: false, since: T0 - 60_000, error: 'connect ECONNREFUSED 10.0.0.2:6443' },
  secret,
  targets: [],
});

/** What a pass read: the hub's Secret, and the JWKS and PublishedKeySet serving these keys. */
function read(
  secretValues: Record<string, string>,
  served: string[],
  members: MemberView[],
  annotations: Record<string, string> = {},
): ReadSecrets {
  const set = { keys: served.map((pem) => publicJwk(pem, SCHEME.algorithm)) };
  const jwks = jwksText(set);
  const keySetSpec: KeySetSpec = {
    issuer: 'https://issuer.example',
    algorithm: 'ES256',
    version: keySetVersion(set),
    maxAgeSeconds: 300,
    keyCount: served.length,
    jwks,
    retiring: [],
  };
  return {
    secret: { resourceVersion: '7', values: secretValues, annotations },
    backup: undefined,
    jwks: { resourceVersion: '3', data: { [JWKS_DATA_KEY]: jwks } },
    keySet: { resourceVersion: '4', spec: keySetSpec, servers: [] },
    members: { now: T0, secretName: 'api-jwt', members },
  };
}

/** Every write of the pass; the keys published (fingerprints) are read from the last JWKS and key set written. */
function run(actions: Action[], from: ReadSecrets, newKey = EMERGENCY_PEM) {
  const writes: Write[] = [...plannedWrites(actions, resource, from, () => newKey, T0)];
  const jwks = writes.filter((w) => w.type === 'WriteJwks').at(-1);
  const set = writes.filter((w) => w.type === 'WriteKeySet').at(-1);
  const jwksText0 = jwks?.type === 'WriteJwks' ? jwks.data[JWKS_DATA_KEY] : from.jwks?.data[JWKS_DATA_KEY];
  const keySet = set?.type === 'WriteKeySet' ? set.spec : from.keySet?.spec;
  const kids = (text: string | undefined): string[] =>
    parseJwks(text)
      .keys.map((k) => kidFingerprint(k.kid))
      .sort();
  return { writes, jwks: kids(jwksText0), keySet: kids(keySet?.jwks), retiring: keySet?.retiring ?? [] };
}

/** The rollback's Secret write: the original key back in JWT_SECRET alone (start-rollback.ts's shape). */
const rollback: Action = {
  type: 'UpdateSecret',
  resourceVersion: '7',
  set: { JWT_SECRET: { copy: 'JWT_SECRET_CURRENT' } },
  remove: ['JWT_SECRET_CURRENT', 'JWT_SECRET_NEW', 'JWT_SECRET_ROTATION_DATE'],
  annotations: { [SecretAnnotations.operation]: 'Rollback', [SecretAnnotations.previousKey]: NEW },
};

/** The emergency's Secret write: a new key alone, the key in use named compromised (start-emergency.ts's shape). */
const emergency = (compromised: string): Action => ({
  type: 'UpdateSecret',
  resourceVersion: '7',
  set: { JWT_SECRET: { generate: 32 } },
  remove: ['JWT_SECRET_CURRENT', 'JWT_SECRET_NEW', 'JWT_SECRET_ROTATION_DATE'],
  annotations: { [SecretAnnotations.operation]: 'Emergency', [SecretAnnotations.previousKey]: compromised },
});

const sorted = (...keys: string[]): string[] => [...keys].sort();

describe('the keys a hub publishes: the union of what its members hold', () => {
  describe('a rollback that finishes in the hub while member east is unreachable', () => {
    it('keeps the new key east still holds in the JWKS and the PublishedKeySet (held, not retiring), after the Secret write', () => {
      const out = run([rollback], read(DUAL, [ORIGINAL_PEM, NEW_PEM], [away('east', HOLDS_BOTH)]));
      expect(out.writes.some((w) => w.type === 'ReplaceSecret')).to.equal(true);
      expect(out.jwks).to.deep.equal(sorted(ORIGINAL, NEW));
      expect(out.keySet).to.deep.equal(sorted(ORIGINAL, NEW));
      expect(out.retiring).to.deep.equal([]);
    });

    it('keeps it on every later pass while east stays away, though west is caught up and the hub holds the original alone', () => {
      const out = run(
        [],
        read(
          values(ORIGINAL_PEM),
          [ORIGINAL_PEM, NEW_PEM],
          [away('east', HOLDS_BOTH), up('west', HOLDS_ORIGINAL)],
        ),
      );
      expect(out.jwks).to.deep.equal(sorted(ORIGINAL, NEW));
      expect(out.keySet).to.deep.equal(sorted(ORIGINAL, NEW));
      expect(out.retiring).to.deep.equal([]);
    });

    it('keeps it when east returns, until east is caught up (its Secret as read still holds it)', () => {
      const out = run([], read(values(ORIGINAL_PEM), [ORIGINAL_PEM, NEW_PEM], [up('east', HOLDS_BOTH)]));
      expect(out.jwks).to.deep.equal(sorted(ORIGINAL, NEW));
      expect(out.keySet).to.deep.equal(sorted(ORIGINAL, NEW));
    });

    it('lets it leave once east is caught up: out of the JWKS, and retiring in the PublishedKeySet from then on', () => {
      const out = run(
        [],
        read(
          values(ORIGINAL_PEM),
          [ORIGINAL_PEM, NEW_PEM],
          [up('east', HOLDS_ORIGINAL), up('west', HOLDS_ORIGINAL)],
        ),
      );
      expect(out.jwks).to.deep.equal([ORIGINAL]);
      // The issuer's usual rule for a key that left: served for the longer token lifetime (2h) from now.
      expect(out.keySet).to.deep.equal(sorted(ORIGINAL, NEW));
      expect(out.retiring).to.deep.equal([{ kid: kidOf(NEW_PEM), until: toRfc3339(T0 + 2 * HOUR) }]);
    });
  });

  describe('an emergency while member east is unreachable', () => {
    it('drops the compromised key at once from the JWKS and the PublishedKeySet, though east still holds it', () => {
      const out = run(
        [emergency(ORIGINAL)],
        read(
          values(ORIGINAL_PEM),
          [ORIGINAL_PEM],
          [away('east', HOLDS_ORIGINAL), up('west', HOLDS_ORIGINAL)],
        ),
      );
      expect(out.jwks).to.deep.equal([EMERGENCY]);
      expect(out.keySet).to.deep.equal([EMERGENCY]);
      expect(out.retiring).to.deep.equal([]);
    });

    it('keeps a key east holds that is not the compromised one (east’s pods may sign with it), as keysToPublish says', () => {
      const out = run([emergency(ORIGINAL)], read(DUAL, [ORIGINAL_PEM, NEW_PEM], [away('east', HOLDS_BOTH)]));
      expect(out.jwks).to.deep.equal(sorted(EMERGENCY, NEW));
      expect(out.keySet).to.deep.equal(sorted(EMERGENCY, NEW));
    });

    it('never brings the compromised key back, once the Secret no longer records the emergency (only served keys are kept)', () => {
      // A later operation replaced the emergency's annotations; east, still away, last held the compromised key.
      const out = run(
        [],
        read(values(EMERGENCY_PEM), [EMERGENCY_PEM], [away('east', HOLDS_ORIGINAL)], {
          [SecretAnnotations.operation]: 'Rotate',
        }),
      );
      expect(out.jwks).to.deep.equal([EMERGENCY]);
      expect(out.keySet).to.deep.equal([EMERGENCY]);
      expect(out.writes).to.deep.equal([]);
    });
  });

  it('publishes exactly the Secret’s keys without members (one cluster), as before', () => {
    const out = run([rollback], { ...read(DUAL, [ORIGINAL_PEM, NEW_PEM], []), members: undefined });
    expect(out.jwks).to.deep.equal([ORIGINAL]);
    expect(out.retiring.map((r) => r.kid)).to.deep.equal([kidOf(NEW_PEM)]);
  });

  it('writes nothing when the served set already is the union (a pass is idempotent)', () => {
    const out = run([], read(values(ORIGINAL_PEM), [ORIGINAL_PEM, NEW_PEM], [away('east', HOLDS_BOTH)]));
    expect(out.writes).to.deep.equal([]);
  });

  it('keptForMembers keeps only served keys a member holds, less the compromised key (fingerprints only)', () => {
    const members = { now: T0, secretName: 'api-jwt', members: [away('east', HOLDS_BOTH)] };
    expect(keptForMembers(members, [EMERGENCY, NEW, ORIGINAL], {})).to.deep.equal([NEW, ORIGINAL]);
    const annotations = {
      [SecretAnnotations.operation]: 'Emergency',
      [SecretAnnotations.previousKey]: ORIGINAL,
    };
    expect(compromisedKeys(annotations)).to.deep.equal([ORIGINAL]);
    expect(keptForMembers(members, [EMERGENCY, NEW, ORIGINAL], annotations)).to.deep.equal([NEW]);
    expect(compromisedKeys({ ...annotations, [SecretAnnotations.operation]: 'Rollback' })).to.deep.equal([]);
  });

  it('KeySetPublisher without members keeps its single-cluster rule', () => {
    const publisher = new KeySetPublisher(resource, SCHEME, 'https://issuer.example', 300, T0, undefined);
    const set = publisher.exactly(values(ORIGINAL_PEM), {});
    expect(parseJwks(set?.jwks).keys.map((k) => k.kid)).to.deep.equal(
      jwksOf(values(ORIGINAL_PEM), SCHEME).keys.map((k) => k.kid),
    );
  });
});

describe('a hub’s quiet pass keeps its JWKS the union of what its members hold (the real Reconciler)', () => {
  const hubSpec: JwtRotationSpec = {
    secretName: 'api-jwt',
    algorithm: 'ES256',
    targets: [{ kind: 'Deployment', name: 'api' }],
    clusters: [{ name: 'east' }],
    rollout: { signingDelay: '10s', pollInterval: '1s' },
    monitoring: { minDuration: '30s', maxDuration: '60s' },
  };

  function hubWorld() {
    const deps = memoryDeps('api-jwt', T0);
    let made = 0;
    const pems = [ORIGINAL_PEM, NEW_PEM];
    const newKey = (): string => pems[made++] ?? generateKey(0, SCHEME);
    const east = { secrets: new MemorySecrets(), workloads: new MemoryWorkloads('api-jwt'), down: false };
    east.secrets.put('default', 'api-jwt', {});
    const api: MemberApi = {
      secrets: {
        get: (ns, name) =>
          east.down ? Promise.reject(new Error('connect ECONNREFUSED')) : east.secrets.get(ns, name),
        replace: (current, content) => east.secrets.replace(current, content),
      },
      workloads: east.workloads,
    };
    const members = {
      client: () => api,
      describe: (e: unknown) => (e instanceof Error ? e.message : String(e)),
    };
    const full = { ...deps, newKey, members };
    deps.secrets.put(
      'default',
      'east-kubeconfig',
      { value: 'apiVersion: v1' },
      { 'jwtrotation.io/allow-references': 'api' },
    );
    const resource: JwtRotation = {
      apiVersion: 'jwtrotation.io/v1alpha1',
      kind: 'JwtRotation',
      metadata: { name: 'api', namespace: 'default', uid: 'uid-1', generation: 1, annotations: {} },
      spec: hubSpec,
    };
    deps.resources.byKey.set('default/api', resource);
    const reconciler = new Reconciler(full);
    const current = (): JwtRotation => deps.resources.byKey.get('default/api') ?? resource;
    return {
      deps,
      east,
      current,
      async passes(n: number): Promise<void> {
        for (let i = 0; i < n; i++) {
          await reconciler.reconcile('default', 'api');
          deps.clock.advance(SECOND);
        }
      },
      published: (): string[] =>
        parseJwks(deps.configMaps.data('default', 'api-jwt-jwks')?.[JWKS_DATA_KEY])
          .keys.map((k) => kidFingerprint(k.kid))
          .sort(),
    };
  }

  it('keeps a key the hub dropped while east, unreachable, last held it, and lets it go once east holds the hub’s key again', async () => {
    const w = hubWorld();
    await w.passes(10);
    expect(w.current().status?.phase).to.equal('Idle');
    expect(w.published()).to.deep.equal([ORIGINAL]);
    expect(w.east.secrets.values('default', 'api-jwt')?.JWT_PRIVATE_KEY).to.equal(ORIGINAL_PEM);

    // As a rollback leaves it: the hub holds the original alone, the JWKS served both keys, and
    // east, cut off before it was written, last held both.
    await w.deps.configMaps.write('default', 'api-jwt-jwks', {
      [JWKS_DATA_KEY]: jwksText({ keys: [publicJwk(ORIGINAL_PEM, 'ES256'), publicJwk(NEW_PEM, 'ES256')] }),
    });
    w.east.down = true;
    const status = w.current().status ?? {};
    const eastStatus: MemberClusterStatus = {
      name: 'east',
      phase: 'Unreachable',
      unreachableSince: toRfc3339(w.deps.clock.now()),
      message: 'connect ECONNREFUSED',
      keys: sorted(ORIGINAL, NEW),
    };
    w.deps.resources.byKey.set('default/api', {
      ...w.current(),
      status: { ...status, members: [eastStatus] },
    });
    await w.passes(3);
    expect(w.current().status?.members?.[0]).to.deep.include({ name: 'east', phase: 'Unreachable' });
    expect(w.published(), 'east may still sign with the new key').to.deep.equal(sorted(ORIGINAL, NEW));

    // East returns holding the original alone (as the hub's catch-up leaves it): the new key leaves.
    w.east.down = false;
    await w.passes(3);
    expect(w.published()).to.deep.equal([ORIGINAL]);
  });
});
