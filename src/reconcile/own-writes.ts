/**
 * The operator's own writes that its watch caches have not shown yet: client-go's "expectations"
 * (the ReplicaSet controller's), by resourceVersion.
 *
 * A pass reads the informer caches, which lag the API server by the watch's latency. The one lag
 * that matters is the operator's own last write: a pass that read its JwtRotation's status from
 * before that write, beside a Secret from after it, would decide on a state that never existed.
 * So every write records the resourceVersion the API server gave the object (or that it deleted
 * it), and the watch event that carries that resourceVersion settles it. Watch events of one
 * resource arrive in order, so once the cache has shown the write, it never goes back to before it.
 *
 * A pass first asks `check` about the objects it reads:
 * - `fresh`: the caches show every write it made to them; the pass reads the caches, no request;
 * - `pending`: a write has not come back through its watch yet; the pass ends without a request,
 *   and the watch event, when it comes, wakes the key (src/reconcile/wake-index.ts);
 * - `stale`: a write has waited longer than `maxWaitMs` (a watch that is down, or one that listed
 *   again and so skipped that resourceVersion); the pass reads from the API server instead.
 * Changes by others are seen when their watch event comes, as in any controller: each write is
 * guarded (a Secret and status write by resourceVersion), so a change not seen yet makes a write
 * fail with a conflict and the next pass decide again.
 *
 * No I/O; time is a monotonic millisecond counter passed in (watch latency is real time, whatever
 * clock the rotation phases run on).
 */

/** `Kind/namespace/name`, as the wake index names objects. */
export type ObjectRef = string;

export const objectRef = (kind: string, namespace: string, name: string): ObjectRef =>
  `${kind}/${namespace}/${name}`;

export type Freshness = 'fresh' | 'pending' | 'stale';

interface Expectation {
  /** The resourceVersion written, or null for a deletion. */
  resourceVersion: string | null;
  since: number;
}

/** Versions remembered per object from recent watch events (see `observed`). */
const RECENT_VERSIONS = 8;

export class OwnWrites {
  private readonly expected = new Map<ObjectRef, Expectation>();
  /**
   * The last versions each watch delivered, for `maxWaitMs`: the watch event of a write can arrive
   * before the API server's answer to it, and the object may have changed again by then (a
   * Deployment's status, right after its template was patched).
   */
  private readonly recent = new Map<ObjectRef, { versions: (string | null)[]; at: number }>();
  private observations = 0;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly now: () => number,
    /** How long a write may wait for its watch event before passes read live instead. */
    private readonly maxWaitMs = 10_000,
    /**
     * Whether a watch cache holds this object's kind and namespace (a write elsewhere is never
     * seen by a watch, and passes read it from the API server anyway).
     */
    private readonly watched: (ref: ObjectRef) => boolean = () => true,
    /** Told of each write given up on (for the log and the metrics). */
    private readonly onLate: (
      ref: ObjectRef,
      wrote: string | null,
      cached: string | undefined,
    ) => void = () => undefined,
  ) {}

  /** The operator wrote `ref`; the API server answered with this resourceVersion (null: deleted). */
  wrote(ref: ObjectRef, resourceVersion: string | null): void {
    if (!this.watched(ref)) return;
    const seen = this.recent.get(ref);
    if (
      seen !== undefined &&
      this.now() - seen.at <= this.maxWaitMs &&
      seen.versions.includes(resourceVersion)
    )
      return;
    this.expected.set(ref, { resourceVersion, since: this.now() });
  }

  /** A watch delivered `ref` at this resourceVersion (null: deleted). */
  observed(ref: ObjectRef, resourceVersion: string | null): void {
    const e = this.expected.get(ref);
    if (e !== undefined && e.resourceVersion === resourceVersion) this.expected.delete(ref);
    const now = this.now();
    const seen = this.recent.get(ref);
    if (seen === undefined) this.recent.set(ref, { versions: [resourceVersion], at: now });
    else {
      seen.versions.push(resourceVersion);
      if (seen.versions.length > RECENT_VERSIONS) seen.versions.shift();
      seen.at = now;
    }
    // Forget objects with no event for a while, now and then, so memory follows the busy objects only.
    if (++this.observations % 1024 === 0) {
      for (const [key, value] of this.recent) if (now - value.at > this.maxWaitMs) this.recent.delete(key);
    }
    for (const listener of this.listeners) listener();
  }

  /** Calls `listener` after every watch event, until the function it returns is called. */
  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Whether the caches show every write made to these objects. `cachedVersion` is what the cache
   * holds now (undefined when it does not hold the object): it settles a deletion of an object the
   * cache no longer holds, and a write the cache shows although its event was missed.
   */
  check(refs: readonly ObjectRef[], cachedVersion: (ref: ObjectRef) => string | undefined): Freshness {
    let result: Freshness = 'fresh';
    for (const ref of refs) {
      const e = this.expected.get(ref);
      if (e === undefined) continue;
      const cached = cachedVersion(ref);
      if ((cached ?? null) === e.resourceVersion) {
        this.expected.delete(ref);
        continue;
      }
      if (this.now() - e.since > this.maxWaitMs) {
        // Read live this time; the expectation goes, so a lost event costs one live pass only.
        this.expected.delete(ref);
        this.onLate(ref, e.resourceVersion, cached);
        result = 'stale';
      } else if (result === 'fresh') result = 'pending';
    }
    return result;
  }

  /** Writes not yet shown by a watch (for the metrics and tests). */
  get size(): number {
    return this.expected.size;
  }
}
