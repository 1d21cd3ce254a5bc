/**
 * The one exponential backoff: the work queue's retries, the watches' restarts, the webhook
 * deliveries and the wait for the CRD all double their wait after each failure up to a ceiling.
 * A well-kept library (exponential-backoff, p-retry) wraps a retried call, but the queue and the
 * watches schedule their retries on timers of their own, so what they share is the delay.
 */

/** The first wait and the longest one, in milliseconds. */
export interface Backoff {
  baseMs: number;
  maxMs: number;
}

/** Past this many doublings every wait is the ceiling; it keeps 2 ** n finite. */
const MAX_DOUBLINGS = 30;

/**
 * The wait before the next try after `failures` failures in a row (1 for the first):
 * baseMs, 2 × baseMs, 4 × baseMs, ... never more than maxMs.
 */
export function backoffDelay(failures: number, { baseMs, maxMs }: Backoff): number {
  const doublings = Math.min(Math.max(0, failures - 1), MAX_DOUBLINGS);
  return Math.min(maxMs, baseMs * 2 ** doublings);
}
