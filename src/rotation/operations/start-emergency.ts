import { SecretAnnotations, SecretKeys } from '../../api/constants.ts';
import { ROTATION_KEYS, updateSecret } from '../actions.ts';
import { requestedByText, requesterAnnotations, requesterOfRequest } from '../audit.ts';
import type { Context } from '../context.ts';
import { warning } from '../events.ts';
import type { Action } from '../model.ts';
import type { PhaseResult } from '../phase-result.ts';
import { skippedChecklist } from '../preflight.ts';
import { EventReasons } from '../reasons.ts';
import { requestTag, type Request } from '../requests.ts';
import { newOperationId } from '../time.ts';
import { rollAfterSecretWrite, rolledAfterSecretWrite } from './roll-with-write.ts';

/**
 * The runbook's emergency procedure: a new key at once, no dual-key phase. The replaced key is
 * compromised, so it is not kept for rollback: any backup is deleted first.
 */
export function startEmergency(ctx: Context, request: Request): PhaseResult {
  const { now, spec, fp } = ctx;
  const skipped = skippedChecklist();
  const id = newOperationId(now, [ctx.operationId, ctx.prev.lastRotation?.startedAt]);
  const requester = requesterOfRequest(ctx.input.resource.metadata, request, ctx.input.requesterIdentity);
  const compromised = fp.JWT_SECRET ?? '(none)';
  const actions: Action[] = ctx.input.backup === undefined ? [] : [{ type: 'DeleteBackup' }];
  actions.push(
    updateSecret(ctx, { [SecretKeys.secret]: { generate: spec.secretLength } }, ROTATION_KEYS, {
      [SecretAnnotations.operation]: 'Emergency',
      [SecretAnnotations.operationId]: id,
      [SecretAnnotations.trigger]: 'Emergency',
      [SecretAnnotations.request]: requestTag(request),
      [SecretAnnotations.previousKey]: fp.JWT_SECRET ?? null,
      [SecretAnnotations.keyCreatedAt]: id,
      [SecretAnnotations.managedBy]: ctx.name,
      ...requesterAnnotations(requester),
    }),
    ...rollAfterSecretWrite(ctx),
  );
  return {
    phase: 'Completing',
    handled: [request],
    actions,
    status: {
      trigger: 'Emergency',
      rotationStartedAt: id,
      originalKeyFingerprint: undefined,
      originalKeyRetainedUntil: undefined,
      rotationDate: undefined,
      monitoringStartedAt: undefined,
      nextRotationAt: undefined,
      gate: undefined,
      preflight: skipped.preflight,
    },
    events: [
      skipped.event,
      warning(
        EventReasons.EmergencyRotation,
        `Emergency rotation of Secret ${spec.secretName}: key ${fp.JWT_SECRET ?? '(none)'} replaced at once; ` +
          'tokens signed with it are no longer accepted' +
          (spec.algorithm.startsWith('HS') ? '' : ' (its public key leaves the JWKS)') +
          ', and it is not kept for rollback' +
          requestedByText(requester),
      ),
      // The runbook's emergency steps the operator cannot do itself, with the audit entry.
      warning(
        EventReasons.CompromisedKey,
        `Emergency rotation at ${id}${requestedByText(requester)}: key ${compromised} is compromised. ` +
          `Block tokens signed with key ${compromised} at the WAF or gateway, and audit recent token usage`,
      ),
      ...rolledAfterSecretWrite(ctx, 'to read the new key alone'),
    ],
    progress: 'Writing the new key',
    requeueAfterMs: 0,
  };
}
