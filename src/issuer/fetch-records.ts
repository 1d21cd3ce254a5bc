/**
 * What one replica reports for one key set in status.servers: the version it serves and since when,
 * and its most recent distinct clients with the version each got. Pure bookkeeping: the status
 * reporter decides when to write, and writes only what changed here.
 *
 * A change worth a write is a new version served, a client not in the list, or a client that got
 * another version than the one listed for it. A client fetching the version it already has moves
 * it to the front of the list (it is recent) but is no change: `at` stays the time it first got
 * that version from this replica, so a busy key set writes nothing while nobody learns anything new.
 */
import { MAX_CLIENT_LENGTH, MAX_FETCHERS, type Fetcher, type ServerEntry } from '../api/published-key-set.ts';

export type Change = 'none' | 'fetchers' | 'version';

export class FetchLog {
  private version: string | undefined;
  private since: string | undefined;
  /** Client → what it got; Map order is recency, oldest first. */
  private readonly fetchers = new Map<string, { version: string; at: string }>();

  /**
   * The replica serves `version` from `now` (RFC 3339) on; 'version' when that is new. `seed` is
   * this replica's entry as status shows it (a restarted process of the same pod): when it reports
   * the same version, its since and fetchers carry over and nothing needs writing.
   */
  serve(version: string, now: string, seed?: ServerEntry): Change {
    if (this.version === version) return 'none';
    if (this.version === undefined && seed !== undefined) {
      // Clients did fetch those versions from this replica, before its restart.
      for (const f of [...(seed.fetchers ?? [])].reverse().slice(-MAX_FETCHERS)) {
        this.fetchers.set(f.client, { version: f.version, at: f.at });
      }
      if (seed.version === version && seed.since !== undefined) {
        this.version = version;
        this.since = seed.since;
        return 'none';
      }
    }
    this.version = version;
    this.since = now;
    return 'version';
  }

  /** A client got `version` at `now`. */
  fetched(client: string, version: string, now: string): Change {
    const known = this.fetchers.get(client);
    this.fetchers.delete(client);
    if (known?.version === version) {
      this.fetchers.set(client, known);
      return 'none';
    }
    this.fetchers.set(client, { version, at: now });
    if (this.fetchers.size > MAX_FETCHERS) {
      const [oldest] = this.fetchers.keys();
      if (oldest !== undefined) this.fetchers.delete(oldest);
    }
    return 'fetchers';
  }

  get servedVersion(): string | undefined {
    return this.version;
  }

  /** This replica's status entry: the most recent client first. Undefined before a version is served. */
  entry(name: string, lease: string): ServerEntry | undefined {
    if (this.version === undefined || this.since === undefined) return undefined;
    const fetchers: Fetcher[] = [];
    for (const [client, got] of this.fetchers) fetchers.push({ client, version: got.version, at: got.at });
    fetchers.reverse();
    return { name, lease, version: this.version, since: this.since, fetchers };
  }
}

/** The User-Agent's first product token (`kube-apiserver/v1.37.2` of `kube-apiserver/v1.37.2 (linux/amd64) ...`). */
export function firstProduct(userAgent: string | undefined): string {
  if (userAgent === undefined) return '';
  const token = /^[\x21-\x7e]+/.exec(userAgent.trim())?.[0] ?? '';
  return token.slice(0, 128);
}

/** Who fetched: the peer address (an IPv4-mapped IPv6 address as plain IPv4) and the User-Agent's product. */
export function clientName(remoteAddress: string | undefined, userAgent: string | undefined): string {
  const address = (remoteAddress ?? 'unknown').replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/, '$1');
  const product = firstProduct(userAgent);
  return (product === '' ? address : `${address} ${product}`).slice(0, MAX_CLIENT_LENGTH);
}
