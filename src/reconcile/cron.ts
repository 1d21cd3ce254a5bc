/**
 * spec.schedule.cron, read with cron-parser (a maintained library, time zones through luxon's
 * IANA data). The core decides; this only answers "when does the expression next match after this
 * instant", for DecideInput.cron.
 */
import { CronExpressionParser } from 'cron-parser';
import type { CronObservation } from '../rotation/model.ts';

/** The first time `expression` matches after `after` (strictly), in `timeZone`; or why it cannot be read. */
export function nextCronTime(expression: string, timeZone: string, after: number): CronObservation {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) {
    return {
      after,
      error: `"${expression}" has ${fields.length} fields; a cron expression has five: minute hour day-of-month month day-of-week`,
    };
  }
  try {
    const parsed = CronExpressionParser.parse(fields.join(' '), {
      currentDate: new Date(after),
      tz: timeZone,
    });
    const next = parsed.next().getTime();
    return Number.isFinite(next) ? { after, next } : { after, error: `"${expression}" never matches` };
  } catch (error) {
    return { after, error: `"${expression}" cannot be read: ${(error as Error).message}` };
  }
}
