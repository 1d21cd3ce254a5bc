/**
 * Property-based tests of the decision core (fast-check): random specs, rollout speeds, lingering
 * pods, requests, gate readings, clock steps and crashes, driven through the simulated world. The
 * invariants hold on every pass of every generated run.
 */
import { expect } from 'chai';
import fc from 'fast-check';

import type { JwtRotationSpec } from '../../src/api/types.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import type { GateObservation } from '../../src/rotation/model.ts';
import { signsWithKey, verifiesKey } from '../../src/rotation/revision.ts';
import { SECOND, T0 } from '../support/builders.ts';
import { SimulatedWorld } from '../support/simulated-world.ts';

/** Runs per property; FC_RUNS raises it for a longer local soak. */
const RUNS = Number(process.env.FC_RUNS ?? 150);

const healthy: GateObservation = {
  ok: true,
  readings: {
    newKeyShare: 0.99,
    authSuccessRate: 1,
    validationLatencyP99Seconds: 0.01,
    errorRate: 0,
    activeSessions: 100,
    samples: 1000,
  },
};
const breached: GateObservation = { ok: true, readings: { ...healthy.readings, errorRate: 0.5 } };
const unreadable: GateObservation = {
  ok: false,
  reason: 'PrometheusUnreachable',
  message: 'connection refused',
};

type Step =
  | { kind: 'tick'; seconds: number }
  | { kind: 'request'; annotation: 'rotate' | 'rollback' | 'emergency-rotate' }
  | { kind: 'gate'; reading: 'healthy' | 'breached' | 'unreadable' | 'none' }
  | { kind: 'crash'; after: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 0, max: 8 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      annotation: fc.constantFrom('rotate' as const, 'rollback' as const, 'emergency-rotate' as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('gate' as const),
      reading: fc.constantFrom(
        'healthy' as const,
        'breached' as const,
        'unreadable' as const,
        'none' as const,
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('crash' as const), after: fc.integer({ min: 0, max: 3 }) }),
  },
);

const scenarioArb = fc.record({
  signingDelay: fc.integer({ min: 2, max: 30 }),
  minDuration: fc.integer({ min: 1, max: 40 }),
  extraDuration: fc.integer({ min: 0, max: 60 }),
  tokenTTL: fc.integer({ min: 10, max: 120 }),
  // The default (true) and the runbook's day-4 completion (false).
  requireOldTokenExpiry: fc.boolean(),
  retention: fc.integer({ min: 5, max: 300 }),
  withPrometheus: fc.boolean(),
  failurePolicy: fc.constantFrom('Rollback' as const, 'Pause' as const),
  unlistedConsumers: fc.constantFrom('Roll' as const, 'Block' as const),
  targets: fc.integer({ min: 1, max: 3 }),
  consumers: fc.integer({ min: 0, max: 1 }),
  rolloutLooks: fc.integer({ min: 0, max: 40 }),
  oldPodLooks: fc.integer({ min: 0, max: 15 }),
  steps: fc.array(stepArb, { minLength: 20, maxLength: 250 }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer S> ? S : never;

function specOf(s: Scenario): JwtRotationSpec {
  return {
    secretName: 'api-jwt',
    targets: Array.from({ length: s.targets }, (_, i) => ({ kind: 'Deployment' as const, name: `t${i}` })),
    unlistedConsumers: s.unlistedConsumers,
    tokenTTL: `${s.tokenTTL}s`,
    refreshTokenTTL: `${s.tokenTTL * 2}s`,
    rollout: { signingDelay: `${s.signingDelay}s`, pollInterval: '1s' },
    monitoring: {
      minDuration: `${s.minDuration}s`,
      maxDuration: `${s.minDuration + s.extraDuration}s`,
      failurePolicy: s.failurePolicy,
      requireOldTokenExpiry: s.requireOldTokenExpiry,
      ...(s.withPrometheus ? { prometheus: { url: 'http://prometheus:9090', interval: '1s' } } : {}),
    },
    rollback: { retention: `${s.retention}s` },
    schedule: { interval: '1h' },
  };
}

/** Every key value the world ever held, to look for in status and Events. */
function keyValues(w: SimulatedWorld, seen: Set<string>): void {
  for (const k of ['JWT_SECRET', 'JWT_SECRET_CURRENT', 'JWT_SECRET_NEW']) {
    const v = w.secret?.values[k];
    if (v) seen.add(v);
  }
  const original = w.backupOriginal();
  if (original) seen.add(original);
}

interface Run {
  world: SimulatedWorld;
  /** Pods never rolled by the operator hold the key the world started with. */
  startKey: string;
  /** Once a rollback or emergency is requested, the signing invariant is off: both withdraw a key on purpose. */
  keyWithdrawn: boolean;
  keys: Set<string>;
  value: number;
}

function start(s: Scenario): Run {
  const world = new SimulatedWorld(
    specOf(s),
    T0,
    Array.from({ length: s.targets }, (_, i) => `t${i}`),
  );
  world.rolloutLooks = s.rolloutLooks;
  world.oldPodLooks = s.oldPodLooks;
  if (s.consumers > 0) world.addConsumer('unlisted');
  world.settle();
  const run: Run = {
    world,
    startKey: world.secretView()?.fingerprints.JWT_SECRET ?? '',
    keyWithdrawn: false,
    keys: new Set(),
    value: 0,
  };
  keyValues(world, run.keys);
  return run;
}

function apply(run: Run, step: Step): void {
  const w = run.world;
  switch (step.kind) {
    case 'tick':
      w.now += step.seconds * SECOND;
      w.pass();
      return;
    case 'request':
      if (step.annotation !== 'rotate') run.keyWithdrawn = true;
      w.annotations[`jwtrotation.io/${step.annotation}`] = `v${++run.value}`;
      w.pass();
      return;
    case 'gate':
      if (step.reading === 'breached') run.keyWithdrawn = true; // failurePolicy Rollback withdraws the new key
      w.gate = { healthy, breached, unreadable, none: undefined }[step.reading];
      w.pass();
      return;
    case 'crash':
      w.pass(step.after);
      return;
  }
}

/** No pod signs with a key some pod cannot verify. Block leaves unlisted consumers alone until listed. */
function checkSigning(run: Run): void {
  const w = run.world;
  const views = [...w.targetViews(), ...(w.spec.unlistedConsumers === 'Roll' ? w.consumerViews() : [])];
  const pods = views.flatMap((t) => (t.pods ?? []).map((p) => p.revision ?? `${run.startKey}//`));
  const view = w.secretView();
  const keys = new Set([
    ...pods.flatMap((p) => [p.split('/')[0]?.split('+')[0], p.split('+')[1]?.split('@')[0]]),
  ]);
  for (const key of [view?.fingerprints.JWT_SECRET, view?.fingerprints.JWT_SECRET_NEW, ...keys]) {
    if (key === undefined) continue;
    const signers = pods.filter((p) => signsWithKey(p, key, w.now));
    if (signers.length === 0) continue;
    for (const verifier of pods) {
      expect(verifiesKey(verifier, key), `a pod signs with ${key}; a pod on ${verifier} cannot verify it`).to
        .be.true;
    }
  }
}

describe('properties of the decision core (fast-check)', function () {
  this.timeout(120_000);

  it('never lets a pod sign with a key another pod cannot verify, whatever the timing, crashes and readings', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const run = start(s);
        for (const step of s.steps) {
          apply(run, step);
          if (!run.keyWithdrawn) checkSigning(run);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('writes the Secret at most once per pass, so a pass makes at most one change of phase', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const run = start(s);
        for (const step of s.steps) {
          const w = run.world;
          if (step.kind === 'tick') w.now += step.seconds * SECOND;
          if (step.kind === 'gate') w.gate = { healthy, breached, unreadable, none: undefined }[step.reading];
          if (step.kind === 'request') w.annotations[`jwtrotation.io/${step.annotation}`] = `v${++run.value}`;
          const decision = w.pass(step.kind === 'crash' ? step.after : Number.POSITIVE_INFINITY);
          const writes = decision.actions.filter(
            (a) => a.type === 'UpdateSecret' || a.type === 'CreateSecret',
          );
          expect(writes.length).to.be.at.most(1);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('always leaves the Secret with a key, and never puts key material in status or Events', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const run = start(s);
        for (const step of s.steps) {
          apply(run, step);
          const values = run.world.secret?.values ?? {};
          expect(values.JWT_SECRET ?? values.JWT_SECRET_CURRENT, 'a usable key').to.be.a('string');
          keyValues(run.world, run.keys);
          const shown = JSON.stringify([run.world.status, run.world.events]);
          for (const key of run.keys) expect(shown.includes(key), 'key material shown').to.be.false;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps the original key (in the Secret or its backup) until its retention ends, unless an emergency replaced it', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const run = start(s);
        let emergency = false;
        /** The key in use when the last rotation started. */
        let original: string | undefined;
        let retainedUntil: number | undefined;
        for (const step of s.steps) {
          const w = run.world;
          const before = w.status?.phase;
          if (step.kind === 'request' && step.annotation === 'emergency-rotate') emergency = true;
          const savedBefore = w.backupOriginal();
          apply(run, step);
          const saved = w.backupOriginal();
          if (before === 'Idle' && w.status?.phase === 'DualKey') {
            original = w.secret?.values.JWT_SECRET_CURRENT;
            retainedUntil = undefined;
          } else if (before === 'Idle' && saved !== undefined && saved !== savedBefore) {
            // A new rotation begins with a pass in Idle that saves the key in use as its original: from then
            // on a rollback goes back to that key, and the last rotation's original is superseded.
            original = saved;
            retainedUntil = undefined;
          }
          // Status drops the field once the retention ended (and the backup is deleted): remember it.
          const until = Date.parse(w.status?.originalKeyRetainedUntil ?? '');
          if (!Number.isNaN(until)) retainedUntil = until;
          if (emergency || original === undefined) continue;
          if (retainedUntil !== undefined && w.now >= retainedUntil) continue;
          const held = [...Object.values(w.secret?.values ?? {}), w.backupOriginal()];
          expect(held.includes(original), `original ${fingerprint(original)} lost`).to.be.true;
        }
      }),
      { numRuns: RUNS },
    );
  });
});
