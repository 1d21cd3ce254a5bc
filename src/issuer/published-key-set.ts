/**
 * The PublishedKeySet API as the issuer server reads and writes it (crds/jwtrotation.io_publishedkeysets.yaml
 * is the contract; test/unit/issuer-api.test.ts checks that every field named here is in it). Plain JSON, as
 * the informer hands custom objects over: timestamps are strings.
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

export interface PublishedKeySetSpec {
  issuer: string;
  algorithm: string;
  version: string;
  maxAgeSeconds: number;
  jwks: string;
  keyCount?: number;
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
  lease?: string;
  version?: string;
  since?: string;
  fetchers?: Fetcher[];
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
    managedFields?: unknown[] | undefined;
  };
  spec?: PublishedKeySetSpec;
  status?: { servers?: ServerEntry[] };
}
