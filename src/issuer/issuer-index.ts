/**
 * The issuers this replica serves, by issuer URL (host and path), from the PublishedKeySets it
 * watches. Kept up to date by the watch; read by every request, so a lookup is two Map reads.
 *
 * Two PublishedKeySets may name the same issuer (in two namespaces, say). Only the oldest is served
 * (creation time, then namespace/name): a newcomer cannot take an issuer that verifiers already trust
 * over, and the choice is the same on every replica. The others are reported as conflicting.
 */
import type { PreparedIssuer } from './documents.ts';

export interface IssuerEntry {
  /** `namespace/name` of the PublishedKeySet. */
  key: string;
  namespace: string;
  name: string;
  /** metadata.creationTimestamp (RFC 3339), for the order among entries that claim one issuer. */
  created: string;
  /** What it serves: the documents of the last version that could be served. */
  prepared: PreparedIssuer;
}

/** `host` + `path` as one key: hosts hold no '/', so the path's first '/' separates them. */
function issuerKey(host: string, path: string): string {
  return `${host}\n${path}`;
}

function older(a: IssuerEntry, b: IssuerEntry): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

export class IssuerIndex {
  private readonly byObject = new Map<string, IssuerEntry>();
  /** Entries claiming each issuer, oldest first: the first is served. */
  private readonly byIssuer = new Map<string, IssuerEntry[]>();
  /** Issuer keys by path alone, for requests whose Host matches no issuer. */
  private readonly byPath = new Map<string, Set<string>>();

  /** Adds or replaces the entry of one PublishedKeySet. */
  set(entry: IssuerEntry): void {
    this.remove(entry.key);
    this.byObject.set(entry.key, entry);
    const key = issuerKey(entry.prepared.host, entry.prepared.path);
    const claims = this.byIssuer.get(key) ?? [];
    claims.push(entry);
    claims.sort(older);
    this.byIssuer.set(key, claims);
    let keys = this.byPath.get(entry.prepared.path);
    if (keys === undefined) this.byPath.set(entry.prepared.path, (keys = new Set()));
    keys.add(key);
  }

  remove(objectKey: string): void {
    const entry = this.byObject.get(objectKey);
    if (entry === undefined) return;
    this.byObject.delete(objectKey);
    const key = issuerKey(entry.prepared.host, entry.prepared.path);
    const claims = (this.byIssuer.get(key) ?? []).filter((e) => e.key !== objectKey);
    if (claims.length > 0) {
      this.byIssuer.set(key, claims);
      return;
    }
    this.byIssuer.delete(key);
    const keys = this.byPath.get(entry.prepared.path);
    keys?.delete(key);
    if (keys?.size === 0) this.byPath.delete(entry.prepared.path);
  }

  get(objectKey: string): IssuerEntry | undefined {
    return this.byObject.get(objectKey);
  }

  /**
   * The entry serving this host and issuer path: by host and path, else by path alone when exactly
   * one issuer has that path (a proxy or an Ingress that sends its own Host upstream).
   */
  find(host: string, path: string): IssuerEntry | undefined {
    const exact = this.byIssuer.get(issuerKey(host, path));
    if (exact !== undefined) return exact[0];
    const keys = this.byPath.get(path);
    if (keys?.size !== 1) return undefined;
    const [only] = keys;
    return only === undefined ? undefined : this.byIssuer.get(only)?.[0];
  }

  /** The entry served for exactly this host and path. */
  servedFor(host: string, path: string): IssuerEntry | undefined {
    return this.byIssuer.get(issuerKey(host, path))?.[0];
  }

  /** Whether this PublishedKeySet is the one served for its issuer. */
  isServed(objectKey: string): boolean {
    const entry = this.byObject.get(objectKey);
    if (entry === undefined) return false;
    return this.byIssuer.get(issuerKey(entry.prepared.host, entry.prepared.path))?.[0] === entry;
  }

  /** How many PublishedKeySets are indexed, and how many of them lose their issuer to an older one. */
  counts(): { total: number; conflicting: number } {
    let conflicting = 0;
    for (const claims of this.byIssuer.values()) conflicting += claims.length - 1;
    return { total: this.byObject.size, conflicting };
  }
}

/** The Host header as issuer URLs spell hosts: lower case, without the default port or a trailing dot. */
export function normalizeHost(host: string | undefined): string {
  if (host === undefined) return '';
  let h = host.trim().toLowerCase();
  if (h.endsWith(':443')) h = h.slice(0, -4);
  if (h.endsWith('.')) h = h.slice(0, -1);
  return h;
}
