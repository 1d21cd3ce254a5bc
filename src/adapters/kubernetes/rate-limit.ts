/**
 * Client-side rate limit on the operator's API requests: a token bucket of `burst` tokens refilled
 * at `qps` per second, as client-go's (defaults there: 5 QPS, burst 10; controller-runtime 20/30).
 * Every request of an API client made by `limitedClient` takes a token first (client-node's
 * promise middleware); long-running watches do not (they are one request each).
 */
import type * as k8s from '@kubernetes/client-node';
import { apiClient } from './keep-alive.ts';

export class TokenBucket {
  private tokens: number;
  private last = performance.now();
  private readonly waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Requests that had to wait for a token, for the metrics. */
  throttled = 0;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    /** Told how long each request that had to wait waited, in seconds (for the metrics). */
    private readonly onWait: (seconds: number) => void = () => undefined,
  ) {
    this.tokens = burst;
  }

  /** Whether take() would resolve at once: a token in the bucket and nobody waiting for one. */
  hasToken(): boolean {
    if (this.qps <= 0) return true;
    this.refill();
    return this.waiters.length === 0 && this.tokens >= 1;
  }

  /** Whether the bucket is (nearly) full: nothing has used it for a while. */
  isFull(): boolean {
    if (this.qps <= 0) return true;
    this.refill();
    return this.waiters.length === 0 && this.tokens >= this.burst - 1;
  }

  /** Takes a token if take() would resolve at once, and says whether it did; never waits. */
  tryTake(): boolean {
    if (!this.hasToken()) return false;
    if (this.qps > 0) this.tokens -= 1;
    return true;
  }

  /** Resolves when a token is available (at once when the bucket has one). */
  async take(): Promise<void> {
    if (this.qps <= 0) return; // 0: no limit
    this.refill();
    if (this.waiters.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return;
    }
    this.throttled += 1;
    const since = performance.now();
    await new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.schedule();
    });
    this.onWait((performance.now() - since) / 1000);
  }

  private refill(): void {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const wait = Math.max(0, ((1 - this.tokens) / this.qps) * 1000);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.waiters.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiters.shift()?.();
      }
      if (this.waiters.length > 0) this.schedule();
    }, wait);
  }
}

/**
 * The share of `KUBE_API_QPS` that progress-only status writes (pod counts, condition messages) of
 * rotating JwtRotations may take across all of them, and their burst. A rotation's progress writes
 * otherwise grow with how long its rollouts take: at 1,000 JwtRotations rotating at once (18
 * minutes), 5.7 per rotation went out while the pass limit was unused, a quarter of the design's 22
 * requests (bench/README.md, fifth round). With a budget of their own, their count is bounded by
 * time, not by N. An idle JwtRotation's progress (its pods counted after it was created, a scaled
 * target) is not held to it: 1,000 created at once would show their pods over 17 minutes.
 */
export const PROGRESS_SHARE_OF_QPS = 0.05;
export const PROGRESS_BURST = 5;

/**
 * Whether a progress-only status write may go out now: only while the passes' limit is unused (its
 * bucket full), so that progress never takes a request from a write that moves a rotation on, and
 * for a rotating JwtRotation within the progress budget (`PROGRESS_SHARE_OF_QPS` of `qps`, burst
 * `PROGRESS_BURST`). With qps 0 (no limit), always.
 */
export function progressAllowance(passes: TokenBucket, qps: number): (rotating: boolean) => boolean {
  const budget = new TokenBucket(qps * PROGRESS_SHARE_OF_QPS, PROGRESS_BURST);
  return (rotating) => passes.isFull() && (!rotating || budget.tryTake());
}

/**
 * `kubeConfig.makeApiClient(type)` on the shared keep-alive pool, every request taking a token from
 * `bucket` first; `before` (the tests' fault delay, test/support/fault-switch.ts) runs after that.
 */
export function limitedClient<T>(
  kubeConfig: k8s.KubeConfig,
  type: new (config: k8s.Configuration) => T,
  bucket: TokenBucket,
  before?: (method: string, url: string) => Promise<void>,
): T {
  return apiClient(kubeConfig, type, [
    {
      pre: async (context) => {
        await bucket.take();
        await before?.(context.getHttpMethod(), context.getUrl());
        return context;
      },
      post: (response) => Promise.resolve(response),
    },
  ]);
}
