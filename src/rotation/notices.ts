/**
 * The runbook's communication plan: which notice is due, from the status a pass decided and `now`;
 * and status.notices, the outbox that makes their delivery at-least-once.
 *
 * A notice is due from the state (level-triggered), not from a transition: T-7 and T-1 while Idle
 * before a scheduled rotation, Started/Emergency/RollbackStarted/Paused while that operation is in
 * flight, Failed while stalled, Completed/RolledBack in the pass that records the outcome. A notice
 * is decided once: the pass that decides it records it in status.notices (guarded by the
 * resourceVersion it read), so a restart, a second replica or a retried pass finds it recorded and
 * does not decide it again.
 *
 * With spec.notifications, the record is Pending, and holds the content to send, until the notifier
 * reports it settled (delivered to every receiver, or given up on after its retries); the shell hands
 * every Pending record of the status it wrote to the notifier, on every pass. An operator stopped
 * between the status write and the delivery leaves the record Pending, and whichever operator looks
 * next delivers it: at least once. A delivery repeated that way carries the same webhook id (made from
 * the JwtRotation's uid, the notice and its rotation), so a receiver can drop the repeat.
 *
 * Where the pass already writes the Event that says the same (RotationStarted, RotationCompleted,
 * EmergencyRotation, RollbackStarted, RolledBack, RotationPaused, a Stalled reason), that Event is
 * the notice; otherwise (T-7, T-1, or an Event lost to a crash) the notice adds its own.
 */
import { SecretAnnotations } from '../api/constants.ts';
import {
  isOneOf,
  TRIGGERS,
  type JwtRotationStatus,
  type NoticeContent,
  type NoticeKind,
  type NoticeRecord,
  type Requester,
  type RotationRecord,
} from '../api/types.ts';
import type { RequestedBy } from './audit.ts';
import type { Context } from './context.ts';
import { dropUndefined } from './format.ts';
import type { EventSpec, Notice, SettledNotice } from './model.ts';
import type { Stall } from './phase-result.ts';
import { EventReasons } from './reasons.ts';
import { parseInstant, toRfc3339 } from './time.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** The runbook's reminders before a scheduled rotation, shortest lead first. */
export const REMINDERS: readonly { kind: 'Upcoming' | 'FinalReminder'; leadMs: number }[] = [
  { kind: 'FinalReminder', leadMs: DAY_MS },
  { kind: 'Upcoming', leadMs: 7 * DAY_MS },
];

/** How many notices status.notices keeps (the CRD's maxItems). */
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

function sameNotice(
  record: Pick<NoticeRecord, 'notice' | 'rotation' | 'reason'>,
  due: { kind: NoticeKind; rotation: string; stallReason?: string | undefined },
): boolean {
  return record.notice === due.kind && record.rotation === due.rotation && record.reason === due.stallReason;
}

/**
 * A record as an earlier operator version wrote it (sentAt, no state: sent at most once), read as a
 * settled one; and the Pending records brought up to date with what the notifier settled. A Pending
 * record whose receivers were all removed from the spec is given up on.
 */
function settleRecords(
  records: readonly NoticeRecord[],
  settled: readonly SettledNotice[],
  notifying: boolean,
  at: string,
): NoticeRecord[] {
  return records.map((r) => {
    // Written before the outbox: sentAt and no state (it was sent at most once).
    const legacy = r as Partial<NoticeRecord> & { sentAt?: string };
    if (legacy.state === undefined) {
      const upgraded: NoticeRecord & { sentAt?: string } = {
        ...r,
        decidedAt: legacy.decidedAt ?? legacy.sentAt ?? at,
        state: notifying ? 'Delivered' : 'EventOnly',
      };
      delete upgraded.sentAt;
      return upgraded;
    }
    if (r.state !== 'Pending') return r;
    const done = settled.find((n) => sameNotice(r, n));
    if (done === undefined && notifying) return r;
    const closed: NoticeRecord = {
      ...r,
      state: done?.delivered === true ? 'Delivered' : 'Failed',
      settledAt: at,
    };
    delete closed.content;
    return closed;
  });
}

/** Who asked for the operation a finished record describes. */
function requesterOfRecord(record: RotationRecord | undefined): Requester | undefined {
  if (record?.requestedBy === undefined) return undefined;
  return dropUndefined<Requester>({
    username: record.requestedBy,
    groups: record.requestedByGroups,
    verified: record.requestedByVerified ?? false,
  });
}

/** What a due notice sends, kept in its record while it is Pending. */
function contentOf(
  due: DueNotice,
  status: JwtRotationStatus,
  requester: RequestedBy | undefined,
): NoticeContent {
  const outcome = due.kind === 'Completed' || due.kind === 'RolledBack';
  const reminder = due.kind === 'Upcoming' || due.kind === 'FinalReminder';
  const asked = outcome
    ? requesterOfRecord(status.lastRotation)
    : reminder || requester === undefined
      ? undefined
      : dropUndefined<Requester>({
          username: requester.username,
          groups: requester.groups,
          verified: requester.verified,
        });
  return dropUndefined<NoticeContent>({
    severity: due.event.type,
    eventReason: due.event.reason,
    message: due.event.message,
    trigger: status.trigger ?? status.lastRotation?.trigger,
    fingerprints: dropUndefined<NonNullable<NoticeContent['fingerprints']>>({
      current: status.currentKeyFingerprint,
      new: status.newKeyFingerprint,
      original: status.originalKeyFingerprint,
    }),
    requestedBy: asked,
  });
}

/** The notice a Pending record sends (undefined for a record without content). */
export function noticeOf(record: NoticeRecord): Notice | undefined {
  const c = record.content;
  if (c === undefined) return undefined;
  return dropUndefined<Notice>({
    kind: record.notice,
    rotation: record.rotation,
    stallReason: record.reason,
    type: c.severity,
    reason: c.eventReason,
    message: c.message,
    at: record.decidedAt,
    trigger: isOneOf(TRIGGERS, c.trigger) ? c.trigger : undefined,
    fingerprints: { ...c.fingerprints },
    requestedBy: c.requestedBy,
  });
}

/** What the shell hands the notifier after writing this status: every Pending record, oldest first. */
export function deliverable(status: JwtRotationStatus): Notice[] {
  return (status.notices ?? [])
    .filter((r) => r.state === 'Pending')
    .map(noticeOf)
    .filter((n): n is Notice => n !== undefined)
    .reverse();
}

/**
 * The notices first decided on this pass, the Events they add, and the new status.notices: those
 * records (Pending with spec.notifications, else EventOnly), and the earlier ones updated with what
 * the notifier settled.
 */
export function pendingNotices(
  ctx: Context,
  status: JwtRotationStatus,
  stalled: Stall | undefined,
  events: readonly EventSpec[],
  requester: RequestedBy | undefined,
): { notices: Notice[]; events: EventSpec[]; records: NoticeRecord[] | undefined } {
  const at = toRfc3339(ctx.now);
  const notifying = ctx.spec.notifications !== undefined;
  const known = settleRecords(ctx.prev.notices ?? [], ctx.input.delivery?.settled ?? [], notifying, at);
  const fresh = dueNotices(ctx, status, stalled, events).filter(
    (due) => !known.some((record) => sameNotice(record, due)),
  );
  const added = fresh.map((due) =>
    dropUndefined<NoticeRecord>({
      notice: due.kind,
      rotation: due.rotation,
      reason: due.stallReason,
      decidedAt: at,
      state: notifying ? 'Pending' : 'EventOnly',
      content: contentOf(due, status, requester),
    }),
  );
  const notices = added.map(noticeOf).filter((n): n is Notice => n !== undefined);
  // The content is kept only while there is something to deliver.
  const recorded = added.map((r) => (r.state === 'Pending' ? r : { ...r, content: undefined }));
  const records = [...recorded.map((r) => dropUndefined<NoticeRecord>(r)), ...known].slice(0, NOTICES_KEPT);
  return {
    notices,
    events: fresh.filter((due) => !events.includes(due.event)).map((due) => due.event),
    records: records.length === 0 ? undefined : records,
  };
}
