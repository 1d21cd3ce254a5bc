/**
 * One pass over one JwtRotation: gather → decide → execute → write status → events.
 * Idempotent: when the cluster matches the decision, the pass writes nothing.
 */
import { isOneOf, PHASES, type JwtRotation, type JwtRotationStatus } from '../api/types.ts';
import { decide } from '../rotation/decide.ts';
import type { DecideInput, Decision, GateObservation, Notice, ProbeResult } from '../rotation/model.ts';
import { resolveSpec } from '../rotation/spec.ts';
import { parseInstant } from '../rotation/time.ts';
import { canonical } from '../platform/canonical.ts';
import { execute } from './execute.ts';
import { gather } from './gather.ts';
import type {
  GateReader,
  NotificationTarget,
  ReconcilerDeps,
  RelyingPartyProber,
  Workloads,
} from './ports.ts';
import type { Freshness } from './own-writes.ts';
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
    const { deps } = this;
    const started = performance.now();
    let resource = await deps.resources.get(namespace, name);
    if (resource === undefined) {
      deps.metrics.forget(namespace, name);
      this.statusWrittenAt.delete(`${namespace}/${name}`);
      deps.budget?.forget(`${namespace}/${name}`);
      return 'forget';
    }
    // No finalizer: deleting a JwtRotation leaves its Secret as it is, which is always a
    // working state (the dual-key shape keeps both keys); the backup goes with its owner.
    if (resource.metadata.deletionTimestamp !== undefined) {
      deps.budget?.forget(`${namespace}/${name}`);
      return 'forget';
    }

    const log = deps.logger.child({ namespace, name });
    // Reads come from watch caches (docs/architecture.md, "Reads from the caches"): first make sure
    // they show this operator's own last writes.
    let source = deps;
    const freshness = deps.freshness?.check(resource) ?? 'fresh';
    if (freshness === 'pending') {
      log.debug('waiting for the watch to show own write', {
        resourceVersion: resource.metadata.resourceVersion,
      });
      return { requeueAfterMs: OWN_WRITE_RECHECK_MS };
    }
    if (freshness === 'stale' && deps.live !== undefined) {
      log.debug('own write not seen by the watch in time; reading from the API server');
      source = liveDeps(deps, deps.live);
      const live = await source.resources.get(namespace, name);
      if (live === undefined || live.metadata.deletionTimestamp !== undefined) return 'forget';
      resource = live;
    }

    let gathered = await gather(resource, source);
    let decision = decide(gathered.input);
    if (decision.restsOnPods && freshness !== 'stale' && deps.live !== undefined) {
      // The signing switch: decide again on the pods as the API server lists them now.
      const pods: ReconcilerDeps = {
        ...source,
        workloads: withLivePods(source.workloads, deps.live.workloads),
        gate: reuse(gathered.input.gate, source.gate),
        prober: replay(gathered.input.issuer?.probes, source.prober),
      };
      gathered = await gather(resource, pods);
      decision = decide(gathered.input);
    }

    decision = this.withinBudget(`${namespace}/${name}`, gathered.input, decision);

    deps.metrics.decided((performance.now() - started) / 1000);
    if (decision.actions.length > 0) {
      log.info('acting', {
        phase: decision.status.phase,
        actions: decision.actions.map((a) => a.type),
      });
      await execute(decision.actions, resource, gathered.read, deps);
      const second = await this.lookAgain(resource, decision, source, freshness, gathered.input);
      log.debug('looked again at own writes', { merged: second !== undefined });
      if (second !== undefined) {
        decision = {
          ...second,
          actions: decision.actions,
          events: [...decision.events, ...second.events],
          notices: [...decision.notices, ...second.notices],
          // The second look is the look again the first decision asked for; when to look next is its call.
          requeueAfterMs: second.requeueAfterMs,
        };
      }
    }

    const key = `${namespace}/${name}`;
    deps.budget?.settle(key, decision.rolling === true, decision.rolloutClaim?.queued === true);
    const previous = resource.status ?? {};
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
    if (statusChanged) {
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
    }

    for (const event of decision.events) {
      try {
        await deps.events.record(resource, event.type, event.reason, event.message);
      } catch (error) {
        // An Event is a courtesy; failing to write one must not stop the rotation.
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

    if (decision.notices.length > 0) await this.notify(resource, decision.notices);

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
   * A decision that claims a place in the rollout budget is admitted (the place is taken now, before
   * any await, so passes side by side cannot both take the last one), or decided again with the
   * budget's answer, which turns it into a wait in the queue.
   */
  private withinBudget(key: string, input: DecideInput, decision: Decision): Decision {
    const { budget, clock } = this.deps;
    const claim = decision.rolloutClaim;
    if (budget === undefined || claim === undefined || claim.queued) return decision;
    const answer = budget.admit(key, claim, clock.now());
    return answer === undefined ? decision : decide({ ...input, rolloutBudget: answer });
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
      const { input } = await gather(assumed, {
        ...source,
        gate: reuse(firstInput.gate, source.gate),
        prober: replay(firstInput.issuer?.probes, source.prober),
      });
      second = decide(input);
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
   * Hands this pass's notices (already recorded in status, their Events written) to the notifier,
   * with each receiver's URL read from its Secret. The notifier delivers in the background.
   */
  private async notify(resource: JwtRotation, notices: Notice[]): Promise<void> {
    const { notifier, secrets } = this.deps;
    const resolved = resolveSpec(resource.spec);
    const settings = resolved.ok ? resolved.spec.notifications : undefined;
    if (notifier === undefined || settings === undefined) return;
    const namespace = resource.metadata.namespace ?? '';
    const receivers = await Promise.all(
      settings.receivers.map(async ({ name, type, urlSecretRef: ref }): Promise<NotificationTarget> => {
        const secret = await secrets.get(namespace, ref.name).catch(() => undefined);
        const url = secret?.values[ref.key];
        return url === undefined || url === ''
          ? { name, type, problem: `Secret ${ref.name} has no key ${ref.key} with the webhook URL` }
          : { name, type, url: url.trim() };
      }),
    );
    notifier.send({
      subject: { namespace, name: resource.metadata.name ?? '' },
      receivers,
      notices,
      timeoutMs: settings.timeoutMs,
      retries: settings.retries,
    });
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
 * per-target pod counts (status.targets) and the conditions' messages.
 */
export function onlyProgressDiffers(a: JwtRotationStatus, b: JwtRotationStatus): boolean {
  const strip = (s: JwtRotationStatus): unknown => ({
    ...s,
    targets: undefined,
    conditions: s.conditions?.map((c) =>
      Object.fromEntries(Object.entries(c).filter(([k]) => k !== 'message')),
    ),
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
