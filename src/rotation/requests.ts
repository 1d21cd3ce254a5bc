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

/** The request of this kind that has not been acted on yet, if any. */
export function pendingRequest(
  kind: RequestKind,
  metadata: ObjectMeta,
  handled: HandledRequests | undefined,
  secret: SecretView | undefined,
): Request | undefined {
  const value = metadata.annotations?.[Annotations[kind]];
  if (value === undefined || value === '') return undefined;
  if (handled?.[kind] === value) return undefined;
  if (secret?.annotations[SecretAnnotations.request] === requestTag({ kind, value })) return undefined;
  return { kind, value };
}

/** How a request is recorded on the Secret it changed. */
export function requestTag(request: Request): string {
  return `${request.kind}=${request.value}`;
}
