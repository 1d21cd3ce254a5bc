/** When the next rotation is due, when it may really start, and until when the original key is kept. */
import { SecretAnnotations } from '../api/constants.ts';
import type { JwtRotationStatus } from '../api/types.ts';
import type { Context } from './context.ts';
import type { SecretView } from './model.ts';
import { spreadOffsetMs } from './spread.ts';
import { parseInstant } from './time.ts';
import { openWindow, whenAllowed, type WindowTime } from './windows.ts';

/**
 * The instant the schedule counts from: when the key in use was made (or adopted); after a
 * rollback or a failed rotation, when that ended, if later. The shell computes the next cron time
 * after this instant (DecideInput.cron), since cron expressions are parsed outside the core.
 */
export function scheduleBase(
  secret: Pick<SecretView, 'annotations'>,
  status: JwtRotationStatus | undefined,
  now: number,
): number {
  const created = parseInstant(secret.annotations[SecretAnnotations.keyCreatedAt]) ?? now;
  const last = status?.lastRotation;
  const lastFinished = parseInstant(last?.finishedAt);
  return last?.outcome !== 'Completed' && lastFinished !== undefined
    ? Math.max(created, lastFinished)
    : created;
}

/**
 * When the schedule makes the next rotation due, before maintenance windows: the base plus
 * schedule.interval less this object's spread offset (./spread.ts; so a key never outlives the
 * interval), or the next cron time after the base plus the offset. Undefined when a cron time is
 * not known for this base (the shell computed it for another one, e.g. right after a rotation
 * finished).
 */
export function rotationDueAt(ctx: Context): number | undefined {
  const base = scheduleBase(ctx.secret, ctx.prev, ctx.now);
  const offset = spreadOffsetMs(ctx);
  if (ctx.spec.cron === undefined) return base + ctx.spec.intervalMs - offset;
  const cron = ctx.input.cron;
  return cron?.after === base && cron.error === undefined && cron.next !== undefined
    ? cron.next + offset
    : undefined;
}

/** When the next scheduled rotation really starts: when it is due, moved into a maintenance window. */
export function nextRotationAt(ctx: Context): number | undefined {
  const due = rotationDueAt(ctx);
  return due === undefined ? undefined : whenAllowed(ctx.spec.maintenanceWindows, due, ctx.now);
}

/** Whether a maintenance window is open now (always, when none is configured). */
export function inWindow(ctx: Context): boolean {
  return (
    ctx.spec.maintenanceWindows.length === 0 || openWindow(ctx.spec.maintenanceWindows, ctx.now) !== undefined
  );
}

/** The window open now, if windows are configured and one is. */
export function currentWindow(ctx: Context): WindowTime | undefined {
  return openWindow(ctx.spec.maintenanceWindows, ctx.now);
}

/** The first instant from now inside a maintenance window (now when none is configured or one is open). */
export function nextWindowAt(ctx: Context): number {
  return whenAllowed(ctx.spec.maintenanceWindows, ctx.now, ctx.now);
}

/** When the backed-up original key may be deleted, if known. */
export function retentionEnd(ctx: Context): number | undefined {
  const until = parseInstant(ctx.prev.originalKeyRetainedUntil);
  if (until !== undefined) return until;
  const finished = parseInstant(ctx.prev.lastRotation?.finishedAt);
  return finished === undefined ? undefined : finished + ctx.spec.retentionMs;
}
