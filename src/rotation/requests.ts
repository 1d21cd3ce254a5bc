/**
 * User requests arrive as annotation values on the JwtRotation. A value acts once:
 * it is handled when status records it, or when the Secret shows the operation it
 * caused (so a crash between the Secret write and the status write cannot act twice).
 */
import { Annotations, SecretAnnotations } from '../api/constants.ts';
import type { HandledRequests, ObjectMeta } from '../api/types.ts';
import type { SecretView } from './model.ts';

export type RequestKind = keyof typeof Annotations;

export interface Request {
  kind: RequestKind;
  value: string;
}

/**
 * What a request value may be: 1-128 characters, letters and digits first and last, and `.`, `_`,
 * `:`, `+`, `@`, `-` between (a timestamp, a ticket id, the kubectl plugin's values). Anything else
 * (a megabyte, a newline, a forged log line) is never acted on: it would be copied into the Secret's
 * annotations, status and Events. The chart's ValidatingAdmissionPolicy refuses it at admission.
 */
export const REQUEST_VALUE = /^[A-Za-z0-9]([A-Za-z0-9._:+@-]{0,126}[A-Za-z0-9])?$/;

/** The request annotations whose value is set but is not a valid request value. */
export function invalidRequestAnnotations(metadata: ObjectMeta): string[] {
  return (Object.keys(Annotations) as RequestKind[])
    .map((kind) => Annotations[kind])
    .filter((annotation) => {
      const value = metadata.annotations?.[annotation];
      return value !== undefined && value !== '' && !REQUEST_VALUE.test(value);
    });
}

/** The request of this kind that has not been acted on yet, if any. */
export function pendingRequest(
  kind: RequestKind,
  metadata: ObjectMeta,
  handled: HandledRequests | undefined,
  secret: SecretView | undefined,
): Request | undefined {
  const value = metadata.annotations?.[Annotations[kind]];
  if (value === undefined || value === '' || !REQUEST_VALUE.test(value)) return undefined;
  if (handled?.[kind] === value) return undefined;
  if (secret?.annotations[SecretAnnotations.request] === requestTag({ kind, value })) return undefined;
  return { kind, value };
}

/** How a request is recorded on the Secret it changed. */
export function requestTag(request: Request): string {
  return `${request.kind}=${request.value}`;
}
