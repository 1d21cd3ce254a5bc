/**
 * This replica's own Lease (coordination.k8s.io/v1): not an election, a heartbeat. The operator counts
 * a replica as alive while its Lease is fresh (renewTime + leaseDurationSeconds in the future), and
 * waits for every alive replica to serve a new key set before the signing switch. So a replica renews
 * only while it can vouch for what it serves (`mayRenew`: its watch is not down for longer than the
 * lease duration), and deletes the Lease when it stops serving.
 *
 * The RBAC grants get, create, update and delete on Leases in the server's namespace: no patch, so a
 * renewal is a PUT of the object last read or written. MicroTime fields go out as strings with
 * microseconds (client-node 1.4 passes a string through, and would write a Date with milliseconds,
 * which the API server refuses).
 */
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { describeError, isConflict, isNotFound } from '../adapters/kubernetes/errors.ts';
import { ISSUER_SERVER_LABEL } from '../api/published-key-set.ts';
import type { Clock, Timer } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import type { IssuerMetrics } from './metrics.ts';

/** The longest a release waits for a renewal in flight. */
const RELEASE_WAIT_MS = 5_000;

export interface ReplicaLeaseOptions {
  namespace: string;
  name: string;
  holder: string;
  durationSeconds: number;
  renewMs: number;
}

/** RFC 3339 with microseconds, as metav1.MicroTime requires. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** A MicroTime as read back (client-node hands over the string; a Date would lose the microseconds). */
function asMicroTime(value: unknown, fallbackMs: number): string {
  if (typeof value === 'string' && value !== '') return value;
  if (value instanceof Date) return microTime(value.getTime());
  return microTime(fallbackMs);
}

export class ReplicaLease {
  private lease: V1Lease | undefined;
  private lastRenewed: number | undefined;
  private timer: Timer | undefined;
  private stopped = false;
  private renewing: Promise<void> | undefined;

  constructor(
    private readonly api: CoordinationV1Api,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly metrics: IssuerMetrics,
    private readonly options: ReplicaLeaseOptions,
  ) {}

  /** `namespace/name`, as status.servers[].lease names it. */
  get ref(): string {
    return `${this.options.namespace}/${this.options.name}`;
  }

  /** Whether the Lease was renewed within its duration: the operator counts this replica as alive. */
  get fresh(): boolean {
    return (
      this.lastRenewed !== undefined &&
      this.clock.now() - this.lastRenewed < this.options.durationSeconds * 1000
    );
  }

  /** Renews now, then every renewMs while mayRenew() says so. Resolves after the first attempt. */
  async start(mayRenew: () => boolean): Promise<void> {
    const tick = async (): Promise<void> => {
      if (this.stopped) return;
      if (mayRenew()) {
        this.renewing = this.renew();
        await this.renewing;
      } else {
        this.metrics.leaseRenewal('skipped');
      }
      // Read through a method: release() may have run while the renewal awaited.
      if (this.active()) this.timer = this.clock.schedule(this.options.renewMs, () => void tick());
    };
    await tick();
  }

  private active(): boolean {
    return !this.stopped;
  }

  /** Stops renewing and deletes the Lease, so the operator stops counting this replica at once. */
  async release(): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    // A renewal in flight could create the Lease again after the delete: let it finish first, but not
    // for long (an API server that does not answer must not hold the shutdown up).
    await Promise.race([
      this.renewing,
      new Promise((resolve) => setTimeout(resolve, RELEASE_WAIT_MS).unref()),
    ]);
    try {
      await this.api.deleteNamespacedLease({ namespace: this.options.namespace, name: this.options.name });
      this.logger.info('lease deleted', { lease: this.ref });
    } catch (error) {
      if (!isNotFound(error)) {
        this.logger.warn('could not delete the lease', { lease: this.ref, error: describeError(error) });
      }
    }
    this.lastRenewed = undefined;
  }

  private async renew(): Promise<void> {
    const now = this.clock.now();
    try {
      this.lease = await this.write(now);
      this.lastRenewed = now;
      this.metrics.leaseRenewal('success');
    } catch (error) {
      this.lease = undefined; // read it again next time
      this.metrics.leaseRenewal('error');
      this.logger.warn('lease renewal failed', { lease: this.ref, error: describeError(error) });
    }
  }

  private async write(now: number): Promise<V1Lease> {
    const { namespace, name } = this.options;
    if (this.lease === undefined) {
      try {
        return await this.api.createNamespacedLease({ namespace, body: this.body(now, undefined) });
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Left by an earlier process of this pod: it is ours by name.
        this.lease = await this.api.readNamespacedLease({ namespace, name });
      }
    }
    try {
      return await this.api.replaceNamespacedLease({ namespace, name, body: this.body(now, this.lease) });
    } catch (error) {
      if (isNotFound(error)) {
        return this.api.createNamespacedLease({ namespace, body: this.body(now, undefined) });
      }
      if (!isConflict(error)) throw error;
      // Someone else wrote it (a label, say): read it and renew on what it is now.
      const current = await this.api.readNamespacedLease({ namespace, name });
      return this.api.replaceNamespacedLease({ namespace, name, body: this.body(now, current) });
    }
  }

  private body(now: number, current: V1Lease | undefined): V1Lease {
    const { namespace, name, holder, durationSeconds } = this.options;
    const spec = {
      holderIdentity: holder,
      leaseDurationSeconds: durationSeconds,
      // Strings, not Dates: see the file comment.
      acquireTime: (current?.spec?.holderIdentity === holder
        ? asMicroTime(current.spec.acquireTime, now)
        : microTime(now)) as unknown as Date,
      renewTime: microTime(now) as unknown as Date,
    };
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace,
        labels: { ...current?.metadata?.labels, [ISSUER_SERVER_LABEL]: 'true' },
        ...(current?.metadata?.resourceVersion === undefined
          ? {}
          : { resourceVersion: current.metadata.resourceVersion }),
      },
      spec,
    };
  }
}
