/**
 * Maintenance windows: weekly wall-clock windows in an IANA time zone (spec.schedule.maintenanceWindows).
 *
 * Wall-clock time is turned into instants with the platform's time-zone data (Intl.DateTimeFormat
 * with a timeZone), never with hand-written offsets, so daylight-saving changes follow the tz
 * database Node ships. This is pure computation: `now` still comes from DecideInput.
 *
 * A window opens on each listed day at `start` local time and stays open for `duration` of real
 * time (so a 4h window that opens at 22:00 closes at 02:00 the next day, and a window that spans a
 * daylight-saving change is still 4h long). A start time that does not exist on a day (skipped by a
 * spring-forward change, e.g. 02:30 in Europe/Berlin on 2026-03-29) opens the window at the same
 * wall time after the change (03:30); a start time that happens twice (fall-back) opens it the
 * first time. This is the "compatible" disambiguation of RFC 9557 / Temporal.
 */

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

export interface MaintenanceWindow {
  /** Days of the week the window opens on, 0 = Sunday. Every day when empty. */
  days: number[];
  /** Local start time, minutes after midnight. */
  startMinutes: number;
  durationMs: number;
  timeZone: string;
}

/** A window open now, or the next one. */
export interface WindowTime {
  start: number;
  end: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Pure memoisation of formatters (building one is slow); not state that changes a decision. */
function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether the platform knows this IANA time zone. */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at an instant, in milliseconds (local = UTC + offset). */
export function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const local = Date.UTC(
    parts.year ?? 1970,
    (parts.month ?? 1) - 1,
    parts.day ?? 1,
    parts.hour ?? 0,
    parts.minute ?? 0,
    parts.second ?? 0,
  );
  const whole = instant - (((instant % 1000) + 1000) % 1000);
  return local - whole;
}

/**
 * The instant of a local wall time (given as epoch ms of that wall time read as if it were UTC).
 * Gaps resolve forward by the gap's length, repeated times to their first occurrence.
 */
export function wallTimeToInstant(wall: number, timeZone: string): number {
  const before = zoneOffsetMs(wall - DAY_MS, timeZone);
  const after = zoneOffsetMs(wall + DAY_MS, timeZone);
  const candidates = [wall - before, wall - after].filter((t) => t + zoneOffsetMs(t, timeZone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  // In a gap: read the wall time with the offset in force before the change.
  return wall - before;
}

/** Epoch day (days since 1970-01-01) of the local date at an instant. */
function localDay(instant: number, timeZone: string): number {
  return Math.floor((instant + zoneOffsetMs(instant, timeZone)) / DAY_MS);
}

function opensOn(window: MaintenanceWindow, epochDay: number): boolean {
  // 1970-01-01 was a Thursday (4).
  return window.days.length === 0 || window.days.includes((((epochDay + 4) % 7) + 7) % 7);
}

function startOn(window: MaintenanceWindow, epochDay: number): number {
  return wallTimeToInstant(epochDay * DAY_MS + window.startMinutes * MINUTE_MS, window.timeZone);
}

/** The window open at `at` that closes last, if any. */
export function openWindow(windows: readonly MaintenanceWindow[], at: number): WindowTime | undefined {
  let found: WindowTime | undefined;
  for (const w of windows) {
    const today = localDay(at, w.timeZone);
    const back = Math.ceil(w.durationMs / DAY_MS) + 1;
    for (let day = today - back; day <= today + 1; day++) {
      if (!opensOn(w, day)) continue;
      const start = startOn(w, day);
      const end = start + w.durationMs;
      if (start <= at && at < end && (found === undefined || end > found.end)) found = { start, end };
    }
  }
  return found;
}

/** The first window that opens after `at` (strictly), if any within the next weeks. */
export function nextWindowOpening(windows: readonly MaintenanceWindow[], at: number): WindowTime | undefined {
  let found: WindowTime | undefined;
  for (const w of windows) {
    const today = localDay(at, w.timeZone);
    for (let day = today - 1; day <= today + 8; day++) {
      if (!opensOn(w, day)) continue;
      const start = startOn(w, day);
      if (start > at && (found === undefined || start < found.start)) {
        found = { start, end: start + w.durationMs };
      }
    }
  }
  return found;
}

/**
 * The earliest instant at or after `at` inside a window: `at` itself when a window is open, else
 * the next opening. With no windows, `at`.
 */
export function earliestInWindow(windows: readonly MaintenanceWindow[], at: number): number {
  if (windows.length === 0 || openWindow(windows, at) !== undefined) return at;
  return nextWindowOpening(windows, at)?.start ?? at;
}

/**
 * When something that became due at `due` really happens, seen at `now`: the first window time
 * from `due` on; if that has passed and no window is open now, the next opening after `now`.
 * Stable from pass to pass, so status does not change while nothing happens.
 */
export function whenAllowed(windows: readonly MaintenanceWindow[], due: number, now: number): number {
  if (windows.length === 0) return due;
  const first = earliestInWindow(windows, due);
  if (first >= now || openWindow(windows, now) !== undefined) return first;
  return nextWindowOpening(windows, now)?.start ?? now;
}
