import { SecretAnnotations, SecretKeys } from '../../api/constants.ts';
import type { Trigger } from '../../api/types.ts';
import { saveOriginal, updateSecret } from '../actions.ts';
import { requestedByText, requesterAnnotations, requesterOfRequest } from '../audit.ts';
import type { Context } from '../context.ts';
import { normal } from '../events.ts';
import type { PhaseResult } from '../phase-result.ts';
import { EventReasons } from '../reasons.ts';
import { requestTag, type Request } from '../requests.ts';
import { NOT_SCHEDULED } from '../revision.ts';
import { newOperationId } from '../time.ts';
import { rollAfterSecretWrite, rolledAfterSecretWrite } from './roll-with-write.ts';

/**
 * Runbook phase 1: keep the original in the backup Secret, then write the dual-key Secret
 * (JWT_SECRET_CURRENT = the key in use, JWT_SECRET_NEW = a new key, JWT_SECRET_ROTATION_DATE).
 */
export function startRotation(ctx: Context, trigger: Trigger, request: Request | undefined): PhaseResult {
  const { now, spec, fp } = ctx;
  const id = newOperationId(now, [ctx.operationId, ctx.prev.lastRotation?.startedAt]);
  const current = fp.JWT_SECRET ?? '';
  const requester = requesterOfRequest(ctx.input.resource.metadata, request, ctx.input.requesterIdentity);
  return {
    phase: 'DualKey',
    handled: request ? [request] : [],
    actions: [
      saveOriginal(ctx, current),
      updateSecret(
        ctx,
        {
          [SecretKeys.current]: { copy: 'JWT_SECRET' },
          [SecretKeys.new]: { generate: spec.secretLength },
          [SecretKeys.rotationDate]: { literal: NOT_SCHEDULED },
        },
        [],
        {
          [SecretAnnotations.operation]: 'Rotate',
          [SecretAnnotations.operationId]: id,
          [SecretAnnotations.trigger]: trigger,
          [SecretAnnotations.request]: request ? requestTag(request) : null,
          [SecretAnnotations.previousKey]: current,
          [SecretAnnotations.managedBy]: ctx.name,
          ...requesterAnnotations(requester),
        },
      ),
      ...rollAfterSecretWrite(ctx),
    ],
    status: {
      trigger,
      rotationStartedAt: id,
      rotationDate: undefined,
      oldKeyTokensValidUntil: undefined,
      nextRotationAt: undefined,
      monitoringStartedAt: undefined,
      gate: undefined,
    },
    events: [
      normal(
        EventReasons.RotationStarted,
        `${trigger} rotation of Secret ${spec.secretName} started: current key ${current}; the new key is ` +
          'published for verification only; signing with it starts once every pod of every target verifies it' +
          requestedByText(requester),
      ),
      ...rolledAfterSecretWrite(ctx, 'to verify the new key'),
    ],
    progress: 'Writing the dual-key Secret',
    requeueAfterMs: 0,
  };
}
