/**
 * The JwtRotation API types. Everything shaped by the CRD is generated (./generated.ts, from
 * crds/jwtrotation.io_jwtrotations.yaml); this file adds what the schema does not name.
 */

import type { JwtRotation, ObjectMeta } from './generated.ts';

export * from './generated.ts';

/** A list of JwtRotations, as the API server returns it (the kubectl plugin lists them). */
export interface JwtRotationList {
  apiVersion: string;
  kind: string;
  metadata: Pick<ObjectMeta, 'resourceVersion'> & { continue?: string };
  items: JwtRotation[];
}

/** Condition types the operator sets: kstatus's three, the metrics gate's, the pre-rotation checklist's and the notifications'. */
export type ConditionType =
  | 'Ready'
  | 'Reconciling'
  | 'Stalled'
  | 'MetricsAvailable'
  | 'PreflightPassed'
  | 'NotificationsDelivered'
  | 'IssuerCurrent'
  | 'MembersReady';

/** True when `value` is one of `values`: narrows a string read from outside to an enum of the API. */
export function isOneOf<const T extends string>(values: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (values as readonly string[]).includes(value);
}
