/**
 * Instants in the core are epoch milliseconds handed in by the caller's clock.
 * Status carries them as RFC 3339 in whole seconds, so an unchanged status
 * serialises identically and produces no patch.
 */

/** RFC 3339 in whole seconds, UTC. */
export function toRfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Epoch ms of an RFC 3339 string, or undefined when absent or unparseable. */
export function parseInstant(text: string | undefined): number | undefined {
  if (text === undefined || text === '') return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}
