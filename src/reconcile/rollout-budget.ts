/**
 * The operator-wide budget on rotations in their rolling steps (issue 27): the shell's half of
 * src/rotation/rollout-budget.ts. It keeps, in memory, who holds a place (JwtRotations whose last
 * decision was `rolling`) and who waits (whose last decision was queued), and answers a claim.
 *
 * Crash safety: nothing here is the source of truth. At start, before anyone is admitted, `seed`
 * counts as rolling every JwtRotation the cluster shows in a rolling step (its status phase, or a
 * workload Secret that shows a step in flight that status does not record yet: the crash after the
 * Secret write). That may count too many, never too few; each JwtRotation's first pass (the
 * initial list puts every one on the queue) settles its real state and frees what it does not hold.
 * The order of the queue is deterministic: the kind of claim, then when it became due (a scheduled
 * rotation's nextRotationAt, else when this process first saw it wait), then the key.
 *
 * Everything here is synchronous, and a pass calls `admit` right after deciding, with no await in
 * between, so two passes running side by side cannot both take the last place.
 */
import { CLAIM_KINDS, type RolloutBudgetObservation, type RolloutClaim } from '../rotation/rollout-budget.ts';

interface Waiter {
  rank: number;
  dueAt: number;
  /** The place last answered (and so shown in status), kept until the place halves or doubles. */
  shown?: Shown | undefined;
}

type Shown = Pick<RolloutBudgetObservation, 'position' | 'waiting' | 'rolling' | 'countedAt'>;

/**
 * A waiter's place in status is counted again only when it has moved by this factor (halved or
 * doubled) since it was last shown. Every other place change would be a status write: at 10,000
 * queued JwtRotations, looked at every 5 minutes, that was 30,462 status writes in 10 minutes
 * against 600 template patches (bench/README.md). Shown this way, a place goes from N to 1 in at most
 * log2(N) + 1 writes, and the message says when it was counted.
 */
export const PLACE_RECOUNT_FACTOR = 2;

export class RolloutBudget {
  private readonly rolling = new Set<string>();
  private readonly waiting = new Map<string, Waiter>();
  private seeded = false;

  constructor(
    /** Most JwtRotations in a rolling step at once; 0: no limit. */
    readonly limit: number,
    /** Puts a key on the work queue: the head of the queue when a place frees. */
    private readonly wake: (key: string) => void,
  ) {}

  /** Who the cluster shows rolling; until called, every claim waits. */
  seed(rollingKeys: Iterable<string>): void {
    for (const key of rollingKeys) this.rolling.add(key);
    this.seeded = true;
    this.wakeHeads();
  }

  /**
   * Admits the claim (the place is taken at once) and answers undefined, or answers where it waits.
   * A JwtRotation that holds a place keeps it for its next step.
   */
  admit(key: string, claim: RolloutClaim, now: number): RolloutBudgetObservation | undefined {
    if (this.limit <= 0 || this.rolling.has(key)) return undefined;
    const known = this.waiting.get(key);
    const rank = CLAIM_KINDS.indexOf(claim.kind);
    const waiter: Waiter = { rank, dueAt: claim.dueAt ?? known?.dueAt ?? now };
    // A claim of another kind is another wait: its place is counted afresh.
    if (known?.rank === rank) waiter.shown = known.shown;
    this.waiting.set(key, waiter);
    const position = 1 + this.countAhead(key, waiter);
    if (this.seeded && this.rolling.size + position <= this.limit) {
      this.waiting.delete(key);
      this.rolling.add(key);
      return undefined;
    }
    let shown = waiter.shown;
    if (
      shown === undefined ||
      position * PLACE_RECOUNT_FACTOR <= shown.position ||
      position >= shown.position * PLACE_RECOUNT_FACTOR
    ) {
      shown = { position, waiting: this.waiting.size, rolling: this.rolling.size, countedAt: now };
      waiter.shown = shown;
    }
    return { admitted: false, ...shown, limit: this.limit };
  }

  /** After a pass: whether it holds a place (rolling) or waits (queued) from now on. */
  settle(key: string, rolling: boolean, queued: boolean): void {
    if (this.limit <= 0) return;
    if (rolling) {
      this.rolling.add(key);
      this.waiting.delete(key);
      return;
    }
    const freed = this.rolling.delete(key);
    const left = !queued && this.waiting.delete(key);
    if (freed || left) this.wakeHeads();
  }

  /** The JwtRotation is gone. */
  forget(key: string): void {
    this.settle(key, false, false);
  }

  /** For metrics and logs. */
  get counts(): { rolling: number; waiting: number } {
    return { rolling: this.rolling.size, waiting: this.waiting.size };
  }

  private countAhead(key: string, waiter: Waiter): number {
    let ahead = 0;
    for (const [other, w] of this.waiting) if (other !== key && before(other, w, key, waiter)) ahead++;
    return ahead;
  }

  /** Wakes as many of the first waiters as there are free places. */
  private wakeHeads(): void {
    const free = this.limit - this.rolling.size;
    if (!this.seeded || free <= 0 || this.waiting.size === 0) return;
    const heads: [string, Waiter][] = [];
    for (const entry of this.waiting) {
      const at = heads.findIndex(([k, w]) => before(entry[0], entry[1], k, w));
      if (at >= 0) heads.splice(at, 0, entry);
      else if (heads.length < free) heads.push(entry);
      if (heads.length > free) heads.pop();
    }
    for (const [key] of heads) this.wake(key);
  }
}

/** Whether waiter a goes before waiter b. */
function before(aKey: string, a: Waiter, bKey: string, b: Waiter): boolean {
  if (a.rank !== b.rank) return a.rank < b.rank;
  if (a.dueAt !== b.dueAt) return a.dueAt < b.dueAt;
  return aKey < bKey;
}
