/**
 * The hub of a multi-cluster rotation (spec.clusters, docs/multi-cluster.md), pure: how the members
 * enter the single-cluster core, and what the cross-cluster gates of ./members.ts make of its decision.
 *
 * The hub runs the staged rotation of one cluster on its own Secret. Its targets are the targets of
 * every member (`<member>/<name>`), read through the member's API server, so the core's own rules hold
 * across the members: roll every target after each change of the Secret, switch only when every pod of
 * every target verifies the new key, complete only when every target has rolled. A member that cannot
 * be read (unreachable, or its Secret missing) enters as targets that never finish rolling and whose
 * pods were not read, which holds every step that waits on the targets. The gates of ./members.ts then
 * check what the targets alone cannot show (each member's own Secret), set the MembersReady condition
 * and status.members, and veto a step the members do not allow.
 */
import type { JwtRotationStatus, MemberClusterStatus, Target } from '../api/types.ts';
import { SecretKeys } from '../api/constants.ts';
import { mergeConditions } from './conditions.ts';
import { normal, warning } from './events.ts';
import {
  completionGate,
  dropOldKeyGate,
  emergencyReach,
  memberStatuses,
  MEMBERS_READY,
  rollbackCatchUp,
  switchGate,
  type MemberView,
  type MembersGate,
  type MembersInput,
} from './members.ts';
import type { Action, DecideInput, Decision, SecretView, TargetView } from './model.ts';
import { EventReasons } from './reasons.ts';
import { isSigningScheduled, NOT_SCHEDULED, secretRevision } from './revision.ts';

/** A member's target as the core names it: `<member>/<workload>` (a member name is a DNS label). */
export function memberTargetName(member: string, target: string): string {
  return `${member}/${target}`;
}

/** The member and workload of a name made by memberTargetName; undefined for a hub workload. */
export function splitMemberTarget(name: string): { member: string; name: string } | undefined {
  const at = name.indexOf('/');
  return at <= 0 ? undefined : { member: name.slice(0, at), name: name.slice(at + 1) };
}

/** Why a member's targets cannot be read on this pass, if they cannot. */
function unreadable(member: MemberView, secretName: string): string | undefined {
  if (!member.reach.reachable) return `member ${member.name} is unreachable`;
  if (member.secret === undefined)
    return `member ${member.name} has no Secret ${secretName} (the hub writes it but does not create it there)`;
  return undefined;
}

/**
 * The core's targets for a hub: each spec.target in each member, as read there. A member that
 * cannot be read gives targets on the hub's revision (so the core does not ask to roll what it cannot
 * reach) whose rollout is not finished and whose pods were not read, so nothing that waits on the
 * targets goes ahead; the member is rolled when it can be read again (its real revision differs).
 */
export function hubTargets(
  targets: readonly Pick<Target, 'kind' | 'name'>[],
  members: MembersInput,
  hubSecret: SecretView | undefined,
): TargetView[] {
  const revision = hubSecret === undefined ? undefined : secretRevision(hubSecret);
  return members.members.flatMap((m) => {
    const why = unreadable(m, members.secretName);
    if (why === undefined) return m.targets.map((t) => ({ ...t, name: memberTargetName(m.name, t.name) }));
    return targets.map((t): TargetView => ({
      kind: t.kind,
      name: memberTargetName(m.name, t.name),
      found: true,
      revision,
      rollout: 'Progressing',
      message: why,
      referencesSecret: true,
    }));
  });
}

/** Which step the members are held to, from the hub's state after the decision. */
function stepGate(
  members: MembersInput,
  status: JwtRotationStatus,
  hub: SecretView | undefined,
): MembersGate {
  const fp = hub?.fingerprints ?? {};
  const phase = status.phase ?? 'Idle';
  if (phase === 'DualKey' || phase === 'Monitoring') {
    const newKey = fp.JWT_SECRET_NEW ?? '';
    return phase === 'DualKey' && !isSigningScheduled(hub?.rotationDate)
      ? switchGate(members, newKey)
      : dropOldKeyGate(members, newKey);
  }
  const key = fp.JWT_SECRET ?? '';
  const last = phase === 'Idle' ? status.lastRotation : undefined;
  if (phase === 'RollingBack' || last?.outcome === 'RolledBack') return rollbackCatchUp(members, key);
  if ((phase === 'Completing' ? status.trigger : last?.trigger) === 'Emergency')
    return emergencyReach(members, key);
  return completionGate(members, key);
}

/** The step a decision takes that the members must allow first, and the gate that allows it. */
function vetoedStep(
  decision: Decision,
  input: DecideInput,
  members: MembersInput,
): { step: string; gate: MembersGate } | undefined {
  const newKey = input.secret?.fingerprints.JWT_SECRET_NEW ?? '';
  const updates = decision.actions.filter(
    (a): a is Extract<Action, { type: 'UpdateSecret' }> => a.type === 'UpdateSecret',
  );
  const date = updates.map((a) => a.set[SecretKeys.rotationDate]).find((v) => v !== undefined);
  if (date !== undefined && 'literal' in date && date.literal !== NOT_SCHEDULED) {
    const gate = switchGate(members, newKey);
    return gate.ok ? undefined : { step: 'the signing switch', gate };
  }
  const dropsOld = updates.some((a) => {
    const v = a.set[SecretKeys.secret];
    return v !== undefined && 'copy' in v && v.copy === 'JWT_SECRET_NEW';
  });
  if (dropsOld) {
    const gate = dropOldKeyGate(members, newKey);
    return gate.ok ? undefined : { step: 'dropping the old key', gate };
  }
  const before = input.resource.status?.phase;
  if ((before === 'Completing' || before === 'RollingBack') && decision.status.phase === 'Idle') {
    const gate = stepGate(members, input.resource.status ?? {}, input.secret);
    return gate.ok ? undefined : { step: 'recording the end of the operation', gate };
  }
  return undefined;
}

/** The MembersReady condition, merged into status.conditions (its transition time kept while unchanged). */
function withMembers(
  status: JwtRotationStatus,
  previous: JwtRotationStatus | undefined,
  gate: MembersGate,
  members: MemberClusterStatus[],
  at: { generation: number; now: number },
): JwtRotationStatus {
  const others = (status.conditions ?? []).filter((c) => c.type !== MEMBERS_READY);
  const wanted = [{ ...gate.condition, type: 'MembersReady' as const }];
  const merged = mergeConditions(previous?.conditions, wanted, at.generation, at.now);
  return { ...status, conditions: [...others, ...merged], members };
}

/** An Event when MembersReady turns (status or reason), naming the members that hold the step. */
function turnEvents(previous: JwtRotationStatus | undefined, gate: MembersGate): Decision['events'] {
  const old = previous?.conditions?.find((c) => c.type === MEMBERS_READY);
  const { status, reason, message } = gate.condition;
  if (old?.status === status && old.reason === reason) return [];
  if (status === 'True') return old === undefined ? [] : [normal(EventReasons.MembersCaughtUp, message)];
  return [warning(EventReasons.MembersHeld, message)];
}

/**
 * The core's decision for a hub, under the members' gates: a step the gate of that step does not
 * allow is not taken (the status stays as it was, and the pass looks again after pollInterval), and
 * the status gains status.members and MembersReady, with an Event when that condition turns.
 */
export function applyMembers(
  decision: Decision,
  input: DecideInput,
  members: MembersInput,
  pollIntervalMs: number,
): Decision {
  const previous = input.resource.status;
  const at = { generation: input.resource.metadata.generation ?? 0, now: members.now };
  const statuses = memberStatuses(members, newKeyOf(input.secret)) as MemberClusterStatus[];
  const veto = vetoedStep(decision, input, members);
  if (veto !== undefined) {
    const message = `${veto.step} waits for the members: ${veto.gate.condition.message}`;
    return {
      actions: [],
      status: withMembers(previous ?? {}, previous, veto.gate, statuses, at),
      events: turnEvents(previous, veto.gate).map((e) => ({ ...e, message })),
      notices: [],
      requeueAfterMs: pollIntervalMs,
    };
  }
  const gate = stepGate(members, decision.status, input.secret);
  const rotating = (decision.status.phase ?? 'Idle') !== 'Idle' || !gate.ok;
  return {
    ...decision,
    status: withMembers(decision.status, previous, gate, statuses, at),
    events: [...decision.events, ...turnEvents(previous, gate)],
    // No watch reaches a member: while members hold a step or a rotation is under way, poll them.
    requeueAfterMs: rotating ? Math.min(decision.requeueAfterMs, pollIntervalMs) : decision.requeueAfterMs,
  };
}

function newKeyOf(secret: SecretView | undefined): string | undefined {
  return secret?.fingerprints.JWT_SECRET_NEW ?? secret?.fingerprints.JWT_SECRET;
}
