import type { SecretView } from './model.ts';
import { parseInstant } from './time.ts';

/**
 * The pod-template annotation value that pins a target to one state of the Secret.
 * Built from fingerprints, the rotation date and the TTLs, so any change a consumer
 * must restart for gives a new value, and an unchanged Secret gives the same value.
 */
export function secretRevision(secret: SecretView): string {
  const { JWT_SECRET: key, JWT_SECRET_NEW: next } = secret.fingerprints;
  const date = parseInstant(secret.rotationDate);
  const rotation = next === undefined ? '' : `+${next}@${date === undefined ? '' : Math.floor(date / 1000)}`;
  return `${key ?? 'none'}${rotation}/${secret.expiration ?? ''}/${secret.refreshExpiration ?? ''}`;
}
