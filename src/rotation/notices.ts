/**
 * The runbook's communication plan: which notice is due, from the status a pass decided and `now`.
 *
 * A notice is due from the state (level-triggered), not from a transition: T-7 and T-1 while Idle
 * before a scheduled rotation, Started/Emergency/RollbackStarted/Paused while that operation is in
 * flight, Failed while stalled, Completed/RolledBack in the pass that records the outcome. The fact
 * "notice X for rotation Y sent" lives in status.notices: a notice is sent only when the pass that
 * records it there wins its status write (guarded by the resourceVersion it read), so a restart, a
 * second replica or a retried pass finds it recorded and sends nothing. The shell sends after the
 * status write: at most once (a crash between the write and the send loses that notice).
 *
 * Where the pass already writes the Event that says the same (RotationStarted, RotationCompleted,
 * EmergencyRotation, RollbackStarted, RolledBack, RotationPaused, a Stalled reason), that Event is
 * the notice; otherwise (T-7, T-1, or an Event lost to a crash) the notice adds its own.
 */
import { SecretAnnotations } from '../api/constants.ts';
import type { JwtRotationStatus, NoticeKind, NoticeRecord } from '../api/types.ts';
import type { Context } from './context.ts';
import { dropUndefined } from './format.ts';
import type { EventSpec, Notice } from './model.ts';
import type { Stall } from './phase-result.ts';
import { EventReasons } from './reasons.ts';
import { parseInstant, toRfc3339 } from './time.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The runbook's reminders before a scheduled rotation, shortest lead first. */
export const REMINDERS: readonly { kind: 'Upcoming' | 'FinalReminder'; leadMs: number }[] = [
  { kind: 'FinalReminder', leadMs: DAY_MS },
  { kind: 'Upcoming', leadMs: 7 * DAY_MS },
];

/** How many sent notices status.notices keeps (the CRD's maxItems). */
export const NOTICES_KEPT = 20;

/** A notice due now: what it is about, and the Event that carries it. */
export interface DueNotice {
  kind: NoticeKind;
  rotation: string;
  /** Failed only: the Stalled reason. */
  stallReason?: string | undefined;
  event: EventSpec;
}

/**
 * The reminder due before a scheduled rotation at `next`: the one with the shortest lead whose time
 * has come (a T-7 not sent by then is skipped for the T-1). A reminder whose time falls before the key
 * was made is never due (an interval shorter than 7 days has no T-7).
 */
export function dueReminder(
  now: number,
  next: number,
  keyCreatedAt: number | undefined,
): (typeof REMINDERS)[number] | undefined {
  if (now >= next) return undefined;
  for (const reminder of REMINDERS) {
    const at = next - reminder.leadMs;
    if (now >= at) return keyCreatedAt === undefined || at >= keyCreatedAt ? reminder : undefined;
  }
  return undefined;
}

/** When the next reminder before `next` falls due, if one is still ahead. */
export function nextReminderAt(
  now: number,
  next: number,
  keyCreatedAt: number | undefined,
): number | undefined {
  const ahead = REMINDERS.map((r) => next - r.leadMs).filter(
    (at) => at > now && (keyCreatedAt === undefined || at >= keyCreatedAt),
  );
  return ahead.length === 0 ? undefined : Math.min(...ahead);
}

/** Every notice due for this state (sent or not). */
export function dueNotices(
  ctx: Context,
  status: JwtRotationStatus,
  stalled: Stall | undefined,
  events: readonly EventSpec[],
): DueNotice[] {
  const { now, spec } = ctx;
  const secretName = spec.secretName;
  const phase = status.phase ?? 'Idle';
  const op = status.rotationStartedAt;
  const current = status.currentKeyFingerprint ?? '';
  const due: DueNotice[] = [];
  const add = (kind: NoticeKind, rotation: string, fallback: EventSpec, stallReason?: string): void => {
    // The Event this pass writes anyway is the notice; else the notice brings its own.
    const existing = events.find((e) => e.reason === fallback.reason);
    due.push({ kind, rotation, stallReason, event: existing ?? fallback });
  };

  if (phase === 'Idle' && stalled === undefined) {
    const next = parseInstant(status.nextRotationAt);
    const created = parseInstant(ctx.secret.annotations[SecretAnnotations.keyCreatedAt]);
    const reminder = next === undefined ? undefined : dueReminder(now, next, created);
    if (next !== undefined && reminder !== undefined) {
      const at = toRfc3339(next);
      add(
        reminder.kind,
        at,
        reminder.kind === 'Upcoming'
          ? {
              type: 'Normal',
              reason: EventReasons.RotationUpcoming,
              message: `Scheduled rotation of Secret ${secretName} in 7 days, at ${at}: key ${current} will be replaced (T-7 notice)`,
            }
          : {
              type: 'Normal',
              reason: EventReasons.RotationFinalReminder,
              message: `Final reminder: the scheduled rotation of Secret ${secretName} starts at ${at}, in 1 day; key ${current} will be replaced (T-1 notice)`,
            },
      );
    }
  }

  if (op !== undefined && phase !== 'Idle' && phase !== 'Failed') {
    if (phase === 'RollingBack') {
      add('RollbackStarted', op, {
        type: 'Warning',
        reason: EventReasons.RollbackStarted,
        message: `Rollback of Secret ${secretName} in progress since ${op}: withdrawing key ${status.newKeyFingerprint ?? ''}`,
      });
    } else if (status.trigger === 'Emergency') {
      add('Emergency', op, {
        type: 'Warning',
        reason: EventReasons.EmergencyRotation,
        message: `Emergency rotation of Secret ${secretName} since ${op}: the compromised key was replaced by key ${current}`,
      });
    } else {
      add('Started', op, {
        type: 'Normal',
        reason: EventReasons.RotationStarted,
        message: `${status.trigger ?? 'A'} rotation of Secret ${secretName} in progress since ${op}: current key ${current}, new key ${status.newKeyFingerprint ?? ''}`,
      });
    }
    if (phase === 'Paused') {
      add('Paused', op, {
        type: 'Warning',
        reason: EventReasons.RotationPaused,
        message: `Rotation of Secret ${secretName} paused: ${stalled?.message ?? 'waiting for a human'}`,
      });
    }
  }

  if (stalled !== undefined && phase !== 'Paused') {
    add(
      'Failed',
      op ?? 'none',
      { type: 'Warning', reason: stalled.reason, message: stalled.message },
      stalled.reason,
    );
  }

  const last = status.lastRotation;
  if (
    last?.startedAt !== undefined &&
    last.finishedAt !== ctx.prev.lastRotation?.finishedAt &&
    (last.outcome === 'Completed' || last.outcome === 'RolledBack')
  ) {
    add(
      last.outcome,
      last.startedAt,
      last.outcome === 'Completed'
        ? {
            type: 'Normal',
            reason: EventReasons.RotationCompleted,
            message: `Rotation of Secret ${secretName} completed: JWT_SECRET is key ${last.newKeyFingerprint ?? ''}`,
          }
        : {
            type: 'Warning',
            reason: EventReasons.RolledBack,
            message: `Rolled back: JWT_SECRET is the original key ${last.newKeyFingerprint ?? ''} again`,
          },
    );
  }
  return due;
}

function sameNotice(record: NoticeRecord, due: DueNotice): boolean {
  return record.notice === due.kind && record.rotation === due.rotation && record.reason === due.stallReason;
}

/**
 * The notices to send on this pass (due and not yet in status.notices), the Events they add, and
 * the new status.notices.
 */
export function pendingNotices(
  ctx: Context,
  status: JwtRotationStatus,
  stalled: Stall | undefined,
  events: readonly EventSpec[],
): { notices: Notice[]; events: EventSpec[]; records: NoticeRecord[] | undefined } {
  const sent = ctx.prev.notices ?? [];
  const fresh = dueNotices(ctx, status, stalled, events).filter(
    (due) => !sent.some((record) => sameNotice(record, due)),
  );
  const at = toRfc3339(ctx.now);
  const added = fresh.map((due) =>
    dropUndefined<NoticeRecord>({
      notice: due.kind,
      rotation: due.rotation,
      reason: due.stallReason,
      sentAt: at,
    }),
  );
  const records = [...added, ...sent].slice(0, NOTICES_KEPT);
  return {
    notices: fresh.map((due) =>
      dropUndefined<Notice>({
        kind: due.kind,
        rotation: due.rotation,
        type: due.event.type,
        reason: due.event.reason,
        message: due.event.message,
        at,
        trigger: status.trigger ?? status.lastRotation?.trigger,
        fingerprints: dropUndefined<Notice['fingerprints']>({
          current: status.currentKeyFingerprint,
          new: status.newKeyFingerprint,
          original: status.originalKeyFingerprint,
        }),
      }),
    ),
    events: fresh.filter((due) => !events.includes(due.event)).map((due) => due.event),
    records: records.length === 0 ? undefined : records,
  };
}
