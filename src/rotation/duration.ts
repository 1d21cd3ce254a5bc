/**
 * Go-style durations ("90s", "1h30m", "2160h"), as Kubernetes APIs write them.
 * The CRD checks the syntax; this turns a checked string into milliseconds.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const PART = /([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/gy;

/** Milliseconds in a Go duration string; throws on anything the CRD pattern would reject. */
export function parseDuration(text: string): number {
  if (text === '0') return 0;
  if (text.length === 0) throw new Error('empty duration');
  let total = 0;
  PART.lastIndex = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match !== null; match = PART.exec(text)) {
    const [whole, amount, unit] = match;
    total += Number(amount) * (UNIT_MS[unit ?? ''] ?? Number.NaN);
    consumed += whole.length;
  }
  if (consumed !== text.length || !Number.isFinite(total)) {
    throw new Error(`"${text}" is not a duration like "90s", "15m" or "24h"`);
  }
  return Math.round(total);
}

/** A short human form of milliseconds, for messages: 1h30m, 45s, 250ms. */
export function formatDuration(ms: number): string {
  const rounded = Math.max(0, Math.round(ms));
  if (rounded < 1000) return `${rounded}ms`;
  let seconds = Math.round(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours ? `${hours}h` : ''}${minutes ? `${minutes}m` : ''}${seconds || (!hours && !minutes) ? `${seconds}s` : ''}`;
}
