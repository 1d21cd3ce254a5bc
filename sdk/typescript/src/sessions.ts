/**
 * Active sessions, as the consumer reports them in `jwt_active_sessions`: the number of distinct token subjects
 * (`sub`) seen in a successful validation or login within the last `windowSeconds`, whose token has not
 * expired. A rotation that breaks verification makes this fall within one window, which is what the gate's
 * "no unexpected drops" check looks for.
 */
export class SessionTracker {
  /** subject → when last seen and when its token expires (ms since epoch). Insertion order = last seen. */
  readonly #seen = new Map<string, { lastSeenMs: number; expiresAtMs: number }>();
  readonly #windowMs: number;
  readonly #maxEntries: number;

  constructor(windowSeconds: number, maxEntries = 100_000) {
    this.#windowMs = windowSeconds * 1000;
    this.#maxEntries = maxEntries;
  }

  touch(subject: string, expiresAtSeconds: number, nowMs: number): void {
    // Delete first so the entry moves to the end: the map stays ordered by last sight.
    this.#seen.delete(subject);
    this.#seen.set(subject, { lastSeenMs: nowMs, expiresAtMs: expiresAtSeconds * 1000 });
    // Bounded memory: past the cap, forget the longest-unseen subjects.
    for (const oldest of this.#seen.keys()) {
      if (this.#seen.size <= this.#maxEntries) break;
      this.#seen.delete(oldest);
    }
  }

  count(nowMs: number): number {
    for (const [subject, entry] of this.#seen) {
      if (entry.lastSeenMs < nowMs - this.#windowMs || entry.expiresAtMs <= nowMs) this.#seen.delete(subject);
    }
    return this.#seen.size;
  }
}
