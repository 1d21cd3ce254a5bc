/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it: the
 * holder renews the Lease every retry period; a contender takes it over once it has not been
 * renewed for leaseDuration. Every write carries the resourceVersion that was read, so two
 * contenders cannot both win. Only the leader watches and reconciles.
 *
 * client-node 1.4 serialises the Lease's MicroTime fields with millisecond precision, which the
 * API server rejects, so times are written through a merge patch in the MicroTime format.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type CoordinationV1Api,
  type V1Lease,
} from '@kubernetes/client-node';
import type { Clock } from '../../platform/clock.ts';
import type { Logger } from '../../platform/logger.ts';
import { describeError, isConflict, isNotFound } from './errors.ts';

interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  retryPeriodMs: number;
}

/** RFC 3339 with microseconds, as metav1.MicroTime requires. */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** client-node returns MicroTime as a Date or as the raw string, depending on the field's path. */
function instantMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  const ms = typeof value === 'string' ? Date.parse(value) : Number.NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

export class LeaderElector {
  private leading = false;
  private stopped = false;
  private lastRenew = 0;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly options: LeaderElectionOptions,
  ) {}

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Tries to become leader every retry period. Calls onStartedLeading once when it does, and
   * onStoppedLeading if the Lease cannot be renewed within leaseDuration (then it is someone else's).
   */
  run(onStartedLeading: () => Promise<void>, onStoppedLeading: () => void): void {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (error) {
        this.logger.warn('lease update failed', { lease: this.options.name, error: describeError(error) });
      }
      const now = this.clock.now();
      if (held) {
        this.lastRenew = now;
        if (!this.leading) {
          this.leading = true;
          this.logger.info('became leader', { lease: this.options.name, identity: this.options.identity });
          await onStartedLeading();
        }
      } else if (this.leading && now - this.lastRenew >= this.options.leaseDurationMs) {
        this.leading = false;
        this.logger.error('lost the lease', { lease: this.options.name, identity: this.options.identity });
        onStoppedLeading();
        return;
      }
      this.clock.schedule(this.options.retryPeriodMs, () => void tick());
    };
    void tick();
  }

  /** Stops renewing; the Lease expires and another replica takes over. */
  stop(): void {
    this.stopped = true;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity, leaseDurationMs } = this.options;
    const now = this.clock.now();
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ namespace, name });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        lease = await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
              leaseTransitions: 0,
            },
          },
        });
      } catch (createError) {
        if (isConflict(createError)) return false;
        throw createError;
      }
      return this.write(lease, { acquireTime: microTime(now), renewTime: microTime(now) });
    }
    const spec = lease.spec ?? {};
    if (spec.holderIdentity === identity) {
      return this.write(lease, { renewTime: microTime(now) });
    }
    const renewed = instantMs(spec.renewTime ?? lease.metadata?.creationTimestamp);
    const duration = (spec.leaseDurationSeconds ?? Math.ceil(leaseDurationMs / 1000)) * 1000;
    if (spec.holderIdentity && now < renewed + duration) return false;
    return this.write(lease, {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime: microTime(now),
      renewTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
    });
  }

  private async write(lease: V1Lease, spec: Record<string, unknown>): Promise<boolean> {
    try {
      await this.api.patchNamespacedLease(
        {
          namespace: this.options.namespace,
          name: this.options.name,
          body: { metadata: { resourceVersion: lease.metadata?.resourceVersion }, spec },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return true;
    } catch (error) {
      if (isConflict(error)) return false;
      throw error;
    }
  }
}
