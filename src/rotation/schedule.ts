/** When the next rotation is due, and until when the original key is kept. */
import { SecretAnnotations } from '../api/constants.ts';
import type { Context } from './context.ts';
import { parseInstant } from './time.ts';

/** The schedule counts from when the key in use was made; after a rollback, from the rollback. */
export function nextRotationAt(ctx: Context): number {
  const created = parseInstant(ctx.secret.annotations[SecretAnnotations.keyCreatedAt]) ?? ctx.now;
  let next = created + ctx.spec.intervalMs;
  const last = ctx.prev.lastRotation;
  const lastFinished = parseInstant(last?.finishedAt);
  if (last?.outcome !== 'Completed' && lastFinished !== undefined) {
    next = Math.max(next, lastFinished + ctx.spec.intervalMs);
  }
  return next;
}

/** When the backed-up original key may be deleted, if known. */
export function retentionEnd(ctx: Context): number | undefined {
  const until = parseInstant(ctx.prev.originalKeyRetainedUntil);
  if (until !== undefined) return until;
  const finished = parseInstant(ctx.prev.lastRotation?.finishedAt);
  return finished === undefined ? undefined : finished + ctx.spec.retentionMs;
}
