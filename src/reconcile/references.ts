/**
 * Secrets a JwtRotation names besides its own (a Prometheus bearer token or CA bundle, a receiver's
 * URL or signing secret) are read on its behalf by an operator that may read every Secret, so a
 * reference is used only when the Secret consents: its `jwtrotation.io/allow-references` annotation
 * names the JwtRotation (or is `*`). Whoever may create JwtRotations but not read Secrets can then
 * not make the operator send a Secret somewhere (docs/operations.md, "Threat model").
 */
import { ALLOW_REFERENCES_ANNOTATION, BACKUP_SECRET_SUFFIX } from '../api/constants.ts';
import type { SecretStore } from './ports.ts';

/** Why a reference or a URL was not used: the reasons of MetricsAvailable and NotificationsDelivered. */
export const ReferenceReasons = {
  /** A referenced Secret is missing, holds JWT keys, or does not allow this JwtRotation to use it. */
  ReferenceNotAllowed: 'ReferenceNotAllowed',
  /** A URL is not one the operator's administrator allows (OUTBOUND_HOSTS, NOTIFICATIONS_ALLOW_HTTP). */
  UrlNotAllowed: 'UrlNotAllowed',
} as const;

/** Whether a Secret with these annotations allows JwtRotation `name` (of its namespace) to use it. */
export function allowsReference(annotations: Readonly<Record<string, string>>, name: string): boolean {
  const allowed = annotations[ALLOW_REFERENCES_ANNOTATION];
  if (allowed === undefined) return false;
  return allowed.split(',').some((entry) => {
    const n = entry.trim();
    return n === '*' || n === name;
  });
}

export interface SecretKeyRef {
  name: string;
  key: string;
}

/** Who refers: the JwtRotation's name and the Secret it manages. */
export interface Referrer {
  name: string;
  secretName: string;
}

export type ReferenceRead =
  | { ok: true; value: string | undefined }
  | { ok: false; reason: typeof ReferenceReasons.ReferenceNotAllowed; message: string };

/**
 * The value under `ref.key` (undefined when the key is missing) of a Secret that allows `referrer`,
 * else why not. A missing Secret reads as one that does not allow it: the message must not tell a
 * tenant who cannot list Secrets which names exist. The JwtRotation's own Secret and any backup
 * Secret hold keys, which never leave the operator, whatever their annotations say.
 */
export async function readReference(
  secrets: Pick<SecretStore, 'get'>,
  namespace: string,
  referrer: Referrer,
  ref: SecretKeyRef,
  what: string,
): Promise<ReferenceRead> {
  if (ref.name === referrer.secretName || ref.name.endsWith(BACKUP_SECRET_SUFFIX)) {
    return {
      ok: false,
      reason: ReferenceReasons.ReferenceNotAllowed,
      message: `Secret ${ref.name}, named for ${what}, holds JWT keys, which the operator never sends anywhere`,
    };
  }
  const secret = await secrets.get(namespace, ref.name);
  if (secret === undefined || !allowsReference(secret.annotations, referrer.name)) {
    return {
      ok: false,
      reason: ReferenceReasons.ReferenceNotAllowed,
      message:
        `Secret ${ref.name}, named for ${what}, does not exist or does not allow JwtRotation ${referrer.name} to use it; ` +
        `its contents were not used and nothing was sent. Its owner allows it with the annotation ${ALLOW_REFERENCES_ANNOTATION}: ${referrer.name}`,
    };
  }
  return { ok: true, value: secret.values[ref.key] };
}
