/**
 * From watched PublishedKeySets to what this replica serves and reports: each change prepares the
 * issuer's documents (once per change, not per request), updates the index, and tells the status
 * reporter when the version this replica serves moved on. JWKS fetches land in each key set's
 * FetchLog.
 *
 * A key set whose new spec cannot be served (not JSON, private key members: see documents.ts) keeps
 * its last good version served and reported, so the operator, which waits for the new version,
 * never sees it as served; one that never could be served is not indexed (its issuer answers 404).
 * Either way the problem is logged once and counted in jwt_issuer_keysets{state="invalid"}.
 */
import type { Clock } from '../platform/clock.ts';
import type { Logger } from '../platform/logger.ts';
import { KeySetProblem, prepareIssuer } from './documents.ts';
import { FetchLog, clientName } from './fetch-records.ts';
import { IssuerIndex, type IssuerEntry } from './issuer-index.ts';
import type { IssuerMetrics } from './metrics.ts';
import type { PublishedKeySet, PublishedKeySetSpec, ServerEntry } from '../api/published-key-set.ts';

export interface KeySetsOptions {
  /** This replica (its pod name): the name of its status entries. */
  replica: string;
  /** `namespace/name` of its Lease. */
  lease: string;
  clock: Clock;
  logger: Logger;
  metrics: IssuerMetrics;
  /** The entry of this key set changed; urgent when the version served did. */
  onChange: (key: string, urgent: boolean) => void;
  /** The key set is gone. */
  onForget: (key: string) => void;
  /** Whether a status write of this key set is pending or in flight. */
  isPending: (key: string) => boolean;
}

const sameSpec = (a: PublishedKeySetSpec | undefined, b: PublishedKeySetSpec): boolean =>
  a !== undefined &&
  a.issuer === b.issuer &&
  a.algorithm === b.algorithm &&
  a.version === b.version &&
  a.maxAgeSeconds === b.maxAgeSeconds &&
  a.jwks === b.jwks;

export class KeySets {
  readonly index = new IssuerIndex();
  private readonly logs = new Map<string, FetchLog>();
  /** The spec last prepared (or refused) for each key set, so a status-only change prepares nothing. */
  private readonly specs = new Map<string, PublishedKeySetSpec>();
  /** Key sets whose spec cannot be served now, with why (logged once per problem). */
  private readonly problems = new Map<string, string>();

  constructor(private readonly options: KeySetsOptions) {}

  /**
   * What the informer keeps of a PublishedKeySet: no managedFields, and of status only this replica's
   * own entry (others' fetchers, 64 replicas of 32 each, would dwarf the spec).
   */
  readonly trim = (object: PublishedKeySet): void => {
    if (object.metadata !== undefined) delete object.metadata.managedFields;
    const own = object.status?.servers?.filter((s) => s.name === this.options.replica);
    if (object.status !== undefined) object.status = own === undefined ? {} : { servers: own };
  };

  /** A PublishedKeySet was added, changed or deleted. */
  apply(object: PublishedKeySet, deleted: boolean): void {
    const namespace = object.metadata?.namespace ?? '';
    const name = object.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    if (deleted) {
      this.remove(key);
    } else {
      this.update(key, namespace, name, object);
    }
    this.countKeySets();
  }

  /** A client got `version` of this entry's JWKS. */
  fetched(
    entry: IssuerEntry,
    version: string,
    remoteAddress: string | undefined,
    userAgent: string | undefined,
  ): void {
    const log = this.logs.get(entry.key);
    if (log === undefined) return;
    const now = new Date(this.options.clock.now()).toISOString();
    const change = log.fetched(clientName(remoteAddress, userAgent), version, now);
    this.options.metrics.fetchRecorded(change !== 'none');
    if (change !== 'none') this.options.onChange(entry.key, false);
  }

  /** This replica's status entry for a key set, as it should be written now. */
  entryOf(key: string): ServerEntry | undefined {
    return this.logs.get(key)?.entry(this.options.replica, this.options.lease);
  }

  private remove(key: string): void {
    const entry = this.index.get(key);
    this.index.remove(key);
    this.logs.delete(key);
    this.specs.delete(key);
    this.problems.delete(key);
    this.options.onForget(key);
    // Another key set claiming the same issuer may be the one served now.
    const next = entry && this.index.servedFor(entry.prepared.host, entry.prepared.path);
    if (next !== undefined) this.report(next, undefined);
  }

  private update(key: string, namespace: string, name: string, object: PublishedKeySet): void {
    const spec = object.spec;
    const own = object.status?.servers?.find((s) => s.name === this.options.replica);
    if (spec === undefined) {
      this.problem(key, 'no spec');
      return;
    }
    if (!sameSpec(this.specs.get(key), spec)) {
      this.specs.set(key, spec);
      try {
        const prepared = prepareIssuer(spec);
        const created = object.metadata?.creationTimestamp ?? '';
        this.index.set({ key, namespace, name, created, prepared });
        if (this.problems.delete(key))
          this.options.logger.info('key set servable again', { namespace, name });
      } catch (error) {
        if (!(error instanceof KeySetProblem)) throw error;
        this.problem(key, error.message);
      }
    }
    const entry = this.index.get(key);
    if (entry !== undefined) this.report(entry, own);
  }

  /** Starts (or goes on) reporting the version this entry serves, if it is the one served for its issuer. */
  private report(entry: IssuerEntry, own: ServerEntry | undefined): void {
    if (!this.index.isServed(entry.key)) return;
    let log = this.logs.get(entry.key);
    if (log === undefined) this.logs.set(entry.key, (log = new FetchLog()));
    const ours = own?.lease === this.options.lease ? own : undefined;
    const now = new Date(this.options.clock.now()).toISOString();
    const change = log.serve(entry.prepared.version, now, ours);
    if (change !== 'none') {
      this.options.logger.info('serving key set', {
        namespace: entry.namespace,
        name: entry.name,
        issuer: entry.prepared.issuer,
        version: entry.prepared.version,
      });
      this.options.onChange(entry.key, true);
    } else if (ours?.version !== log.servedVersion && !this.options.isPending(entry.key)) {
      // Status lacks this replica's entry, or shows another version, and no write of ours is on its
      // way: someone removed or changed it (a prune of dead replicas, a hand edit). Write it again.
      this.options.onChange(entry.key, true);
    }
  }

  private problem(key: string, message: string): void {
    if (this.problems.get(key) === message) return;
    this.problems.set(key, message);
    const [namespace, name] = key.split('/');
    const serving = this.index.get(key)?.prepared.version;
    this.options.logger.error('key set cannot be served', {
      namespace,
      name,
      problem: message,
      ...(serving === undefined ? {} : { stillServing: serving }),
    });
  }

  private countKeySets(): void {
    const { total, conflicting } = this.index.counts();
    this.options.metrics.keySetCounts({
      served: total - conflicting,
      conflicting,
      invalid: this.problems.size,
    });
  }
}
