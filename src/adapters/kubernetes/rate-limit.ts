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
 * `kubeConfig.makeApiClient(type)` on the shared keep-alive pool, every request taking a token from
 * `bucket` first; `before` (the tests' fault delay, src/platform/fault-switch.ts) runs after that.
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
