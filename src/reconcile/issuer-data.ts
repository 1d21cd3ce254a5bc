/**
 * The PublishedKeySet of a JwtRotation with spec.issuer: which public keys the issuer serves, built
 * from the Secret's private keys by the executor (the only code that handles them), and what the
 * server replicas report, reduced to the core's IssuerObservation.
 *
 * Which keys the issuer serves (docs/issuer.md, "Which keys are served"):
 * - every key the Secret holds (a new key is published before the Secret write that holds it);
 * - a key that leaves the Secret by completion or rollback stays, "retiring", for the longer of
 *   tokenTTL and refreshTokenTTL, so every token it signed expires before verifiers lose it;
 * - an emergency rotation serves the new key alone, at once, even before the Secret holds it: the
 *   compromised key leaves, and so does every retiring key (the runbook forces everyone to sign in
 *   again). Any set that holds the new key then lacks the compromised one, which is what lets a
 *   relying party's acceptance of the new key prove it dropped the compromised one;
 * - for a hub (spec.clusters, docs/multi-cluster.md): a served key that a member's Secret still holds
 *   (an unreachable member's as last read) stays, as held, not retiring, after it left the hub's
 *   Secret, even after an emergency, unless it is the compromised key; it starts retiring when no
 *   member holds it any more (MemberKeys, ./secret-data.ts).
 */
import { createHash } from 'node:crypto';
import { SecretAnnotations } from '../api/constants.ts';
import type { JwtRotation } from '../api/types.ts';
import { kidFingerprint, type PublicJwk } from '../platform/keys.ts';
import { parseDuration } from '../rotation/duration.ts';
import type { IssuerObservation } from '../rotation/model.ts';
import { parseInstant, toRfc3339 } from '../rotation/time.ts';
import type { KeySetRecord, KeySetSpec } from './ports.ts';
import {
  heldKeys,
  jwksOf,
  jwksText,
  parseJwks,
  type Jwks,
  type KeyScheme,
  type MemberKeys,
} from './secret-data.ts';

/** A key set's version: names its keys (the ETag the server sends), whatever order they come in. */
export function keySetVersion(jwks: Jwks): string {
  const kids = jwks.keys.map((k) => k.kid).sort();
  return createHash('sha256').update(kids.join('\n'), 'utf8').digest('hex').slice(0, 16);
}

/** Whether the Secret values are those of an emergency rotation (which drops every other key at once). */
export function isEmergency(annotations: Readonly<Record<string, string>>): boolean {
  return annotations[SecretAnnotations.operation] === 'Emergency';
}

/** How long a key that left the Secret stays served: the longer token lifetime. */
function retentionMs(resource: JwtRotation): number {
  const ttl = (text: string | undefined, fallback: string): number => {
    try {
      return parseDuration(text ?? fallback);
    } catch {
      return parseDuration(fallback);
    }
  };
  return Math.max(ttl(resource.spec.tokenTTL, '24h'), ttl(resource.spec.refreshTokenTTL, '168h'));
}

/**
 * Publishes the keys of `values` in the PublishedKeySet, in step with the Secret writes (as the JWKS
 * ConfigMap is, src/reconcile/execute.ts): `adding` before a Secret write, `exactly` after it and at
 * the start of every pass. Each returns the spec to write, or undefined when it is already so.
 */
export class KeySetPublisher {
  private published: KeySetSpec | undefined;

  constructor(
    private readonly resource: JwtRotation,
    private readonly scheme: KeyScheme,
    private readonly issuer: string,
    private readonly maxAgeSeconds: number,
    private readonly now: number,
    read: KeySetRecord | undefined,
    /** For a hub, the served keys kept for its members; none for one cluster. */
    private readonly forMembers: MemberKeys = () => [],
  ) {
    this.published = read?.spec;
  }

  /** Before a Secret write of `values`: what is served plus the keys it brings (emergency: those alone). */
  adding(
    values: Readonly<Record<string, string>>,
    annotations: Readonly<Record<string, string>>,
  ): KeySetSpec | undefined {
    if (isEmergency(annotations)) return this.exactly(values, annotations);
    const served = parseJwks(this.published?.jwks);
    const coming = jwksOf(values, this.scheme).keys.filter((k) => !served.keys.some((s) => s.kid === k.kid));
    return this.publish([...served.keys, ...coming], this.published?.retiring ?? []);
  }

  /**
   * After a Secret write of `values` (or as read): its keys, those kept for the members (a hub's), and
   * the keys still retiring.
   */
  exactly(
    values: Readonly<Record<string, string>>,
    annotations: Readonly<Record<string, string>>,
  ): KeySetSpec | undefined {
    const served = parseJwks(this.published?.jwks).keys;
    const held = heldKeys(jwksOf(values, this.scheme).keys, served, this.forMembers, annotations);
    if (isEmergency(annotations)) return this.publish(held, []);
    const until = toRfc3339(this.now + retentionMs(this.resource));
    const retiring = served
      .filter((k) => !held.some((h) => h.kid === k.kid))
      .map((k) => this.published?.retiring.find((r) => r.kid === k.kid) ?? { kid: k.kid, until })
      .filter((r) => (parseInstant(r.until) ?? 0) > this.now);
    const kept = served.filter((k) => retiring.some((r) => r.kid === k.kid));
    return this.publish([...held, ...kept], retiring);
  }

  private publish(keys: PublicJwk[], retiring: { kid: string; until: string }[]): KeySetSpec | undefined {
    const jwks: Jwks = { keys };
    const spec: KeySetSpec = {
      issuer: this.issuer,
      algorithm: this.scheme.algorithm as KeySetSpec['algorithm'],
      version: keySetVersion(jwks),
      maxAgeSeconds: this.maxAgeSeconds,
      keyCount: keys.length,
      jwks: jwksText(jwks),
      retiring,
    };
    if (this.published !== undefined && sameSpec(this.published, spec)) return undefined;
    this.published = spec;
    return spec;
  }
}

function sameSpec(a: KeySetSpec, b: KeySetSpec): boolean {
  return (
    JSON.stringify({ ...a, jwks: parseJwks(a.jwks) }) === JSON.stringify({ ...b, jwks: parseJwks(b.jwks) })
  );
}

/** The PublishedKeySet and the live replicas' reports, as the core sees them (fingerprints only). */
export function issuerObservation(
  keySet: KeySetRecord | undefined,
  liveServers: ReadonlySet<string>,
): IssuerObservation {
  const latest = new Map<string, { version: string; at: number }>();
  for (const server of keySet?.servers ?? []) {
    for (const f of server.fetchers) {
      const at = parseInstant(f.at) ?? 0;
      const seen = latest.get(f.client);
      if (seen === undefined || seen.at < at) latest.set(f.client, { version: f.version, at });
    }
  }
  return {
    published:
      keySet === undefined
        ? undefined
        : {
            version: keySet.spec.version,
            keys: parseJwks(keySet.spec.jwks).keys.map((k) => kidFingerprint(k.kid)),
          },
    servers: (keySet?.servers ?? [])
      .filter((s) => s.lease !== undefined && liveServers.has(s.lease))
      .map((s) => ({ name: s.name, version: s.version, since: parseInstant(s.since) })),
    fetchers: [...latest].map(([client, { version }]) => ({ client, version })),
  };
}
