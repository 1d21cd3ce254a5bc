/**
 * One key across clusters (issue 24, docs/multi-cluster.md): the staged rotation's rule over the
 * member clusters a hub drives. The hub's shell (src/reconcile/members.ts) reads each member (its
 * Secret reduced to fingerprints, its targets and their pods, in the shapes the single-cluster core
 * reads), and ./hub.ts asks these functions whether a step may happen, which members hold it, and what
 * status says about each member. Pure, like the rest of the core.
 */
import { SecretAnnotations } from '../api/constants.ts';
import type { TargetStatus } from '../api/types.ts';
import type { ConditionSpec } from './conditions.ts';
import type { SecretView, TargetView } from './model.ts';
import { readRevision, secretRevision, signsWithKey } from './revision.ts';
import { describeTargets, describeWait, isRolledOut, podsNotVerifying, targetStatus } from './targets.ts';
import { toRfc3339 } from './time.ts';

/** How the hub last fared reaching a member's API server. */
export type MemberReach =
  | { reachable: true }
  /**
   * Unreachable since `since` (epoch ms), with the last error's text. The shell passes it free of
   * credentials, as it does every message; the core only shortens it.
   */
  | { reachable: false; since: number; error: string };

/** A member cluster as the hub saw it on this pass. */
export interface MemberView {
  name: string;
  reach: MemberReach;
  /**
   * The managed Secret: as read on this pass when reachable (undefined: it does not exist there); when
   * unreachable, as last read (undefined: never read), which only keysToPublish uses.
   */
  secret: SecretView | undefined;
  /** Its targets, with their pods, as the single-cluster core reads them; not read while unreachable. */
  targets: readonly TargetView[];
}

export interface MembersInput {
  /** Epoch milliseconds from the injected clock. */
  now: number;
  /** spec.secretName: the managed Secret has this name in every member. */
  secretName: string;
  members: readonly MemberView[];
}

/** The condition type the hub sets (spec.clusters). */
export const MEMBERS_READY = 'MembersReady';

export type MembersCondition = Omit<ConditionSpec, 'type'> & { type: typeof MEMBERS_READY };

/** Reasons of the MembersReady condition (documented in docs/multi-cluster.md; a unit test checks it). */
export const MemberReasons = {
  /** MembersReady=True: every member is reachable and where the step in flight needs it. */
  MembersReady: 'MembersReady',
  /** MembersReady=False: the hub could not reach a member's API server; the message names it and since when. */
  MemberUnreachable: 'MemberUnreachable',
  /**
   * MembersReady=False before the signing switch: a member's Secret does not publish the new key, or a
   * pod of one of its targets does not verify it (or its pods were not read).
   */
  MemberNotVerifying: 'MemberNotVerifying',
  /** MembersReady=False: a member has not rolled to what the step waits for (signing, completion, rollback, emergency). */
  MemberBehind: 'MemberBehind',
} as const;

export type MemberReason = (typeof MemberReasons)[keyof typeof MemberReasons];

/** Whether a step may happen across the members, and the condition that says why not. */
export interface MembersGate {
  ok: boolean;
  /** The members that hold the step, in input order: unreachable, or not where the step needs them. */
  holding: string[];
  condition: MembersCondition;
}

/** Why a reachable member is not where a step needs it; undefined when it is. */
type Lag = (member: MemberView, now: number) => string | undefined;

interface Wording {
  /** Starts the message when members hold the step; their names and why follow. */
  waiting: string;
  /** The message when none does. */
  ready: string;
}

/** An error text fit for a condition message: its first line, at most 200 characters. */
function brief(error: string): string {
  const line = error.split('\n')[0] ?? '';
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

function unreachableText(reach: Extract<MemberReach, { reachable: false }>): string {
  return `unreachable since ${toRfc3339(reach.since)}: ${brief(reach.error)}`;
}

function condition(ok: boolean, reason: MemberReason, message: string): MembersCondition {
  return { type: MEMBERS_READY, status: ok ? 'True' : 'False', reason, message };
}

/**
 * The common shape of every cross-cluster rule: an unreachable member always holds the step (the hub
 * cannot know what it runs), and a reachable one holds it while `lag` says it is not there yet.
 */
function gate(input: MembersInput, wording: Wording, reason: MemberReason, lag: Lag): MembersGate {
  const holds = input.members.flatMap((m) => {
    const why = m.reach.reachable ? lag(m, input.now) : unreachableText(m.reach);
    return why === undefined ? [] : [{ member: m, why }];
  });
  if (holds.length === 0) {
    const names = input.members.map((m) => m.name).join(', ');
    return {
      ok: true,
      holding: [],
      condition: condition(true, MemberReasons.MembersReady, `${wording.ready} (${names})`),
    };
  }
  const unreachable = holds.some((h) => !h.member.reach.reachable);
  const listed = holds.map((h) => `${h.member.name} (${h.why})`).join('; ');
  return {
    ok: false,
    holding: holds.map((h) => h.member.name),
    condition: condition(
      false,
      unreachable ? MemberReasons.MemberUnreachable : reason,
      `${wording.waiting}: ${listed}`,
    ),
  };
}

/** The targets of a member whose pods fail `ok`, described; pods not read, or a missing target, fail. */
function podsLag(
  member: MemberView,
  failing: (t: TargetView) => number | undefined,
  what: string,
): string | undefined {
  const parts = member.targets.flatMap((t) => {
    const n = failing(t);
    if (!t.found) return [`${t.kind} ${t.name} not found`];
    if (n === undefined) return [`pods of ${t.kind} ${t.name} not read`];
    return n === 0 ? [] : [`${n} of ${t.pods?.length ?? 0} pod(s) of ${t.kind} ${t.name} ${what}`];
  });
  return parts.length === 0 ? undefined : parts.join(', ');
}

/**
 * Before the signing switch: the member's Secret publishes the new key and every pod of every target
 * verifies it (old ReplicaSets' and terminating pods included, as for one cluster).
 */
function verifyLag(newKey: string): Lag {
  return (m) =>
    m.secret?.fingerprints.JWT_SECRET_NEW !== newKey
      ? `its Secret does not publish the new key ${newKey}`
      : podsLag(m, (t) => podsNotVerifying(t, newKey), 'do not verify it');
}

/** Before the old key leaves: every pod of every target signs with the new key by now. */
function signLag(newKey: string): Lag {
  return (m, now) =>
    podsLag(
      m,
      (t) =>
        t.found && t.pods ? t.pods.filter((p) => !signsWithKey(p.revision, newKey, now)).length : undefined,
      `do not sign with the new key ${newKey} yet`,
    );
}

/** Whether the Secret holds this key in JWT_SECRET and nothing else: the shape after completion or rollback. */
function holdsAlone(secret: SecretView, key: string): boolean {
  const slots = Object.entries(secret.fingerprints);
  return slots.length === 1 && slots[0]?.[0] === 'JWT_SECRET' && slots[0][1] === key;
}

function rolloutWait(t: TargetView, revision: string): string {
  if (t.found && t.revision !== revision) return `${t.kind} ${t.name} not rolled to the Secret yet`;
  return `${t.kind} ${t.name}: ${describeWait(t, revision)}`;
}

/** The member runs this key alone: its Secret holds only it and every target rolled out to that Secret. */
function aloneLag(key: string): Lag {
  return (m) => {
    if (m.secret === undefined) return 'its Secret is missing';
    if (!holdsAlone(m.secret, key)) return `its Secret does not hold key ${key} alone`;
    const revision = secretRevision(m.secret);
    const behind = m.targets.filter((t) => !isRolledOut(t, revision));
    return behind.length === 0 ? undefined : behind.map((t) => rolloutWait(t, revision)).join(', ');
  };
}

/**
 * The signing switch (the date set in every member's Secret): only when every member is reachable,
 * publishes the new key, and every pod of every target there verifies it.
 */
export function switchGate(input: MembersInput, newKey: string): MembersGate {
  return gate(
    input,
    {
      waiting: `The signing switch to key ${newKey} waits for member(s)`,
      ready: `Every member publishes key ${newKey} and every pod of its targets verifies it`,
    },
    MemberReasons.MemberNotVerifying,
    verifyLag(newKey),
  );
}

/**
 * Completion's start (the old key leaves the Secrets): only when every member is reachable and every
 * pod of every target there signs with the new key, so no member still issues tokens with the old one.
 */
export function dropOldKeyGate(input: MembersInput, newKey: string): MembersGate {
  return gate(
    input,
    {
      waiting: `Dropping the old key waits for member(s)`,
      ready: `Every pod of every member signs with key ${newKey}`,
    },
    MemberReasons.MemberBehind,
    signLag(newKey),
  );
}

/** Completion's end: every member reachable and rolled to the completed shape, the new key alone. */
export function completionGate(input: MembersInput, newKey: string): MembersGate {
  return gate(
    input,
    { waiting: `Completion waits for member(s)`, ready: `Every member runs key ${newKey} alone` },
    MemberReasons.MemberBehind,
    aloneLag(newKey),
  );
}

export interface EmergencyReach extends MembersGate {
  /** Members reachable on this pass: the emergency key is written and rolled there. */
  reached: string[];
  /** Members not reachable: they still verify the replaced key until they return and are written. */
  unreached: string[];
}

/** An emergency rotation proceeds in every member it reaches and names those it could not reach. */
export function emergencyReach(input: MembersInput, newKey: string): EmergencyReach {
  const result = gate(
    input,
    {
      waiting: `The emergency rotation to key ${newKey} is not done in member(s) (one not reached still verifies the replaced key; it is written when it returns)`,
      ready: `Every member runs the emergency key ${newKey} alone`,
    },
    MemberReasons.MemberBehind,
    aloneLag(newKey),
  );
  const names = (reachable: boolean): string[] =>
    input.members.filter((m) => m.reach.reachable === reachable).map((m) => m.name);
  return { ...result, reached: names(true), unreached: names(false) };
}

/**
 * A rollback: `holding` lists every member not back on the original key alone (unreachable ones
 * included), which the hub catches up when each returns.
 */
export function rollbackCatchUp(input: MembersInput, original: string): MembersGate {
  return gate(
    input,
    {
      waiting: `The rollback to key ${original} is not done in member(s) (each is caught up when it returns)`,
      ready: `Every member runs the original key ${original} alone`,
    },
    MemberReasons.MemberBehind,
    aloneLag(original),
  );
}

/**
 * The keys the JWKS or the issuer lists for the members: every key any member's Secret holds (an
 * unreachable member's as last read, since its pods may still sign with them) and the hub's own,
 * sorted, each once, less `excluding`: after an emergency, the compromised key, which leaves the set
 * at once even while an unreachable member still holds it (its tokens are meant to be refused). Keys
 * retiring after a completion or rollback are the issuer's to keep (docs/issuer.md), not listed here.
 */
export function keysToPublish(
  input: MembersInput,
  hubKeys: readonly (string | undefined)[] = [],
  excluding: readonly string[] = [],
): string[] {
  const keys = new Set<string>();
  for (const key of hubKeys) if (key !== undefined) keys.add(key);
  for (const m of input.members) {
    for (const key of Object.values(m.secret?.fingerprints ?? {})) keys.add(key);
  }
  for (const key of excluding) keys.delete(key);
  return [...keys].sort();
}

/**
 * keysToPublish's `excluding` for the hub's Secret with these annotations: the key an emergency
 * rotation replaced, while the Secret still records that operation (as ./issuer.ts reads it); none
 * otherwise. A key compromised by an earlier emergency needs no listing here: it left the published
 * set then, and keptForMembers only keeps keys still served.
 */
export function compromisedKeys(hubAnnotations: Readonly<Record<string, string>>): string[] {
  if (hubAnnotations[SecretAnnotations.operation] !== 'Emergency') return [];
  const key = hubAnnotations[SecretAnnotations.previousKey];
  return key === undefined || key === '' ? [] : [key];
}

/**
 * Of the keys the hub's published set (the JWKS ConfigMap, the PublishedKeySet) serves now, given by
 * fingerprint, those it keeps for the members beside the hub Secret's own keys: each one keysToPublish
 * lists for the members (some member's Secret holds it, an unreachable one's as last read), less the
 * compromised key after an emergency (compromisedKeys), which leaves at once whoever still holds it.
 *
 * Only a key already served can be kept, never one added: every key the hub writes into a member is
 * its own Secret's, published before that write (src/reconcile/execute.ts), and stays served while a
 * member holds it; so the served set is where its public key is found (the hub's backup Secret holds
 * the original key alone, not the new key a rollback withdraws, and the hub reads no member's private
 * key). A key a member holds that the hub never wrote there (a hand edit) is not published, and a
 * compromised key, once left, never comes back. Returned in the order of `served`.
 */
export function keptForMembers(
  input: MembersInput,
  served: readonly string[],
  hubAnnotations: Readonly<Record<string, string>>,
): string[] {
  const listed = new Set(keysToPublish(input, [], compromisedKeys(hubAnnotations)));
  return served.filter((key) => listed.has(key));
}

/** Pods of a member per key: how many verify it and how many sign with it now. */
export interface PodsByKey {
  key: string;
  verifying: number;
  signing: number;
}

/** What status says about one member. */
export interface MemberStatus {
  name: string;
  /** Rolled: every target runs the member Secret's revision; Stalled: a target or the Secret is missing, or a rollout stalled. */
  phase: 'Unreachable' | 'Stalled' | 'Rolling' | 'Rolled';
  /** RFC 3339, while unreachable. */
  unreachableSince?: string;
  message: string;
  /** The fingerprints the member's Secret holds, sorted (as last read while unreachable). */
  keys?: string[];
  targets?: TargetStatus[];
  podsByKey?: PodsByKey[];
  /** Pods whose revision names no key (started before the operator rolled them, or by hand). */
  podsWithoutKeys?: number;
}

function podsByKey(targets: readonly TargetView[], now: number): { byKey: PodsByKey[]; unknown: number } {
  const counts = new Map<string, PodsByKey>();
  let unknown = 0;
  for (const pod of targets.flatMap((t) => t.pods ?? [])) {
    const keys = readRevision(pod.revision);
    if (keys === undefined) unknown++;
    for (const key of keys?.verifies ?? []) {
      const entry = counts.get(key) ?? { key, verifying: 0, signing: 0 };
      entry.verifying++;
      if (signsWithKey(pod.revision, key, now)) entry.signing++;
      counts.set(key, entry);
    }
  }
  return { byKey: [...counts.values()].sort((a, b) => a.key.localeCompare(b.key)), unknown };
}

function memberPhase(
  m: MemberView,
  revision: string | undefined,
): { phase: MemberStatus['phase']; message: string } {
  const missing = m.targets.filter((t) => !t.found);
  const stalled = m.targets.filter((t) => t.found && t.rollout === 'Stalled');
  if (revision === undefined) return { phase: 'Stalled', message: 'its Secret is missing' };
  if (missing.length > 0) return { phase: 'Stalled', message: `${describeTargets(missing)} not found` };
  if (stalled.length > 0) {
    return { phase: 'Stalled', message: stalled.map((t) => `${t.kind} ${t.name}: ${t.message}`).join('; ') };
  }
  const behind = m.targets.filter((t) => !isRolledOut(t, revision));
  if (behind.length === 0) return { phase: 'Rolled', message: 'every target runs the Secret as it is' };
  return { phase: 'Rolling', message: behind.map((t) => rolloutWait(t, revision)).join(', ') };
}

/** Status per member: the phase of its targets, their status against the new key, and its pods by key. */
export function memberStatuses(input: MembersInput, newKey: string | undefined): MemberStatus[] {
  return input.members.map((m) => {
    const keys = [...new Set(Object.values(m.secret?.fingerprints ?? {}))].sort();
    const held = m.secret === undefined ? {} : { keys };
    if (!m.reach.reachable) {
      const { since, error } = m.reach;
      return {
        name: m.name,
        phase: 'Unreachable',
        unreachableSince: toRfc3339(since),
        message: brief(error),
        ...held,
      };
    }
    const revision = m.secret === undefined ? undefined : secretRevision(m.secret);
    const at = { revision: revision ?? '', newKey, now: input.now, secretName: input.secretName };
    const pods = podsByKey(m.targets, input.now);
    return {
      name: m.name,
      ...memberPhase(m, revision),
      ...held,
      targets: m.targets.map((t) => targetStatus(t, at)),
      podsByKey: pods.byKey,
      ...(pods.unknown > 0 ? { podsWithoutKeys: pods.unknown } : {}),
    };
  });
}
