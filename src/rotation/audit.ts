/**
 * Who asked: the field manager that set a request annotation, read from the object's
 * metadata.managedFields (the API server records, per manager, the fields it set and when).
 * `kubectl annotate` records itself as kubectl-annotate unless given --field-manager; a controller or a
 * GitOps tool records its own name. Pure: no I/O.
 */
import { Annotations, SecretAnnotations } from '../api/constants.ts';
import type { ManagedFieldsEntry, ObjectMeta } from '../api/types.ts';
import type { Request } from './requests.ts';

export interface Requester {
  /** The field manager that owns the annotation. */
  manager: string;
  /** When that manager last changed its fields (RFC 3339), if recorded. */
  time?: string | undefined;
}

function child(node: unknown, key: string): unknown {
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
}

/** Whether this managedFields entry owns metadata.annotations[annotation]. */
export function ownsAnnotation(entry: ManagedFieldsEntry, annotation: string): boolean {
  if (entry.subresource !== undefined && entry.subresource !== '') return false;
  if (entry.fieldsType !== undefined && entry.fieldsType !== 'FieldsV1') return false;
  return child(child(child(entry.fieldsV1, 'f:metadata'), 'f:annotations'), `f:${annotation}`) !== undefined;
}

/** The manager that set the annotation, and when; the latest if several share it (server-side apply). */
export function requesterOf(metadata: ObjectMeta, annotation: string): Requester | undefined {
  const owners = (metadata.managedFields ?? []).filter(
    (e) => ownsAnnotation(e, annotation) && typeof e.manager === 'string' && e.manager !== '',
  );
  owners.sort((a, b) => (b.time ?? '').localeCompare(a.time ?? ''));
  const owner = owners[0];
  return owner === undefined ? undefined : { manager: owner.manager ?? '', time: owner.time };
}

/** " (requested by alice at 2026-…)" for Event messages; '' when unknown. */
export function requestedByText(requester: Requester | undefined): string {
  if (requester === undefined) return '';
  return ` (requested by ${requester.manager}${requester.time === undefined ? '' : ` at ${requester.time}`})`;
}

/** Who set the annotation of this request, or undefined (no request: the schedule or the gate). */
export function requesterOfRequest(
  metadata: ObjectMeta,
  request: Request | undefined,
): Requester | undefined {
  return request === undefined ? undefined : requesterOf(metadata, Annotations[request.kind]);
}

/** The Secret annotations that keep who asked with the operation (null removes a stale one). */
export function requesterAnnotations(requester: Requester | undefined): Record<string, string | null> {
  return {
    [SecretAnnotations.requestedBy]: requester?.manager ?? null,
    [SecretAnnotations.requestedAt]: requester?.time ?? null,
  };
}
