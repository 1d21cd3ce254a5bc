/**
 * Idle: no rotation in flight. The first of these that applies decides the pass: a request
 * (emergency, rollback, rotate), keeping the Secret's values in line with the spec, rolling targets
 * onto changed TTLs, ending the original key's retention, the schedule; else wait.
 */
import { SecretAnnotations, SecretKeys } from '../../api/constants.ts';
import { rollTargets, updateSecret } from '../actions.ts';
import { unlistedConsumersBlock } from '../consumers.ts';
import { WATCHED_WAIT_MS } from '../targets.ts';
import type { Context } from '../context.ts';
import { normal, warning } from '../events.ts';
import { NO_ORIGINAL_KEY, startRollback } from '../operations/start-rollback.ts';
import type { PhaseResult, StatusDraft } from '../phase-result.ts';
import { startChecked } from '../preflight.ts';
import { EventReasons } from '../reasons.ts';
import { emergencyRequested, firstThatApplies, type Policy } from '../request-order.ts';
import { inWindow, nextRotationAt, nextWindowAt, retentionEnd } from '../schedule.ts';
import { parseInstant, toRfc3339 } from '../time.ts';

/** A rotate request that waits for a maintenance window (spec.schedule.requestsWaitForWindow). */
function requestWaitsForWindow(ctx: Context): boolean {
  return ctx.spec.requestsWaitForWindow && ctx.pending('rotate') !== undefined && !inWindow(ctx);
}

/** When the next rotation really starts: the schedule's, or a waiting request's window, if earlier. */
function nextStart(ctx: Context): number | undefined {
  const scheduled = nextRotationAt(ctx);
  if (!requestWaitsForWindow(ctx)) return scheduled;
  return Math.min(scheduled ?? Number.POSITIVE_INFINITY, nextWindowAt(ctx));
}

function idleStatus(ctx: Context): StatusDraft {
  const next = nextStart(ctx);
  return { nextRotationAt: next === undefined ? undefined : toRfc3339(next) };
}

function idleResult(ctx: Context): PhaseResult {
  return { phase: 'Idle', status: idleStatus(ctx) };
}

/** Back to the original key kept in the backup, if there is one and it is not already in use. */
const rollbackRequested: Policy = (ctx) => {
  const request = ctx.pending('rollback');
  if (!request) return undefined;
  const original = ctx.input.backup?.originalFingerprint;
  if (original !== undefined && original !== ctx.fp.JWT_SECRET) {
    return startRollback(ctx, {
      midRotation: false,
      request,
      trigger: 'Rollback',
      reason: 'RollbackRequested',
    });
  }
  return {
    ...idleResult(ctx),
    handled: [request],
    events: [
      original === undefined
        ? warning(EventReasons.RollbackImpossible, NO_ORIGINAL_KEY)
        : warning(
            EventReasons.NothingToRollBack,
            `Rollback requested, but the original key ${original} is already in use`,
          ),
    ],
  };
};

/** A requested rotation starts at once, or in the next window with spec.schedule.requestsWaitForWindow. */
const rotateRequested: Policy = (ctx) => {
  const request = ctx.pending('rotate');
  if (request === undefined || requestWaitsForWindow(ctx)) return undefined;
  return startChecked(ctx, 'Manual', request, idleStatus(ctx));
};

/** The Secret's non-key values and bookkeeping follow the spec. */
const secretValuesOutOfDate: Policy = (ctx) => {
  const { secret, spec, now } = ctx;
  const set: Record<string, { literal: string }> = {};
  if (secret.expiration !== spec.tokenTTL) set[SecretKeys.expiration] = { literal: spec.tokenTTL };
  if (secret.refreshExpiration !== spec.refreshTokenTTL) {
    set[SecretKeys.refreshExpiration] = { literal: spec.refreshTokenTTL };
  }
  const annotations: Record<string, string> = {};
  if (secret.annotations[SecretAnnotations.managedBy] === undefined) {
    annotations[SecretAnnotations.managedBy] = ctx.name;
  }
  if (parseInstant(secret.annotations[SecretAnnotations.keyCreatedAt]) === undefined) {
    annotations[SecretAnnotations.keyCreatedAt] = toRfc3339(now);
  }
  if (Object.keys(set).length === 0 && Object.keys(annotations).length === 0) return undefined;
  const updated = Object.keys(set);
  return {
    ...idleResult(ctx),
    actions: [updateSecret(ctx, set, [], annotations)],
    events:
      updated.length > 0
        ? [normal(EventReasons.SecretUpdated, `Set ${updated.join(', ')} in Secret ${spec.secretName}`)]
        : [],
    requeueAfterMs: 0,
  };
};

/**
 * A TTL change gives a new revision: restart the targets the operator rolled before, so they
 * read it. Targets never rolled are left alone until the next rotation.
 */
const targetsOnOldRevision: Policy = (ctx) => {
  const stale = ctx.targets.filter((t) => t.found && t.revision !== undefined && t.revision !== ctx.revision);
  if (stale.length === 0) return undefined;
  return { ...idleResult(ctx), actions: [rollTargets(ctx, stale)], requeueAfterMs: ctx.spec.pollIntervalMs };
};

const retentionEnded: Policy = (ctx) => {
  const backup = ctx.input.backup;
  const until = backup === undefined ? undefined : retentionEnd(ctx);
  if (backup === undefined || until === undefined || ctx.now < until) return undefined;
  return {
    ...idleResult(ctx),
    actions: [{ type: 'DeleteBackup' }],
    status: { originalKeyFingerprint: undefined, originalKeyRetainedUntil: undefined },
    events: [
      normal(
        EventReasons.OriginalKeyDeleted,
        `The retention of original key ${backup.originalFingerprint ?? ''} ended`,
      ),
    ],
    requeueAfterMs: 0,
  };
};

/** The schedule made a rotation due and a maintenance window (if any) is open. */
const rotationDue: Policy = (ctx) => {
  const next = nextRotationAt(ctx);
  return next !== undefined && ctx.now >= next
    ? startChecked(ctx, 'Scheduled', undefined, idleStatus(ctx))
    : undefined;
};

/** With spec.unlistedConsumers Block, no rotation starts while the Secret has unlisted consumers. */
const blockedByUnlistedConsumers: Policy = (ctx) => {
  const blocked = unlistedConsumersBlock(ctx, 'Idle', WATCHED_WAIT_MS);
  return blocked && { ...blocked, status: idleStatus(ctx) };
};

/** In order: the first that applies decides the pass. */
const IDLE_POLICIES: readonly Policy[] = [
  emergencyRequested,
  rollbackRequested,
  // Before a request: the checklist wants the Secret's TTL values to follow the spec.
  secretValuesOutOfDate,
  blockedByUnlistedConsumers,
  rotateRequested,
  targetsOnOldRevision,
  // Before the retention: a due rotation's checklist saves the current key as the rollback copy,
  // which replaces the one kept, and that copy must not be deleted before the rotation starts.
  rotationDue,
  retentionEnded,
];

export function idle(ctx: Context): PhaseResult {
  const acted = firstThatApplies(ctx, IDLE_POLICIES);
  if (acted) return acted;
  // Nothing to do: wake for the schedule, or for the end of the retention (only while a backup exists).
  const retainedUntil = ctx.input.backup === undefined ? undefined : retentionEnd(ctx);
  // A cron time not yet computed for this schedule base: the shell computes it on the next pass.
  const next = nextStart(ctx) ?? (ctx.spec.cron === undefined ? Number.POSITIVE_INFINITY : ctx.now + 1000);
  const wake = Math.min(next, retainedUntil ?? Number.POSITIVE_INFINITY) - ctx.now;
  return { ...idleResult(ctx), requeueAfterMs: wake };
}
