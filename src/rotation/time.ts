/**
 * Instants in the core are epoch milliseconds handed in by the caller's clock.
 * Status carries them as RFC 3339 in whole seconds, so an unchanged status
 * serialises identically and produces no patch.
 */

/** RFC 3339 in whole seconds, UTC. */
export function toRfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * The id of an operation starting now: its start time, RFC 3339. An operation is known by it
 * (lastRotation.startedAt === the Secret's operation id means "finished"), so one that starts in
 * the same second as the one before it gets the milliseconds too, one past any id already `taken`.
 */
export function newOperationId(now: number, taken: readonly (string | undefined)[]): string {
  const id = toRfc3339(now);
  if (!taken.includes(id)) return id;
  let ms = now;
  let candidate = new Date(ms).toISOString();
  while (taken.includes(candidate)) candidate = new Date(++ms).toISOString();
  return candidate;
}

/** Epoch ms of an RFC 3339 string, or undefined when absent or unparseable. */
export function parseInstant(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
