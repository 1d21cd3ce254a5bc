/**
 * The decision core: spec + what the cluster shows + gate readings + now → what to do next.
 *
 * The workload Secret is the source of truth for where a rotation stands: its shape (dual-key or
 * not) and the annotations the operator writes with every change say which phase it is in
 * (./observe-phase.ts), so a crash between any two writes is repaired by the next pass. Status is
 * rebuilt on every pass (./status.ts) and carries only what the cluster cannot show (history,
 * handled requests, gate readings, a pause).
 *
 * Each pass makes at most one change of phase; actions are ordered so that doing them again after
 * a crash is harmless. Each phase lives in ./phases/, the operations that start something in
 * ./operations/, and the order in which requests win in ./request-order.ts.
 */
import { SecretAnnotations, SecretKeys, keySlotName } from '../api/constants.ts';
import { buildContext, type Context } from './context.ts';
import { createSecretDecision, invalidSpecDecision } from './edge-decisions.ts';
import { firstSightRequests } from './first-sight.ts';
import type { DecideInput, Decision, SecretView } from './model.ts';
import { observePhase } from './observe-phase.ts';
import type { PhaseResult } from './phase-result.ts';
import { dualKey } from './phases/dual-key.ts';
import { failed, paused } from './phases/halted.ts';
import { idle } from './phases/idle.ts';
import { monitoring } from './phases/monitoring.ts';
import { rollingOut } from './phases/rolling-out.ts';
import { ConditionReasons } from './reasons.ts';
import { invalidRequestAnnotations } from './requests.ts';
import { resolveSpec } from './spec.ts';
import { toDecision } from './status.ts';

export { RESYNC_MS } from './status.ts';

export function decide(input: DecideInput): Decision {
  const resolved = resolveSpec(input.resource.spec);
  if (!resolved.ok) return invalidSpecDecision(input, resolved.message);
  const spec = resolved.spec;
  if (spec.cron !== undefined && input.cron?.error !== undefined) {
    return invalidSpecDecision(input, `spec.schedule.cron: ${input.cron.error}`);
  }
  if (input.secret === undefined) return createSecretDecision(input, spec);

  const ctx = buildContext(input, spec, input.secret, firstSightRequests(input));
  const owner = input.secret.annotations[SecretAnnotations.managedBy];
  if (owner !== undefined && owner !== ctx.name) {
    return toDecision(ctx, {
      phase: 'Failed',
      stalled: {
        reason: ConditionReasons.SecretManagedElsewhere,
        message: `Secret ${spec.secretName} is managed by JwtRotation ${owner}; one Secret can have one JwtRotation`,
      },
    });
  }
  const type = input.secret.type;
  if (type !== undefined && type !== '' && type !== 'Opaque') {
    return toDecision(ctx, {
      phase: 'Failed',
      stalled: {
        reason: ConditionReasons.SecretTypeNotManaged,
        message: `Secret ${spec.secretName} has type ${JSON.stringify(type.slice(0, 100))}; the operator manages only Opaque Secrets and leaves this one untouched. Point spec.secretName at a Secret of its own`,
      },
    });
  }
  if (owner === undefined && !holdsAKey(input.secret)) {
    const key = keySlotName(spec.algorithm, SecretKeys.secret);
    return toDecision(ctx, {
      phase: 'Failed',
      stalled: {
        reason: ConditionReasons.SecretNotAdoptable,
        message: `Secret ${spec.secretName} holds no ${key} and was not written by this JwtRotation: an existing Secret is adopted only when it already holds a key of this JwtRotation's algorithm. It is left untouched, and so are the workloads that read it, whatever is requested. Point spec.secretName at a Secret of its own (a missing one is created)`,
      },
    });
  }
  const invalid = invalidRequestAnnotations(input.resource.metadata);
  if (invalid.length > 0) {
    // Never echo the value: it may be huge, or built to forge a log line.
    return toDecision(ctx, {
      phase: ctx.prev.phase ?? 'Idle',
      stalled: {
        reason: ConditionReasons.InvalidRequest,
        message: `${invalid.join(', ')}: not a request value (1-128 letters, digits and . _ : + @ -, starting and ending with a letter or digit); nothing is done until it is changed`,
      },
    });
  }
  if (spec.suspend) {
    return toDecision(
      ctx,
      { phase: ctx.prev.phase ?? 'Idle', progress: 'Suspended: no action is taken' },
      true,
    );
  }
  return toDecision(ctx, decidePhase(ctx));
}

/** Whether the Secret holds a key slot of the JwtRotation's algorithm (one key or the dual-key shape). */
function holdsAKey(secret: SecretView): boolean {
  const fp = secret.fingerprints;
  return (
    fp.JWT_SECRET !== undefined || fp.JWT_SECRET_CURRENT !== undefined || fp.JWT_SECRET_NEW !== undefined
  );
}

/** One pass of the phase the Secret shows. */
function decidePhase(ctx: Context): PhaseResult {
  const observed = observePhase(ctx);
  switch (observed.phase) {
    case 'Idle':
      return idle(ctx);
    case 'DualKey':
      return dualKey(ctx);
    case 'Monitoring':
      return monitoring(ctx);
    case 'Completing':
    case 'RollingBack':
      return rollingOut(ctx, observed.phase);
    case 'Paused':
      return paused(ctx);
    case 'Failed':
      return failed(ctx, observed.stalled);
  }
}
