/**
 * One pass over one JwtRotation: gather → decide → execute → write status → events.
 * Idempotent: when the cluster matches the decision, the pass writes nothing.
 */
import { isOneOf, PHASES, type JwtRotation, type JwtRotationStatus } from '../api/types.ts';
import { decide } from '../rotation/decide.ts';
import type { Decision, GateObservation, Notice } from '../rotation/model.ts';
import { resolveSpec } from '../rotation/spec.ts';
import { parseInstant } from '../rotation/time.ts';
import { canonical } from '../platform/canonical.ts';
import { execute } from './execute.ts';
import { gather } from './gather.ts';
import type { NotificationTarget, ReconcilerDeps } from './ports.ts';
import type { PassResult } from './queue.ts';

/** Shortest wait before looking again after a pass that changed nothing. */
const MIN_IDLE_REQUEUE_MS = 1000;

export class Reconciler {
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
    let resource = await deps.resources.get(namespace, name);
    if (resource === undefined) {
      deps.metrics.forget(namespace, name);
      return 'forget';
    }
    // No finalizer: deleting a JwtRotation leaves its Secret as it is, which is always a
    // working state (the dual-key shape keeps both keys); the backup goes with its owner.
    if (resource.metadata.deletionTimestamp !== undefined) return 'forget';

    let gathered = await gather(resource, deps);
    let decision = decide(gathered.input);
    const log = deps.logger.child({ namespace, name });
    if (deps.live !== undefined && wouldWrite(resource.status ?? {}, decision)) {
      // Read from caches, which may lag: decide again on live reads before writing anything.
      const confirmed = await this.confirm(namespace, name, gathered.input.gate);
      if (confirmed === undefined) return 'forget';
      ({ resource, gathered, decision } = confirmed);
    }

    if (decision.actions.length > 0) {
      log.info('acting', {
        phase: decision.status.phase,
        actions: decision.actions.map((a) => a.type),
      });
      await execute(decision.actions, resource, gathered.read, deps);
    }

    const previous = resource.status ?? {};
    const statusChanged = canonical(previous) !== canonical(decision.status);
    if (statusChanged) {
      await deps.resources.writeStatus(resource, decision.status);
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
    return {
      requeueAfterMs: wroteNothing
        ? Math.max(MIN_IDLE_REQUEUE_MS, decision.requeueAfterMs)
        : decision.requeueAfterMs,
    };
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

  /** The pass again on live reads (the Prometheus reading of the first look is reused). */
  private async confirm(
    namespace: string,
    name: string,
    gate: GateObservation | undefined,
  ): Promise<
    { resource: JwtRotation; gathered: Awaited<ReturnType<typeof gather>>; decision: Decision } | undefined
  > {
    const { deps } = this;
    const { live: stores, ...rest } = deps;
    const live: ReconcilerDeps = { ...rest, ...stores };
    if (gate !== undefined) live.gate = { read: () => Promise.resolve(gate) };
    const resource = await live.resources.get(namespace, name);
    if (resource === undefined || resource.metadata.deletionTimestamp !== undefined) return undefined;
    const gathered = await gather(resource, live);
    return { resource, gathered, decision: decide(gathered.input) };
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

/** Whether a pass with this decision writes anything: an action, the status, or an Event. */
function wouldWrite(previous: JwtRotationStatus, decision: Decision): boolean {
  return (
    decision.actions.length > 0 ||
    decision.events.length > 0 ||
    canonical(previous) !== canonical(decision.status)
  );
}

/** Top-level status fields that differ, for the debug log. */
function changedFields(a: JwtRotationStatus, b: JwtRotationStatus): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof JwtRotationStatus>;
  return [...keys].filter((k) => canonical(a[k]) !== canonical(b[k])).sort();
}
