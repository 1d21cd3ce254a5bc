import type { SecretView } from './model.ts';
import { parseInstant } from './time.ts';

/**
 * JWT_SECRET_ROTATION_DATE while the new key is published for verification only: consumers that
 * sign with JWT_SECRET_NEW from that date on keep signing with JWT_SECRET_CURRENT. The operator
 * sets the real date only once every pod verifies the new key (docs/consumer-contract.md).
 */
export const NOT_SCHEDULED = '9999-12-31T23:59:59Z';
const NOT_SCHEDULED_MS = Date.UTC(9999, 11, 31, 23, 59, 59);

/** True when the rotation date is absent or the verify-only placeholder. */
export function isSigningScheduled(rotationDate: string | undefined): boolean {
  const date = parseInstant(rotationDate);
  return date !== undefined && date < NOT_SCHEDULED_MS;
}

/**
 * The pod-template annotation value that pins a target to one state of the Secret.
 * Built from fingerprints, the rotation date and the TTLs, so any change a consumer
 * must restart for gives a new value, and an unchanged Secret gives the same value.
 * Its form, `<key>[+<new key>@<date seconds>]/<ttl>/<refresh ttl>`, says which keys a pod
 * started from it verifies and signs with (see readRevision).
 */
export function secretRevision(secret: SecretView): string {
  const { JWT_SECRET: key, JWT_SECRET_NEW: next } = secret.fingerprints;
  const date = parseInstant(secret.rotationDate);
  const rotation = next === undefined ? '' : `+${next}@${date === undefined ? '' : Math.floor(date / 1000)}`;
  return `${key ?? 'none'}${rotation}/${secret.expiration ?? ''}/${secret.refreshExpiration ?? ''}`;
}

/** What a pod started from a revision holds: the keys it verifies, and which it signs with when. */
export interface RevisionKeys {
  /** Fingerprints of the keys the pod verifies. */
  verifies: string[];
  /** The key it signs with before signsNewFrom (or always, without a new key). */
  signs: string;
  /** The new key, when the revision is dual-key. */
  newKey?: string | undefined;
  /** From when (epoch ms) it signs with newKey; undefined without a date. */
  signsNewFrom?: number | undefined;
}

/** The keys of a revision written by secretRevision; undefined for anything else. */
export function readRevision(revision: string | undefined): RevisionKeys | undefined {
  const match = /^([^+/@]+)(?:\+([^+/@]+)@(\d*))?\//.exec(revision ?? '');
  if (match === null) return undefined;
  const [, key = '', newKey, seconds] = match;
  if (newKey === undefined) return { verifies: [key], signs: key };
  // The rotation value pairs JWT_SECRET (which equals JWT_SECRET_CURRENT in the dual-key shape) with the new key.
  return {
    verifies: [key, newKey],
    signs: key,
    newKey,
    signsNewFrom: seconds === undefined || seconds === '' ? undefined : Number(seconds) * 1000,
  };
}

/** Whether a pod started from this revision verifies the key with this fingerprint. */
export function verifiesKey(revision: string | undefined, fingerprint: string | undefined): boolean {
  return fingerprint !== undefined && (readRevision(revision)?.verifies.includes(fingerprint) ?? false);
}

/** Whether a pod started from this revision signs with the key with this fingerprint at `now`. */
export function signsWithKey(
  revision: string | undefined,
  fingerprint: string | undefined,
  now: number,
): boolean {
  const keys = readRevision(revision);
  if (keys === undefined || fingerprint === undefined) return false;
  if (keys.newKey !== undefined && keys.signsNewFrom !== undefined && now >= keys.signsNewFrom) {
    return keys.newKey === fingerprint;
  }
  return keys.signs === fingerprint;
}
