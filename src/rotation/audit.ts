/**
 * Who asked for an operation (a rotate, rollback or emergency-rotate request annotation), for
 * history, Events and notifications. Pure: no I/O.
 *
 * Two sources, chosen by the operator's administrator (REQUESTER_IDENTITY; docs/operations.md, "Who
 * asked"):
 * - `admission`: the stamp the requester-identity MutatingAdmissionPolicy writes next to the request
 *   annotation (`jwtrotation.io/<request>-requester`), copied from the admission request's userInfo:
 *   the user the API server authenticated. Its ValidatingAdmissionPolicy refuses a stamp anyone else
 *   writes, so a stamp is trusted when it names the request value it was made for. A request whose
 *   stamp is missing or stale (set before the policy was installed) falls back to the field manager.
 * - `field-manager`: the field manager that owns the annotation in metadata.managedFields. Any client
 *   sets it to any string (`kubectl annotate --field-manager=alice`), so it is recorded as unverified.
 */
import { Annotations, RequesterStamps, SecretAnnotations } from '../api/constants.ts';
import type { ManagedFieldsEntry, ObjectMeta, Requester } from '../api/types.ts';
import type { Request } from './requests.ts';

/** Who asked, and when the request annotation was set (its managedFields time, if recorded). */
export interface RequestedBy extends Requester {
  time?: string | undefined;
}

export type RequesterIdentity = 'admission' | 'field-manager';

function child(node: unknown, key: string): unknown {
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
}

/** Whether this managedFields entry owns metadata.annotations[annotation]. */
export function ownsAnnotation(entry: ManagedFieldsEntry, annotation: string): boolean {
  if (entry.subresource !== undefined && entry.subresource !== '') return false;
  if (entry.fieldsType !== undefined && entry.fieldsType !== 'FieldsV1') return false;
  return child(child(child(entry.fieldsV1, 'f:metadata'), 'f:annotations'), `f:${annotation}`) !== undefined;
}

/** The field manager that set the annotation, and when; the latest if several share it (server-side apply). */
export function fieldManagerOf(
  metadata: ObjectMeta,
  annotation: string,
): { manager: string; time?: string | undefined } | undefined {
  const owners = (metadata.managedFields ?? []).filter(
    (e) => ownsAnnotation(e, annotation) && typeof e.manager === 'string' && e.manager !== '',
  );
  owners.sort((a, b) => (b.time ?? '').localeCompare(a.time ?? ''));
  const owner = owners[0];
  return owner === undefined ? undefined : { manager: owner.manager ?? '', time: owner.time };
}

/**
 * A stamp as the admission policy writes it: JSON built with CEL's strings.quote, whose escapes are
 * JSON's but for \a and \v and raw control characters (which JSON wants as \u escapes).
 */
export function parseStamp(
  text: string,
): { value: string; username: string; groups: string[]; uid: string } | undefined {
  // eslint-disable-next-line no-control-regex -- raw control characters are what is being escaped
  const json = text.replace(/\\\\|\\a|\\v|[\u0000-\u001f]/g, (m) => {
    if (m === '\\\\') return m;
    if (m === '\\a') return '\\u0007';
    if (m === '\\v') return '\\u000b';
    return `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  const value = child(parsed, 'value');
  const username = child(parsed, 'username');
  const groups = child(parsed, 'groups');
  const uid = child(parsed, 'uid');
  if (typeof value !== 'string' || typeof username !== 'string' || username === '') return undefined;
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) return undefined;
  return { value, username, groups, uid: typeof uid === 'string' ? uid : '' };
}

/** Who set the annotation of this request, or undefined (no request: the schedule or the gate). */
export function requesterOfRequest(
  metadata: ObjectMeta,
  request: Request | undefined,
  identity: RequesterIdentity = 'field-manager',
): RequestedBy | undefined {
  if (request === undefined) return undefined;
  const annotation = Annotations[request.kind];
  const manager = fieldManagerOf(metadata, annotation);
  if (identity === 'admission') {
    const stamp = parseStamp(metadata.annotations?.[RequesterStamps[request.kind]] ?? '');
    if (stamp !== undefined && stamp.value === request.value) {
      return { username: stamp.username, groups: stamp.groups, verified: true, time: manager?.time };
    }
  }
  return manager === undefined
    ? undefined
    : { username: manager.manager, verified: false, time: manager.time };
}

/** The requester as Events show it: " (requested by bob [devs] at …)"; '' when unknown. */
export function requestedByText(requester: RequestedBy | undefined): string {
  if (requester === undefined) return '';
  const at = requester.time === undefined ? '' : ` at ${requester.time}`;
  if (!requester.verified) return ` (requested by field manager ${requester.username}, unverified${at})`;
  const groups = requester.groups?.length ? ` [groups ${requester.groups.join(', ')}]` : '';
  return ` (requested by ${requester.username}${groups}${at})`;
}

/** The Secret annotations that keep who asked with the operation (null removes a stale one). */
export function requesterAnnotations(requester: RequestedBy | undefined): Record<string, string | null> {
  return {
    [SecretAnnotations.requestedBy]: requester?.username ?? null,
    [SecretAnnotations.requestedAt]: requester?.time ?? null,
    [SecretAnnotations.requestedByGroups]:
      requester?.groups === undefined ? null : JSON.stringify(requester.groups),
    [SecretAnnotations.requestedByVerified]: requester === undefined ? null : String(requester.verified),
  };
}

/** Who asked for the operation these Secret annotations describe, as requesterAnnotations wrote it. */
export function requesterFromAnnotations(
  annotations: Readonly<Record<string, string>>,
): RequestedBy | undefined {
  const username = annotations[SecretAnnotations.requestedBy];
  if (username === undefined) return undefined;
  let groups: string[] | undefined;
  try {
    const parsed: unknown = JSON.parse(annotations[SecretAnnotations.requestedByGroups] ?? 'null');
    if (Array.isArray(parsed) && parsed.every((g) => typeof g === 'string')) groups = parsed;
  } catch {
    groups = undefined;
  }
  return {
    username,
    // Written before issue 25 (no verified annotation): a field manager.
    verified: annotations[SecretAnnotations.requestedByVerified] === 'true',
    ...(groups === undefined ? {} : { groups }),
    time: annotations[SecretAnnotations.requestedAt],
  };
}
