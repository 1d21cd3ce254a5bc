/** Go's time.ParseDuration, for JWT_EXPIRATION values such as `24h`, `1h30m`, `90s`, `1.5h`. */
const unitSeconds: Record<string, number> = {
  ns: 1e-9,
  us: 1e-6,
  µs: 1e-6,
  μs: 1e-6,
  ms: 1e-3,
  s: 1,
  m: 60,
  h: 3600,
};

/** Seconds in a Go duration string; throws on anything Go would reject, and on negative durations. */
export function parseGoDuration(text: string): number {
  if (text === '0') return 0;
  const whole = /^(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/u;
  if (!whole.test(text)) throw new RangeError(`"${text}" is not a Go duration (examples: 24h, 15m, 1h30m)`);
  let seconds = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gu)) {
    seconds += Number(amount) * (unitSeconds[unit ?? 's'] ?? 1);
  }
  return seconds;
}
