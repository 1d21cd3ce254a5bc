/**
 * The cross-cluster rule (src/rotation/members.ts): examples named as sentences, then properties over
 * random member states and partitions (fast-check, a fixed seed so a failure replays), each checked
 * against an oracle written here from the rule itself with revision.ts's helpers, not members.ts's.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { expect } from 'chai';
import fc from 'fast-check';

import { fingerprint } from '../../src/platform/fingerprint.ts';
import {
  completionGate,
  dropOldKeyGate,
  emergencyReach,
  keysToPublish,
  memberStatuses,
  MemberReasons,
  rollbackCatchUp,
  switchGate,
  type MembersGate,
  type MembersInput,
  type MemberView,
} from '../../src/rotation/members.ts';
import type { SecretView, TargetView } from '../../src/rotation/model.ts';
import { NOT_SCHEDULED, secretRevision, signsWithKey, verifiesKey } from '../../src/rotation/revision.ts';
import { HOUR, T0, aSecret, aTarget } from '../support/builders.ts';
import { repoRoot } from '../support/cluster.ts';

/** Runs per property; FC_RUNS raises it for a longer local soak. */
const RUNS = Number(process.env.FC_RUNS ?? 400);
/** Fixed, so a failure replays; FC_SEED tries others. */
const SEED = Number(process.env.FC_SEED ?? 24);

const ORIGINAL = fingerprint('the original key');
const NEW = fingerprint('the new key');
const OTHER = fingerprint('a key from elsewhere');

/** The shapes a member's Secret can be in, as the single-cluster core writes them (and two it does not). */
const SHAPES = {
  original: aSecret({ fingerprints: { JWT_SECRET: ORIGINAL } }),
  published: dual(NEW, NOT_SCHEDULED),
  switchedPast: dual(NEW, '2025-12-31T23:00:00Z'),
  switchedFuture: dual(NEW, '2026-01-01T01:00:00Z'),
  completed: aSecret({ fingerprints: { JWT_SECRET: NEW } }),
  other: aSecret({ fingerprints: { JWT_SECRET: OTHER } }),
  otherPublished: dual(OTHER, NOT_SCHEDULED),
  missing: undefined,
} satisfies Record<string, SecretView | undefined>;
type Shape = keyof typeof SHAPES;
const SHAPE_NAMES = Object.keys(SHAPES) as Shape[];

function dual(next: string, rotationDate: string): SecretView {
  return aSecret({
    fingerprints: { JWT_SECRET: ORIGINAL, JWT_SECRET_CURRENT: ORIGINAL, JWT_SECRET_NEW: next },
    rotationDate,
  });
}

/** Every revision a template or a pod may carry: each shape's, none, and one set by hand. */
const REVISIONS: (string | undefined)[] = [
  ...SHAPE_NAMES.flatMap((s) => {
    const secret = SHAPES[s];
    return secret === undefined ? [] : [secretRevision(secret)];
  }),
  undefined,
  'set-by-hand',
];

function member(name: string, overrides: Partial<MemberView> = {}): MemberView {
  const secret = 'secret' in overrides ? overrides.secret : SHAPES.published;
  const revision = secret === undefined ? undefined : secretRevision(secret);
  return { name, reach: { reachable: true }, secret, targets: [aTarget({ revision })], ...overrides };
}

function input(...members: MemberView[]): MembersInput {
  return { now: T0, secretName: 'api-jwt', members };
}

const unreachable = {
  reachable: false as const,
  since: T0 - HOUR,
  error: 'dial tcp 127.0.0.1:6443: connect: connection refused',
};

describe('the cross-cluster rule (members)', () => {
  describe('the signing switch', () => {
    it('switches once every member publishes the new key and every pod of its targets verifies it', () => {
      const gate = switchGate(input(member('east'), member('west')), NEW);
      expect(gate.ok).to.be.true;
      expect(gate.condition).to.include({ type: 'MembersReady', status: 'True', reason: 'MembersReady' });
    });

    it('holds while a member is unreachable, naming it, since when and why', () => {
      const gate = switchGate(input(member('east', { reach: unreachable }), member('west')), NEW);
      expect(gate.ok).to.be.false;
      expect(gate.holding).to.deep.equal(['east']);
      expect(gate.condition).to.include({ status: 'False', reason: 'MemberUnreachable' });
      expect(gate.condition.message).to.include('east (unreachable since 2025-12-31T23:00:00Z: dial tcp');
    });

    it('holds while a pod of a member runs a revision without the new key, naming the member and the target', () => {
      const [old, published] = [secretRevision(SHAPES.original), secretRevision(SHAPES.published)];
      const pods = [
        { name: 'a', revision: published },
        { name: 'b', revision: old },
      ];
      const behind = member('west', { targets: [aTarget({ revision: published, pods })] });
      const gate = switchGate(input(member('east'), behind), NEW);
      expect(gate.holding).to.deep.equal(['west']);
      expect(gate.condition).to.include({ reason: 'MemberNotVerifying' });
      expect(gate.condition.message).to.include('west (1 of 2 pod(s) of Deployment api do not verify it)');
    });

    it('counts a missing target, and pods not read, as not verifying', () => {
      const gone = member('east', { targets: [aTarget({ found: false, pods: undefined })] });
      const unread = member('west', {
        targets: [aTarget({ revision: secretRevision(SHAPES.published), pods: undefined })],
      });
      const gate = switchGate(input(gone, unread), NEW);
      expect(gate.holding).to.deep.equal(['east', 'west']);
      expect(gate.condition.message)
        .to.include('Deployment api not found')
        .and.include('pods of Deployment api not read');
    });

    it('holds while a member’s Secret does not publish the new key, even if its pods would verify it', () => {
      const gate = switchGate(input(member('east', { secret: SHAPES.original })), NEW);
      expect(gate.ok).to.be.false;
      expect(gate.condition.message).to.include(`its Secret does not publish the new key ${NEW}`);
    });

    it('names the unreachable reason first when members are both unreachable and behind, and lists all', () => {
      const gate = switchGate(
        input(member('east', { secret: SHAPES.original }), member('west', { reach: unreachable })),
        NEW,
      );
      expect(gate.condition.reason).to.equal('MemberUnreachable');
      expect(gate.holding).to.deep.equal(['east', 'west']);
    });
  });

  describe('after the switch', () => {
    it('holds dropping the old key until every pod of every member signs with the new key', () => {
      const future = member('east', { secret: SHAPES.switchedFuture });
      const held = dropOldKeyGate(input(future, member('west', { secret: SHAPES.switchedPast })), NEW);
      expect(held.holding).to.deep.equal(['east']);
      expect(held.condition).to.include({ reason: 'MemberBehind' });
      expect(dropOldKeyGate(input(member('west', { secret: SHAPES.switchedPast })), NEW).ok).to.be.true;
    });

    it('holds completion while a member is unreachable, and while one has not rolled to the new key alone', () => {
      const rolling = member('west', {
        secret: SHAPES.completed,
        targets: [aTarget({ revision: secretRevision(SHAPES.switchedPast) })],
      });
      const gate = completionGate(
        input(member('east', { reach: unreachable, secret: SHAPES.completed }), rolling),
        NEW,
      );
      expect(gate.holding).to.deep.equal(['east', 'west']);
      expect(gate.condition.message).to.include('west (Deployment api not rolled to the Secret yet)');
      expect(completionGate(input(member('east', { secret: SHAPES.completed })), NEW).ok).to.be.true;
    });
  });

  describe('emergency and rollback', () => {
    it('an emergency names exactly the members it could not reach, and says they still verify the replaced key', () => {
      const result = emergencyReach(
        input(
          member('east', { secret: SHAPES.completed }),
          member('west', { reach: unreachable }),
          member('north', { reach: unreachable }),
        ),
        NEW,
      );
      expect(result.reached).to.deep.equal(['east']);
      expect(result.unreached).to.deep.equal(['west', 'north']);
      expect(result.condition.reason).to.equal('MemberUnreachable');
      expect(result.condition.message).to.include('still verifies the replaced key');
    });

    it('a rollback lists every member not back on the original key alone, to catch up when each returns', () => {
      const back = member('east', { secret: SHAPES.original });
      const stillNew = member('west', { secret: SHAPES.published });
      const away = member('north', { reach: unreachable, secret: SHAPES.original });
      const result = rollbackCatchUp(input(back, stillNew, away), ORIGINAL);
      expect(result.holding).to.deep.equal(['west', 'north']);
      expect(rollbackCatchUp(input(back), ORIGINAL).condition).to.include({
        status: 'True',
        reason: 'MembersReady',
      });
    });
  });

  it('publishes the union of every member’s keys, an unreachable member’s as last read, and the hub’s', () => {
    const keys = keysToPublish(
      input(
        member('east', { secret: SHAPES.completed }),
        member('west', { reach: unreachable, secret: SHAPES.otherPublished }),
      ),
      [NEW, undefined],
    );
    expect(keys).to.deep.equal([NEW, ORIGINAL, OTHER].sort());
  });

  it('leaves the compromised key out after an emergency, even while an unreachable member still holds it', () => {
    const away = member('west', { reach: unreachable, secret: SHAPES.original });
    const keys = keysToPublish(input(member('east', { secret: SHAPES.completed }), away), [NEW], [ORIGINAL]);
    expect(keys).to.deep.equal([NEW]);
  });

  it('reports per member the phase of its targets and its pods by key', () => {
    const published = secretRevision(SHAPES.published);
    const mixed = member('west', {
      targets: [
        aTarget({
          revision: published,
          rollout: 'Progressing',
          pods: [
            { name: 'a', revision: published },
            { name: 'b', revision: secretRevision(SHAPES.original) },
            { name: 'c' },
          ],
        }),
      ],
    });
    const [east, west, north] = memberStatuses(
      input(member('east'), mixed, member('north', { reach: unreachable })),
      NEW,
    );
    expect(east).to.deep.include({ phase: 'Rolled', keys: [NEW, ORIGINAL].sort() });
    expect(west).to.deep.include({
      phase: 'Rolling',
      podsByKey: [
        { key: NEW, verifying: 1, signing: 0 },
        { key: ORIGINAL, verifying: 2, signing: 2 },
      ].sort((a, b) => a.key.localeCompare(b.key)),
      podsWithoutKeys: 1,
    });
    expect(west?.targets?.[0]).to.include({ pods: 3, podsVerifyingNewKey: 1, podsSigningWithNewKey: 0 });
    expect(north).to.deep.include({ phase: 'Unreachable', unreachableSince: '2025-12-31T23:00:00Z' });
    expect(memberStatuses(input(member('south', { secret: undefined })), NEW)[0]?.phase).to.equal('Stalled');
  });

  it('keeps only the first line of an error, at most 200 characters, in messages', () => {
    const long = { ...unreachable, error: `${'x'.repeat(300)}\nsecond line` };
    const gate = switchGate(input(member('east', { reach: long })), NEW);
    expect(gate.condition.message)
      .to.include(`${'x'.repeat(199)}…`)
      .and.not.include('second line');
  });

  it('documents every MembersReady reason in docs/multi-cluster.md, each a CamelCase name of itself', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs', 'multi-cluster.md'), 'utf8');
    for (const [name, value] of Object.entries(MemberReasons)) {
      expect(value)
        .to.equal(name)
        .and.match(/^[A-Z][A-Za-z0-9]+$/);
      expect(doc, value).to.include(`\`${value}\``);
    }
  });
});

// ---- Properties ----------------------------------------------------------------------------------

interface TargetDraft {
  found: boolean;
  rollout: TargetView['rollout'];
  /** Index into REVISIONS, or -1: the member Secret's own revision. */
  template: number;
  /** Each pod's revision: index into REVISIONS, -1 the Secret's own, -2 the template's. Undefined: not read. */
  pods: number[] | undefined;
}

interface MemberDraft {
  reachable: boolean;
  sinceMinutes: number;
  shape: Shape;
  /** Every target found, rolled out to the Secret's revision, every pod on it. */
  settled: boolean;
  targets: TargetDraft[];
}

const revisionIndex = fc.oneof(
  { weight: 3, arbitrary: fc.constant(-1) },
  { weight: 3, arbitrary: fc.constant(-2) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: REVISIONS.length - 1 }) },
);

const targetArb: fc.Arbitrary<TargetDraft> = fc.record({
  found: fc.oneof({ weight: 9, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  rollout: fc.constantFrom<TargetView['rollout']>(
    'Complete',
    'Complete',
    'Complete',
    'Progressing',
    'Stalled',
  ),
  template: fc.oneof(
    { weight: 3, arbitrary: fc.constant(-1) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: REVISIONS.length - 1 }) },
  ),
  pods: fc.option(fc.array(revisionIndex, { maxLength: 3 }), { freq: 8 }),
});

/** Members whose Secret is mostly in `favoured` shape, so the gate under test opens in some runs. */
function membersArb(favoured: Shape): fc.Arbitrary<MemberView[]> {
  const shape = fc.oneof(
    { weight: 4, arbitrary: fc.constant(favoured) },
    { weight: 3, arbitrary: fc.constantFrom(...SHAPE_NAMES) },
  );
  const draft: fc.Arbitrary<MemberDraft> = fc.record({
    reachable: fc.oneof(
      { weight: 5, arbitrary: fc.constant(true) },
      { weight: 1, arbitrary: fc.constant(false) },
    ),
    sinceMinutes: fc.integer({ min: 0, max: 600 }),
    shape,
    settled: fc.boolean(),
    targets: fc.array(targetArb, { minLength: 1, maxLength: 2 }),
  });
  return fc
    .array(draft, { minLength: 1, maxLength: 4 })
    .map((drafts) => drafts.map((d, i) => build(d, `member-${i}`)));
}

function build(d: MemberDraft, name: string): MemberView {
  const secret = SHAPES[d.shape];
  const own = secret === undefined ? undefined : secretRevision(secret);
  const pick = (i: number, template: string | undefined): string | undefined =>
    i === -1 ? own : i === -2 ? template : REVISIONS[i];
  const targets = d.targets.map((t, i): TargetView => {
    const template = d.settled ? own : pick(t.template, undefined);
    const pods = d.settled ? [-2, -2] : t.pods;
    return aTarget({
      name: `app-${i}`,
      found: d.settled || t.found,
      rollout: d.settled ? 'Complete' : t.rollout,
      revision: template,
      pods: pods?.map((p, j) => ({ name: `app-${i}-${j}`, revision: pick(p, template) })),
    });
  });
  const reach = d.reachable
    ? { reachable: true as const }
    : { reachable: false as const, since: T0 - d.sinceMinutes * 60_000, error: 'connection refused' };
  return { name, reach, secret, targets };
}

// The oracle: the rule as the issue states it, from revision.ts's helpers.

function everyPod(m: MemberView, ok: (revision: string | undefined) => boolean): boolean {
  return m.targets.every((t) => t.found && t.pods !== undefined && t.pods.every((p) => ok(p.revision)));
}

function onKeyAlone(m: MemberView, key: string): boolean {
  const secret = m.secret;
  if (!m.reach.reachable || secret === undefined) return false;
  if (JSON.stringify(secret.fingerprints) !== JSON.stringify({ JWT_SECRET: key })) return false;
  const revision = secretRevision(secret);
  return m.targets.every(
    (t) =>
      t.found &&
      t.revision === revision &&
      t.rollout === 'Complete' &&
      (t.pods ?? []).every((p) => p.revision === revision),
  );
}

/** The condition agrees with the gate: its status, a reason naming the unreachable first, every holder named. */
function checkCondition(gate: MembersGate, members: readonly MemberView[]): void {
  expect(gate.condition.status).to.equal(gate.ok ? 'True' : 'False');
  const anyUnreachable = members.some((m) => !m.reach.reachable);
  if (anyUnreachable) expect(gate.condition.reason).to.equal('MemberUnreachable');
  for (const name of gate.holding) expect(gate.condition.message).to.include(`${name} (`);
}

function namesWhere(members: readonly MemberView[], holds: (m: MemberView) => boolean): string[] {
  return members.filter(holds).map((m) => m.name);
}

describe('properties of the cross-cluster rule (fast-check)', function () {
  this.timeout(120_000);
  const params = { numRuns: RUNS, seed: SEED };

  it('never switches while any member is unreachable or has a pod not verifying the new key (and switches once none is)', () => {
    let opened = 0;
    fc.assert(
      fc.property(membersArb('published'), (members) => {
        const gate = switchGate(input(...members), NEW);
        const expected = members.every(
          (m) =>
            m.reach.reachable &&
            m.secret?.fingerprints.JWT_SECRET_NEW === NEW &&
            everyPod(m, (r) => verifiesKey(r, NEW)),
        );
        expect(gate.ok, 'switch').to.equal(expected);
        expect(gate.holding).to.include.members(namesWhere(members, (m) => !m.reach.reachable));
        checkCondition(gate, members);
        if (gate.ok) opened++;
      }),
      params,
    );
    expect(opened, 'runs where the switch may happen').to.be.greaterThan(0);
  });

  it('never drops the old key while any member is unreachable or has a pod not signing with the new key', () => {
    let opened = 0;
    fc.assert(
      fc.property(membersArb('switchedPast'), (members) => {
        const gate = dropOldKeyGate(input(...members), NEW);
        const expected = members.every(
          (m) => m.reach.reachable && everyPod(m, (r) => signsWithKey(r, NEW, T0)),
        );
        expect(gate.ok, 'drop the old key').to.equal(expected);
        checkCondition(gate, members);
        if (gate.ok) opened++;
      }),
      params,
    );
    expect(opened, 'runs where the old key may go').to.be.greaterThan(0);
  });

  it('never completes while any member is unreachable or has not rolled to the new key alone', () => {
    let opened = 0;
    fc.assert(
      fc.property(membersArb('completed'), (members) => {
        const gate = completionGate(input(...members), NEW);
        expect(gate.ok, 'complete').to.equal(members.every((m) => onKeyAlone(m, NEW)));
        expect(gate.holding).to.deep.equal(namesWhere(members, (m) => !onKeyAlone(m, NEW)));
        checkCondition(gate, members);
        if (gate.ok) opened++;
      }),
      params,
    );
    expect(opened, 'runs where completion may happen').to.be.greaterThan(0);
  });

  it('a rollback lists exactly the members not back on the original key alone', () => {
    let caughtUp = 0;
    fc.assert(
      fc.property(membersArb('original'), (members) => {
        const result = rollbackCatchUp(input(...members), ORIGINAL);
        expect(result.holding).to.deep.equal(namesWhere(members, (m) => !onKeyAlone(m, ORIGINAL)));
        checkCondition(result, members);
        caughtUp += members.length - result.holding.length;
      }),
      params,
    );
    expect(caughtUp, 'members found back on the original key').to.be.greaterThan(0);
  });

  it('an emergency names exactly the members it could not reach, and every other as reached', () => {
    fc.assert(
      fc.property(membersArb('completed'), (members) => {
        const result = emergencyReach(input(...members), NEW);
        expect(result.unreached).to.deep.equal(namesWhere(members, (m) => !m.reach.reachable));
        expect(result.reached).to.deep.equal(namesWhere(members, (m) => m.reach.reachable));
        for (const name of result.unreached)
          expect(result.condition.message).to.include(`${name} (unreachable since`);
        checkCondition(result, members);
      }),
      params,
    );
  });
});
