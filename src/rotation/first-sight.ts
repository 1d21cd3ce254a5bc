/**
 * Request values already on a JwtRotation the first time the operator writes its status (a new
 * object, or one re-created or restored from git) are recorded, not acted on: only a value set
 * while the operator watches is a request. Otherwise re-creating a JwtRotation would replay the
 * last rollback or emergency rotation kept in its manifest.
 */
import type { HandledRequests, JwtRotationStatus } from '../api/types.ts';
import { normal } from './events.ts';
import type { DecideInput, EventSpec } from './model.ts';
import { EventReasons } from './reasons.ts';
import { pendingRequest, requestTag, type Request } from './requests.ts';

export function firstSightRequests(input: DecideInput): Request[] {
  if (input.resource.status?.observedGeneration !== undefined) return [];
  const kinds = ['rotate', 'rollback', 'emergencyRotate'] as const;
  return kinds
    .map((kind) => pendingRequest(kind, input.resource.metadata, undefined, undefined))
    .filter((r): r is Request => r !== undefined);
}

export function recordFirstSight(requests: readonly Request[]): {
  handled: HandledRequests;
  events: EventSpec[];
} {
  const handled: HandledRequests = {};
  for (const r of requests) handled[r.kind] = r.value;
  const events =
    requests.length === 0
      ? []
      : [
          normal(
            EventReasons.RequestsRecorded,
            `Requests present when the operator first saw this JwtRotation are recorded, not acted on: ` +
              `${requests.map((r) => requestTag(r)).join(', ')}. Set a new value to act.`,
          ),
        ];
  return { handled, events };
}

/** The previous status with first-sight requests recorded, for the decisions made without a Context. */
export function withFirstSight(input: DecideInput): { prev: JwtRotationStatus; events: EventSpec[] } {
  const previous = input.resource.status ?? {};
  const seen = recordFirstSight(firstSightRequests(input));
  if (seen.events.length === 0) return { prev: previous, events: [] };
  return {
    prev: { ...previous, handledRequests: { ...previous.handledRequests, ...seen.handled } },
    events: seen.events,
  };
}
