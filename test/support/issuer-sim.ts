/**
 * The issuer side of the simulated world (./simulated-world.ts): the PublishedKeySet as the operator
 * writes it, server replicas that pick up a new key set each after a lag of its own and report it,
 * and two kinds of remote verifier, measured against the real ones:
 * - a caching verifier that honours max-age: it fetches the JWKS from some replica and keeps the
 *   set for exactly maxAge (jose's createRemoteJWKSet, a gateway);
 * - an on-demand verifier (kube-apiserver, measured here: ../../shared/ecosystem-facts.md): it never
 *   refetches on a timer, refetches on an unknown kid at most once per cooldown, and is probed by
 *   the operator (spec.issuer.relyingParties).
 * Everything is in fingerprints (kidFingerprint of the thumbprints), like the core.
 */
import { kidFingerprint } from '../../src/platform/keys.ts';
import type { KeySetRecord, KeySetSpec } from '../../src/reconcile/ports.ts';
import { parseJwks } from '../../src/reconcile/secret-data.ts';
import type { ProbeResult } from '../../src/rotation/model.ts';
import { toRfc3339 } from '../../src/rotation/time.ts';

interface Replica {
  name: string;
  /** How long after a key set is written this replica starts serving it. */
  lagMs: number;
  version?: string;
  keys: string[];
  since?: number;
}

interface Fetched {
  keys: string[];
  at: number;
}

/** A verifier that keeps a fetched key set for max-age, then fetches again on its next verification. */
export class CachingVerifier {
  private fetched: Fetched | undefined;
  constructor(
    readonly name: string,
    private readonly sim: IssuerSim,
    /** The first fetch happens at this time (verifiers start at different moments). */
    private readonly firstFetchAt: number,
    /** Which replica it asks, by index (a load balancer's choice). */
    private readonly replica: number,
  ) {}

  accepts(key: string, now: number): boolean {
    if (now < this.firstFetchAt) return true; // not verifying anything yet
    if (this.fetched === undefined || now >= this.fetched.at + this.sim.maxAgeMs)
      this.fetched = { keys: this.sim.fetch(this.replica), at: now };
    return this.fetched.keys.includes(key);
  }
}

/** A verifier that fetches at start and on an unknown kid (at most once per cooldown; kube-apiserver: max-age − 30 s), never on a timer. */
export class OnDemandVerifier {
  private keys: string[] | undefined;
  private lastFetch = -Infinity;
  fetches = 0;
  constructor(
    readonly name: string,
    private readonly sim: IssuerSim,
    private readonly cooldownMs: number,
    private readonly replica: number,
  ) {}

  accepts(key: string, now: number): boolean {
    if (this.keys === undefined || (!this.keys.includes(key) && now - this.lastFetch >= this.cooldownMs)) {
      this.keys = this.sim.fetch(this.replica);
      this.lastFetch = now;
      this.fetches++;
    }
    return this.keys.includes(key);
  }
}

export class IssuerSim {
  spec: KeySetSpec | undefined;
  private writtenAt = 0;
  readonly replicas: Replica[];
  readonly onDemand: OnDemandVerifier[] = [];
  readonly caching: CachingVerifier[] = [];
  now = 0;

  constructor(
    readonly maxAgeMs: number,
    lagsMs: number[],
  ) {
    this.replicas = lagsMs.map((lagMs, i) => ({ name: `issuer-${i}`, lagMs, keys: [] }));
  }

  /** The operator's write of the PublishedKeySet spec. */
  write(spec: KeySetSpec, now: number): void {
    this.spec = spec;
    this.writtenAt = now;
    this.advance(now);
  }

  /** Replicas whose lag has passed since the last write serve it from then. */
  advance(now: number): void {
    this.now = now;
    const spec = this.spec;
    if (spec === undefined) return;
    for (const r of this.replicas) {
      const at = this.writtenAt + r.lagMs;
      if (r.version !== spec.version && now >= at) {
        r.version = spec.version;
        r.keys = parseJwks(spec.jwks).keys.map((k) => kidFingerprint(k.kid));
        r.since = at;
      }
    }
  }

  /** What a client gets from one replica now. */
  fetch(replica: number): string[] {
    const r = this.replicas[replica % this.replicas.length];
    return [...(r?.keys ?? [])];
  }

  /** The PublishedKeySet as the operator reads it, with the replicas' reports. */
  record(): KeySetRecord | undefined {
    if (this.spec === undefined) return undefined;
    return {
      resourceVersion: this.spec.version,
      spec: this.spec,
      servers: this.replicas
        .filter((r) => r.version !== undefined)
        .map((r) => ({
          name: r.name,
          lease: `issuer/${r.name}`,
          version: r.version,
          since: r.since === undefined ? undefined : toRfc3339(r.since),
          fetchers: [],
        })),
    };
  }

  live(): ReadonlySet<string> {
    return new Set(this.replicas.map((r) => `issuer/${r.name}`));
  }

  /** The operator's probe of an on-demand verifier with a token signed by `key`. */
  probe(name: string, key: string, now: number): ProbeResult {
    const verifier = this.onDemand.find((v) => v.name === name);
    const accepted = verifier?.accepts(key, now) ?? false;
    return {
      name,
      fingerprint: key,
      at: now,
      outcome: accepted ? 'Accepted' : 'Refused',
      message: accepted ? 'accepted' : 'refused',
    };
  }

  /** Every verifier that does not accept `key` now. */
  refusing(key: string, now: number): string[] {
    return [...this.caching, ...this.onDemand].filter((v) => !v.accepts(key, now)).map((v) => v.name);
  }
}
