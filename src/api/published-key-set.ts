/**
 * The PublishedKeySet API, as the operator writes it and the issuer server reads it and reports on it
 * (crds/jwtrotation.io_publishedkeysets.yaml is the contract; test/unit/issuer-api.test.ts checks that
 * every field named here is in it). Plain JSON, as the API server and the informers hand custom objects
 * over: timestamps are strings, and a field the writer always sets may still be missing.
 */
export const PKS_GROUP = 'jwtrotation.io';
export const PKS_VERSION = 'v1alpha1';
export const PKS_API_VERSION = `${PKS_GROUP}/${PKS_VERSION}`;
export const PKS_KIND = 'PublishedKeySet';
export const PKS_PLURAL = 'publishedkeysets';

/** Most clients one replica reports per key set (status.servers[].fetchers maxItems). */
export const MAX_FETCHERS = 32;
/** status.servers[].fetchers[].client maxLength. */
export const MAX_CLIENT_LENGTH = 256;

/** The label issuer server replicas put on their Leases (how the operator finds the live ones). */
export const ISSUER_SERVER_LABEL = 'jwtrotation.io/issuer-server';

export type PublishedAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** A key jwks still lists only for the tokens it signed that may still be valid, and until when. */
export interface RetiringKey {
  kid: string;
  until: string;
}

export interface PublishedKeySetSpec {
  issuer: string;
  algorithm: PublishedAlgorithm;
  version: string;
  maxAgeSeconds: number;
  /** The JWK Set, as JSON text. Public keys only. */
  jwks: string;
  keyCount?: number;
  retiring?: RetiringKey[];
}

/** One fetch of the JWKS: who, which version they got, when (RFC 3339). */
export interface Fetcher {
  client: string;
  version: string;
  at: string;
}

/** One replica's entry of status.servers (a list-map keyed by name, each entry its replica's). */
export interface ServerEntry {
  name: string;
  /** `namespace/name` of the Lease the replica renews while it serves. */
  lease?: string | undefined;
  version?: string | undefined;
  since?: string | undefined;
  fetchers?: Fetcher[] | undefined;
}

export interface PublishedKeySet {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string | undefined;
    namespace?: string | undefined;
    resourceVersion?: string | undefined;
    creationTimestamp?: string | undefined;
    labels?: Record<string, string> | undefined;
    annotations?: Record<string, string> | undefined;
    managedFields?: unknown[] | undefined;
  };
  spec?: PublishedKeySetSpec;
  status?: { servers?: ServerEntry[] };
}
