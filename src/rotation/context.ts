/**
 * What every phase handler reads: the resolved spec, the Secret as the core sees it, the previous
 * status, and the requests still to act on. Built once per pass by decide().
 */
import { SecretAnnotations } from '../api/constants.ts';
import { TRIGGERS, isOneOf, type JwtRotationStatus, type Trigger } from '../api/types.ts';
import type { DecideInput, KeySlot, SecretView, TargetView } from './model.ts';
import { pendingRequest, type Request, type RequestKind } from './requests.ts';
import { secretRevision } from './revision.ts';
import type { ResolvedSpec } from './spec.ts';

export interface Context {
  now: number;
  spec: ResolvedSpec;
  name: string;
  generation: number;
  prev: JwtRotationStatus;
  input: DecideInput;
  secret: SecretView;
  fp: Partial<Record<KeySlot, string>>;
  /** The last operation written on the Secret (annotation), e.g. Rotate or Complete. */
  operation: string | undefined;
  /** The operation in flight: when it started (annotation). */
  operationId: string | undefined;
  trigger: Trigger | undefined;
  /**
   * The workloads this rotation rolls and waits for: spec.targets, plus the unlisted consumers of
   * the Secret when spec.unlistedConsumers is Roll.
   */
  targets: TargetView[];
  /** The pod-template revision the targets must run for this state of the Secret. */
  revision: string;
  /** The request of this kind still to act on, if any. */
  pending: (kind: RequestKind) => Request | undefined;
  /** Requests already present when the operator first saw the JwtRotation (see ./first-sight.ts). */
  firstSight: Request[];
}

export function buildContext(
  input: DecideInput,
  spec: ResolvedSpec,
  secret: SecretView,
  firstSight: Request[],
): Context {
  const metadata = input.resource.metadata;
  const prev = input.resource.status ?? {};
  const trigger = secret.annotations[SecretAnnotations.trigger];
  return {
    now: input.now,
    spec,
    name: metadata.name ?? '',
    generation: metadata.generation ?? 0,
    prev,
    input,
    secret,
    fp: secret.fingerprints,
    operation: secret.annotations[SecretAnnotations.operation],
    operationId: secret.annotations[SecretAnnotations.operationId],
    trigger: isOneOf(TRIGGERS, trigger) ? trigger : undefined,
    targets: spec.unlistedConsumers === 'Roll' ? [...input.targets, ...input.consumers] : input.targets,
    revision: secretRevision(secret),
    firstSight,
    // Requests seen on first sight are recorded, not acted on: nothing is pending on that pass.
    pending: (kind) =>
      firstSight.length > 0 ? undefined : pendingRequest(kind, metadata, prev.handledRequests, secret),
  };
}
