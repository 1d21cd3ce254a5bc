/**
 * One pass over one JwtRotation: gather → decide → execute → write status → events.
 * Idempotent: when the cluster matches the decision, the pass writes nothing.
 */
import { isOneOf, PHASES, type JwtRotation, type JwtRotationStatus } from '../api/types.ts';
import { decide } from '../rotation/decide.ts';
import type { DecideInput, Decision, GateObservation, Notice, ProbeResult } from '../rotation/model.ts';
import { resolveSpec, type NotificationSettings } from '../rotation/spec.ts';
import { deliverable } from '../rotation/notices.ts';
import { ConditionReasons } from '../rotation/reasons.ts';
import { parseInstant } from '../rotation/time.ts';
import { refusedUrl } from '../platform/outbound.ts';
import { canonical } from '../platform/canonical.ts';
import { applyMembers } from '../rotation/hub.ts';
import { execute } from './execute.ts';
import { gather, type Gathered } from './gather.ts';
import { catchUpMembers, memberWorkloads } from './members.ts';
import type {
  GateReader,
  NotificationTarget,
  ReconcilerDeps,
  RelyingPartyProber,
  Workloads,
} from './ports.ts';
import type { Freshness } from './own-writes.ts';
import type { Logger } from '../platform/logger.ts';
import { ReferenceReasons, readReference, type Referrer } from './references.ts';
import type { PassResult } from './queue.ts';

/** Shortest wait before looking again after a pass that changed nothing. */
const MIN_IDLE_REQUEUE_MS = 1000;
/**
 * A pass that found its own last write not yet in the watch caches looks again after this long at
 * the latest; the watch event that brings the write wakes it sooner.
 */
const OWN_WRITE_RECHECK_MS = 1000;
/**
 * A status change that only reports progress (pod counts per target, condition messages) is
 * written at most this often per JwtRotation: a rollout moves pods one by one, and each pod's
 * watch event would otherwise cost a status write (at 1,000 rotating JwtRotations, a 1 s interval
 * still spent most of the request budget on them), and only when `ReconcilerDeps.progressWriteAllowed`
 * says so (main.ts: while the client-side limit is unused, within a budget of its own,
 * `progressAllowance`). Any other change is written at once. At 5 s, progress was half the status writes of a
 * rotation at N=100 (494 of 994; bench/README.md): a step lasts tens of seconds to days, and the
 * targets' own status shows their pods live.
 */
export const PROGRESS_WRITE_INTERVAL_MS = 10_000;
/** How long a pass that wrote waits for the watches to show its writes before the second look. */
export const LOOK_AGAIN_WAIT_MS = 500;

export class Reconciler {
  /** When each JwtRotation's status was last written by this process (clock time). */
  private readonly statusWrittenAt = new Map<string, number>();

  constructor(private readonly deps: ReconcilerDeps) {}

  async reconcile(namespace: string, name: string): Promise<PassResult> {
    const { deps } = this;
    const started = performance.now();
    try {
      const result = await this.pass(namespace, name);
      deps.metrics.reconciled((performance.now() - started) / 1000, 'success');
      return result;
    } catch (error) {
      deps.metrics.reconciled((performance.now() - started) / 1000, 'error', { namespace, name });
      throw error;
    }
  }

  private async pass(namespace: string, name: string): Promise<PassResult> {
    const started = performance.now();
    const found = await this.deps.resources.get(namespace, name);
    if (found === undefined) {
      this.deps.metrics.forget(namespace, name);
      this.statusWrittenAt.delete(`${namespace}/${name}`);
      this.deps.budget?.forget(`${namespace}/${name}`);
      return 'forget';
    }
    // No finalizer: deleting a JwtRotation leaves its Secret as it is, which is always a
    // working state (the dual-key shape keeps both keys); the backup goes with its owner.
    if (found.metadata.deletionTimestamp !== undefined) {
      this.deps.budget?.forget(`${namespace}/${name}`);
      return 'forget';
    }

    const log = this.deps.logger.child({ namespace, name });
    const read = await this.readSource(found, log);
    if (read === 'pending') return { requeueAfterMs: OWN_WRITE_RECHECK_MS };
    if (read === 'forget') return 'forget';
    const { resource, source, freshness } = read;

    const key = `${namespace}/${name}`;
    const decided = await this.decideOn(resource, source, freshness);
    const budgeted = this.withinBudget(key, decided.gathered, decided.decision);
    this.deps.metrics.decided((performance.now() - started) / 1000);
    const decision =
      budgeted.actions.length > 0
        ? await this.act(resource, budgeted, decided.gathered, source, freshness, log)
        : budgeted;
    if (budgeted.actions.length === 0) await this.catchUp(resource, decided.gathered, log);
    this.deps.budget?.settle(key, decision.rolling === true, decision.rolloutClaim?.queued === true);

    const { statusChanged, progressDue } = await this.writeStatus(resource, decision, log);
    await this.recordEvents(resource, decision, log);
    // The outbox: the new notices are recorded (Pending) in the status just written; now every Pending
    // one goes to the notifier, these and any that an operator stopped before sending left behind.
    const written = statusChanged ? decision.status : (resource.status ?? {});
    if (statusChanged && decision.notices.length > 0)
      this.deps.noticesRecorded?.(namespace, name, decision.notices);
    await this.notify(resource, deliverable(written));

    this.report(namespace, name, decision.status);
    // A pass that changed nothing and asks to look again at once would spin; the core
    // should never ask for that, and this floor keeps a slip from burning a CPU.
    const wroteNothing = decision.actions.length === 0 && !statusChanged;
    // Which version of the JwtRotation this pass acted on: tests wait for it to prove the
    // operator has looked at a change (and did nothing), instead of sleeping.
    log.debug('pass done', {
      resourceVersion: resource.metadata.resourceVersion,
      phase: decision.status.phase,
      wrote: !wroteNothing,
    });
    if (progressDue !== undefined) {
      log.debug('progress not written yet', { inMs: Math.round(progressDue) });
      return { requeueAfterMs: Math.min(progressDue, decision.requeueAfterMs) };
    }
    return {
      requeueAfterMs: wroteNothing
        ? Math.max(MIN_IDLE_REQUEUE_MS, decision.requeueAfterMs)
        : decision.requeueAfterMs,
    };
  }

  /**
   * Where this pass reads from: the watch caches (docs/architecture.md, "Reads from the caches") once
   * they show this operator's own last writes; the API server when a write has waited too long;
   * nothing yet when one is still on its way ('pending').
   */
  private async readSource(
    resource: JwtRotation,
    log: Logger,
  ): Promise<{ resource: JwtRotation; source: ReconcilerDeps; freshness: Freshness } | 'pending' | 'forget'> {
    const { deps } = this;
    const freshness = deps.freshness?.check(resource) ?? 'fresh';
    if (freshness === 'pending') {
      log.debug('waiting for the watch to show own write', {
        resourceVersion: resource.metadata.resourceVersion,
      });
      return 'pending';
    }
    if (freshness === 'stale' && deps.live !== undefined) {
      log.debug('own write not seen by the watch in time; reading from the API server');
      const source = liveDeps(deps, deps.live);
      const live = await source.resources.get(
        resource.metadata.namespace ?? '',
        resource.metadata.name ?? '',
      );
      if (live === undefined || live.metadata.deletionTimestamp !== undefined) return 'forget';
      return { resource: live, source, freshness };
    }
    return { resource, source: deps, freshness };
  }

  /** Gather and decide; the signing switch decides again on the pods as the API server lists them now. */
  private async decideOn(
    resource: JwtRotation,
    source: ReconcilerDeps,
    freshness: Freshness,
  ): Promise<{ gathered: Gathered; decision: Decision }> {
    let gathered = await gather(resource, source);
    let decision = decideGathered(gathered);
    const live = this.deps.live;
    if (decision.restsOnPods && freshness !== 'stale' && live !== undefined) {
      const pods: ReconcilerDeps = {
        ...source,
        workloads: withLivePods(source.workloads, live.workloads),
        gate: reuse(gathered.input.gate, source.gate),
        prober: replay(gathered.input.issuer?.probes, source.prober),
      };
      gathered = await gather(resource, pods);
      decision = decideGathered(gathered);
    }
    return { gathered, decision };
  }

  /**
   * A decision that claims a place in the rollout budget is admitted (the place is taken now, before
   * any await, so passes side by side cannot both take the last one), or decided again with the
   * budget's answer, which turns it into a wait in the queue.
   */
  private withinBudget(key: string, gathered: Gathered, decision: Decision): Decision {
    const { budget, clock } = this.deps;
    const claim = decision.rolloutClaim;
    if (budget === undefined || claim === undefined || claim.queued) return decision;
    const answer = budget.admit(key, claim, clock.now());
    return answer === undefined
      ? decision
      : decideGathered({ ...gathered, input: { ...gathered.input, rolloutBudget: answer } });
  }

  /** Carries out the decision's actions, then takes the second look (see lookAgain). */
  private async act(
    resource: JwtRotation,
    decision: Decision,
    gathered: Gathered,
    source: ReconcilerDeps,
    freshness: Freshness,
    log: Logger,
  ): Promise<Decision> {
    log.info('acting', {
      phase: decision.status.phase,
      actions: decision.actions.map((a) => a.type),
    });
    const deps = gathered.members
      ? {
          ...this.deps,
          workloads: memberWorkloads(resource, this.deps.workloads, gathered.members, this.deps),
        }
      : this.deps;
    await execute(decision.actions, resource, gathered.read, deps);
    const second = await this.lookAgain(resource, decision, source, freshness, gathered.input);
    log.debug('looked again at own writes', { merged: second !== undefined });
    if (second === undefined) return decision;
    return {
      ...second,
      actions: decision.actions,
      events: [...decision.events, ...second.events],
      notices: [...decision.notices, ...second.notices],
      // The second look is the look again the first decision asked for; when to look next is its call.
      requeueAfterMs: second.requeueAfterMs,
    };
  }

  /**
   * A quiet pass of a hub makes the published keys (JWKS ConfigMap, PublishedKeySet) what the hub's
   * Secret and the members' Secrets hold now, as a pass that acts does first (./execute.ts): a key kept
   * for a member leaves (or starts retiring) once no member holds it, without waiting for the next
   * pass that acts, which may be the next rotation. Then, in Idle, it writes the hub's Secret into
   * members behind it (./members.ts).
   */
  private async catchUp(resource: JwtRotation, gathered: Gathered, log: Logger): Promise<void> {
    if (gathered.members === undefined) return;
    await execute([], resource, gathered.read, this.deps);
    const written = await catchUpMembers(resource, gathered.input.secret, gathered.members, this.deps);
    if (written.length > 0) log.info('members caught up with the hub', { members: written });
  }

  /**
   * Writes the status if it changed, except a change that only reports progress, which waits
   * (PROGRESS_WRITE_INTERVAL_MS, and the rate limit's spare room) and rides along with the next write.
   */
  private async writeStatus(
    resource: JwtRotation,
    decision: Decision,
    log: Logger,
  ): Promise<{ statusChanged: boolean; progressDue: number | undefined }> {
    const { deps } = this;
    const namespace = resource.metadata.namespace ?? '';
    const name = resource.metadata.name ?? '';
    const previous = resource.status ?? {};
    const key = `${namespace}/${name}`;
    let statusChanged = canonical(previous) !== canonical(decision.status);
    let progressDue: number | undefined;
    if (
      statusChanged &&
      decision.actions.length === 0 &&
      decision.events.length === 0 &&
      onlyProgressDiffers(previous, decision.status)
    ) {
      const wait =
        (this.statusWrittenAt.get(key) ?? -Infinity) + PROGRESS_WRITE_INTERVAL_MS - deps.clock.now();
      // Progress never takes the place of a write that moves a rotation on; under load it rides
      // along with the next write that matters.
      const rotating = decision.status.phase !== undefined && decision.status.phase !== 'Idle';
      if (wait > 0 || !(deps.progressWriteAllowed?.(rotating) ?? true)) {
        statusChanged = false;
        progressDue = wait > 0 ? wait : PROGRESS_WRITE_INTERVAL_MS;
      }
    }
    if (!statusChanged) return { statusChanged, progressDue };
    await deps.resources.writeStatus(resource, decision.status);
    this.statusWrittenAt.set(key, deps.clock.now());
    log.debug('status written', { changed: changedFields(previous, decision.status) });
    if (previous.phase !== decision.status.phase) {
      log.info('phase changed', { from: previous.phase ?? 'none', phase: decision.status.phase });
    }
    const finished = decision.status.lastRotation;
    if (finished && finished.finishedAt !== previous.lastRotation?.finishedAt && finished.outcome) {
      deps.metrics.rotationFinished(namespace, name, finished.outcome);
    }
    return { statusChanged, progressDue };
  }

  /** Records the decision's Events (a failure to record one is logged: an Event is a courtesy). */
  private async recordEvents(resource: JwtRotation, decision: Decision, log: Logger): Promise<void> {
    for (const event of decision.events) {
      try {
        await this.deps.events.record(resource, event.type, event.reason, event.message);
      } catch (error) {
        // The EventRecorder port throws errors whose message is fit for a log (see ports.ts).
        log.warn('event not recorded', {
          reason: event.reason,
          error: error instanceof Error ? error.message : String(error),
        });
      }
      if (event.type === 'Warning')
        log.warn(event.message, { reason: event.reason, phase: decision.status.phase });
      else log.info(event.message, { reason: event.reason, phase: decision.status.phase });
    }
  }

  /**
   * The second look: a pass that wrote decides once more, on the cluster as its writes left it, as
   * soon as the watches show them (within LOOK_AGAIN_WAIT_MS), and writes that status instead of its
   * first one. Without it, the status written describes the Secret as read, before this pass wrote
   * it (the new key's fingerprint, the signing date, the key in use), and the next pass, woken by
   * the write's watch event a few ms later, writes the status again: two status writes per step.
   *
   * It returns the second decision only when it asks for nothing (typically: wait for the rollout
   * this pass started); one that acts, or rests on pods listed live, is left to the next pass. A
   * process killed before the status write is the crash after the Secret write that every pass
   * already recovers from (docs/architecture.md).
   */
  private async lookAgain(
    resource: JwtRotation,
    first: Decision,
    source: ReconcilerDeps,
    freshness: Freshness,
    firstInput: DecideInput,
  ): Promise<Decision | undefined> {
    const settled = this.deps.freshness?.settled;
    if (freshness !== 'fresh' || settled === undefined) return undefined;
    if (!(await settled(resource, LOOK_AGAIN_WAIT_MS))) return undefined;
    const assumed: JwtRotation = { ...resource, status: first.status };
    let second: Decision;
    try {
      const gathered = await gather(assumed, {
        ...source,
        gate: reuse(firstInput.gate, source.gate),
        prober: replay(firstInput.issuer?.probes, source.prober),
      });
      second = decideGathered(gathered);
    } catch (error) {
      // The writes are done: a failed read must not cost the first decision's status and Events.
      this.deps.logger.debug('second look failed; writing the first decision', {
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
    return second.actions.length === 0 && second.restsOnPods !== true ? second : undefined;
  }

  /**
   * Hands the Pending notices of the status written to the notifier, with each receiver's URL and
   * signing key read from their Secrets, where the Secrets allow it and the URL is allowed
   * (./references.ts, src/platform/outbound.ts). The notifier delivers in the background, each notice
   * once per process, and forgets those no longer Pending.
   */
  private async notify(resource: JwtRotation, notices: Notice[]): Promise<void> {
    const { notifier } = this.deps;
    const resolved = resolveSpec(resource.spec);
    const settings = resolved.ok ? resolved.spec.notifications : undefined;
    if (notifier === undefined || settings === undefined) return;
    const namespace = resource.metadata.namespace ?? '';
    const referrer = { name: resource.metadata.name ?? '', secretName: resource.spec.secretName };
    const receivers =
      notices.length === 0
        ? []
        : await Promise.all(
            settings.receivers.map((receiver) => this.resolveReceiver(namespace, referrer, receiver)),
          );
    notifier.send({
      subject: { namespace, name: referrer.name, uid: resource.metadata.uid ?? '' },
      receivers,
      notices,
      timeoutMs: settings.timeoutMs,
      retries: settings.retries,
    });
  }

  /** A receiver with its URL and signing key, or why it cannot be used. Never echoes a value read. */
  private async resolveReceiver(
    namespace: string,
    referrer: Referrer,
    receiver: NotificationSettings['receivers'][number],
  ): Promise<NotificationTarget> {
    const { name, type, urlSecretRef: ref, signingSecretRef: signingRef } = receiver;
    const refused = (problemReason: string, problem: string): NotificationTarget => ({
      name,
      type,
      problem,
      problemReason,
    });
    const secrets = { get: (ns: string, n: string) => this.deps.secrets.get(ns, n).catch(() => undefined) };
    const url = await readReference(secrets, namespace, referrer, ref, `receiver ${name}'s URL`);
    if (!url.ok) return refused(url.reason, url.message);
    const text = url.value?.trim();
    if (text === undefined || text === '')
      return refused(
        ConditionReasons.NotificationFailed,
        `Secret ${ref.name} has no key ${ref.key} with the webhook URL`,
      );
    const blocked = refusedUrl(this.deps.outbound, text, 'receiver', false);
    if (blocked !== undefined)
      return refused(
        ReferenceReasons.UrlNotAllowed,
        `the URL in Secret ${ref.name} ${blocked}; nothing was sent`,
      );
    if (signingRef === undefined) return { name, type, url: text };
    const key = await readReference(
      secrets,
      namespace,
      referrer,
      signingRef,
      `receiver ${name}'s signing key`,
    );
    if (!key.ok) return refused(key.reason, key.message);
    if (key.value === undefined || key.value.trim() === '')
      return refused(
        ConditionReasons.NotificationFailed,
        `Secret ${signingRef.name} has no key ${signingRef.key} with the signing key; nothing was sent unsigned`,
      );
    return { name, type, url: text, signingKey: key.value };
  }

  private report(namespace: string, name: string, status: JwtRotationStatus): void {
    const next = parseInstant(status.nextRotationAt);
    this.deps.metrics.report({
      namespace,
      name,
      phase: isOneOf(PHASES, status.phase) ? status.phase : 'Idle',
      secondsUntilNextRotation:
        next === undefined ? undefined : Math.round((next - this.deps.clock.now()) / 1000),
      readings: status.gate?.readings,
    });
  }
}

/** The core's decision on what a pass gathered; a hub's under its members' gates (../rotation/hub.ts). */
function decideGathered(gathered: Gathered): Decision {
  const decision = decide(gathered.input);
  const { members } = gathered;
  return members === undefined
    ? decision
    : applyMembers(decision, gathered.input, members.input, members.pollIntervalMs);
}

/** The dependencies with every read made from the API server. */
function liveDeps(deps: ReconcilerDeps, live: NonNullable<ReconcilerDeps['live']>): ReconcilerDeps {
  return { ...deps, ...live, live: undefined };
}

/** These workloads, with their pods listed from `live`. */
function withLivePods(cached: Workloads, live: Workloads): Workloads {
  return {
    get: (...args) => cached.get(...args),
    listReferencing: (...args) => cached.listReferencing(...args),
    listPods: (...args) => live.listPods(...args),
    evictPod: (...args) => cached.evictPod(...args),
    setTemplateAnnotation: (...args) => cached.setTemplateAnnotation(...args),
  };
}

/** A prober that answers with this pass's probes (a relying party is not asked twice in one pass). */
function replay(
  probes: readonly ProbeResult[] | undefined,
  prober: RelyingPartyProber | undefined,
): RelyingPartyProber | undefined {
  if (probes === undefined || probes.length === 0) return prober;
  return {
    probe: (rp, token) => {
      const done = probes.find((p) => p.name === rp.name);
      return done === undefined
        ? (prober?.probe(rp, token) ?? Promise.resolve({ outcome: 'Error' as const, message: 'no prober' }))
        : Promise.resolve({ outcome: done.outcome, message: done.message });
    },
  };
}

/** A gate reader that answers with this pass's reading (the gate is not asked twice in one pass). */
function reuse(reading: GateObservation | undefined, reader: GateReader): GateReader {
  return reading === undefined ? reader : { read: () => Promise.resolve(reading) };
}

/**
 * Whether two statuses differ only in what reports progress and no decision reads back: the
 * per-target pod counts (status.targets), the conditions' messages, and per member cluster its
 * targets, pods by key and message (a member's phase, keys and unreachableSince are written at once).
 */
export function onlyProgressDiffers(a: JwtRotationStatus, b: JwtRotationStatus): boolean {
  const strip = (s: JwtRotationStatus): unknown => ({
    ...s,
    targets: undefined,
    conditions: s.conditions?.map((c) =>
      Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'message')),
    ),
    members: s.members?.map((m) => ({
      ...m,
      targets: undefined,
      podsByKey: undefined,
      podsWithoutKeys: undefined,
      message: undefined,
    })),
  });
  return canonical(strip(a)) === canonical(strip(b));
}

/** Top-level status fields that differ, for the debug log. */
function changedFields(a: JwtRotationStatus, b: JwtRotationStatus): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof JwtRotationStatus>;
  return [...keys]
    .filter((k) => canonical(a[k]) !== canonical(b[k]))
    .flatMap((k) => (k === 'conditions' ? changedConditions(a.conditions, b.conditions) : [k]))
    .sort();
}

/** `conditions.<type>.<field>` for each field of a condition that changed (`conditions.<type>` if added or removed). */
function changedConditions(a: JwtRotationStatus['conditions'], b: JwtRotationStatus['conditions']): string[] {
  const before = new Map((a ?? []).map((c) => [c.type, c]));
  const after = new Map((b ?? []).map((c) => [c.type, c]));
  const changed: string[] = [];
  for (const type of new Set([...before.keys(), ...after.keys()])) {
    const x = before.get(type);
    const y = after.get(type);
    if (x === undefined || y === undefined) changed.push(`conditions.${type}`);
    else
      for (const field of new Set([...Object.keys(x), ...Object.keys(y)]) as Set<keyof typeof x>)
        if (canonical(x[field]) !== canonical(y[field])) changed.push(`conditions.${type}.${field}`);
  }
  return changed;
}
