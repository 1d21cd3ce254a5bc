/**
 * The hub of a multi-cluster rotation (src/rotation/hub.ts): how members enter the single-cluster core
 * as targets, and how the members' gates veto a step and report each member. Pure: examples only; the
 * gates themselves have their properties in members.test.ts.
 */
import { expect } from 'chai';

import type { JwtRotationStatus } from '../../src/api/types.ts';
import { describe as describeRotation } from '../../src/cli/commands/status.ts';
import { painter } from '../../src/cli/output.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { applyMembers, hubTargets, splitMemberTarget } from '../../src/rotation/hub.ts';
import type { MembersInput, MemberView } from '../../src/rotation/members.ts';
import type { Decision, SecretView } from '../../src/rotation/model.ts';
import { NOT_SCHEDULED, secretRevision } from '../../src/rotation/revision.ts';
import { T0, aJwtRotation, aSecret, aTarget, anInput } from '../support/builders.ts';

const OLD = fingerprint('old');
const NEW = fingerprint('new');
const published: SecretView = aSecret({
  fingerprints: { JWT_SECRET: OLD, JWT_SECRET_CURRENT: OLD, JWT_SECRET_NEW: NEW },
  rotationDate: NOT_SCHEDULED,
});
const revision = secretRevision(published);

function member(name: string, overrides: Partial<MemberView> = {}): MemberView {
  return {
    name,
    reach: { reachable: true },
    secret: published,
    targets: [aTarget({ revision, pods: [{ name: `${name}-pod`, revision }] })],
    ...overrides,
  };
}

const down = (name: string): MemberView =>
  member(name, {
    reach: { reachable: false, since: T0 - 60_000, error: 'connect ECONNREFUSED 127.0.0.1:6443' },
    targets: [],
  });

const membersOf = (...members: MemberView[]): MembersInput => ({ now: T0, secretName: 'api-jwt', members });

/** A decision of the core's DualKey that sets the signing date (the switch). */
const switching: Decision = {
  actions: [
    {
      type: 'UpdateSecret',
      resourceVersion: '1',
      set: { JWT_SECRET_ROTATION_DATE: { literal: '2026-01-01T00:10:00Z' } },
      remove: [],
      annotations: {},
    },
  ],
  status: { phase: 'DualKey', rotationDate: '2026-01-01T00:10:00Z' },
  events: [],
  notices: [],
  requeueAfterMs: 0,
  restsOnPods: true,
};

const previous: JwtRotationStatus = { phase: 'DualKey', newKeyFingerprint: NEW };
const input = anInput({ secret: published, resource: aJwtRotation({ status: previous }) });

describe('the hub of a multi-cluster rotation', () => {
  it("names each member's target <member>/<name>, and reads a member it cannot reach as targets not rolled and pods not read", () => {
    const targets = hubTargets(
      [{ kind: 'Deployment', name: 'api' }],
      membersOf(member('eu'), down('us')),
      published,
    );
    expect(targets.map((t) => t.name)).to.deep.equal(['eu/api', 'us/api']);
    const [, us] = targets;
    expect(us).to.include({
      found: true,
      revision,
      rollout: 'Progressing',
      message: 'member us is unreachable',
    });
    expect(us?.pods).to.equal(undefined);
    expect(splitMemberTarget('us/api')).to.deep.equal({ member: 'us', name: 'api' });
    expect(splitMemberTarget('api')).to.equal(undefined);
  });

  it('reads a member without its Secret as one that cannot roll yet (the hub does not create Secrets there)', () => {
    const [t] = hubTargets(
      [{ kind: 'Deployment', name: 'api' }],
      membersOf(member('eu', { secret: undefined })),
      published,
    );
    expect(t?.message).to.include('member eu has no Secret api-jwt');
    expect(t?.rollout).to.equal('Progressing');
  });

  it('does not switch while a member is unreachable: no write, the status as it was, MembersReady=False naming it', () => {
    const held = applyMembers(switching, input, membersOf(member('eu'), down('us')), 5000);
    expect(held.actions).to.deep.equal([]);
    expect(held.status.rotationDate).to.equal(undefined);
    const condition = held.status.conditions?.find((c) => c.type === 'MembersReady');
    expect(condition).to.include({ status: 'False', reason: 'MemberUnreachable' });
    expect(condition?.message).to.match(/us \(unreachable since 2025-12-31T23:59:00Z: connect ECONNREFUSED/);
    expect(held.events.map((e) => e.reason)).to.deep.equal(['MembersHeld']);
    expect(held.events[0]?.message).to.include('the signing switch waits for the members');
    expect(held.status.members?.map((m) => m.phase)).to.deep.equal(['Rolled', 'Unreachable']);
    expect(held.requeueAfterMs).to.equal(5000);
  });

  it("does not switch while a member's Secret does not publish the new key, even if its pods say they verify it", () => {
    const edited = member('eu', { secret: aSecret({ fingerprints: { JWT_SECRET: OLD } }) });
    const held = applyMembers(switching, input, membersOf(edited), 5000);
    expect(held.actions).to.deep.equal([]);
    expect(held.status.conditions?.find((c) => c.type === 'MembersReady')?.reason).to.equal(
      'MemberNotVerifying',
    );
  });

  it('switches when every member publishes the new key and every pod verifies it, and says so', () => {
    const done = applyMembers(switching, input, membersOf(member('eu'), member('us')), 5000);
    expect(done.actions).to.deep.equal(switching.actions);
    expect(done.status.rotationDate).to.equal('2026-01-01T00:10:00Z');
    // The condition describes the Secret as this pass read it: every member verifies the new key.
    const condition = done.status.conditions?.find((c) => c.type === 'MembersReady');
    expect(condition).to.include({ status: 'True', reason: 'MembersReady' });
    expect(done.events.map((e) => e.reason)).to.deep.equal([]);
    expect(done.status.members?.map((m) => m.name)).to.deep.equal(['eu', 'us']);
  });

  it('does not record the end of a rollback while a member still runs another key', () => {
    const rollingBack: JwtRotationStatus = { phase: 'RollingBack', trigger: 'Rollback' };
    const original = aSecret({ fingerprints: { JWT_SECRET: OLD } });
    const ended: Decision = {
      actions: [],
      status: { phase: 'Idle' },
      events: [],
      notices: [],
      requeueAfterMs: 60_000,
    };
    const back = member('eu', {
      secret: original,
      targets: [aTarget({ revision: secretRevision(original) })],
    });
    const behind = member('us', { secret: aSecret({ fingerprints: { JWT_SECRET: NEW } }) });
    const at = anInput({ secret: original, resource: aJwtRotation({ status: rollingBack }) });
    const held = applyMembers(ended, at, membersOf(back, behind), 5000);
    expect(held.status.phase).to.equal('RollingBack');
    expect(held.status.conditions?.find((c) => c.type === 'MembersReady')?.message).to.include(
      'us (its Secret does not hold key',
    );
    const allBack = applyMembers(ended, at, membersOf(back), 5000);
    expect(allBack.status.phase).to.equal('Idle');
  });

  it("kubectl jwtrotation status lists each member's phase, keys and pods by key", () => {
    const held = applyMembers(switching, input, membersOf(member('eu'), down('us')), 5000);
    const text = describeRotation(
      { ...aJwtRotation(), apiVersion: 'jwtrotation.io/v1alpha1', kind: 'JwtRotation', status: held.status },
      painter(false),
    );
    expect(text).to.include('Members:');
    expect(text).to.match(new RegExp(`eu\\s+Rolled\\s+${NEW},${OLD}|eu\\s+Rolled\\s+${OLD},${NEW}`));
    expect(text).to.match(/us\s+Unreachable\s+.*since 2025-12-31T23:59:00Z: connect ECONNREFUSED/);
  });
});
