/**
 * Sends notices to spec.notifications receivers over HTTP (fetch), in the background: the pass that
 * hands them over never waits for a receiver, so a receiver that is down, slow or failing cannot
 * hold a rotation back. Each attempt has a timeout; a failed one is retried with exponential backoff.
 * When a JwtRotation's deliveries are done, the outcome is kept for the next pass (the
 * NotificationsDelivered condition) and `onSettled` asks for that pass.
 *
 * The URLs are credentials (a Slack or Teams webhook URL is enough to post): they never appear in an
 * error, a log line or the outcome, which name the receiver instead.
 */
import type { ReceiverType } from '../../api/types.ts';
import type { DeliveryObservation, Notice } from '../../rotation/model.ts';
import { backoffDelay } from '../../platform/backoff.ts';
import { payloadFor, type NoticeSubject } from './payloads.ts';

/** A receiver with its URL read from its Secret, or why it could not be. */
export interface ResolvedReceiver {
  name: string;
  type: ReceiverType;
  url?: string | undefined;
  /** Why there is no URL (e.g. the Secret or its key is missing); fingerprint-free, URL-free. */
  problem?: string | undefined;
}

export interface Delivery {
  subject: NoticeSubject;
  receivers: ResolvedReceiver[];
  notices: Notice[];
  timeoutMs: number;
  retries: number;
}

interface WebhookNotifierOptions {
  /** Called when the deliveries of one JwtRotation are done, so the operator looks at it again. */
  onSettled: (namespace: string, name: string) => void;
  /** First wait before a retry, doubled each time. Default 1s. */
  backoffBaseMs?: number;
  /** Longest wait before a retry. Default 30s. */
  backoffMaxMs?: number;
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Told of each failed attempt, for the log (no URL in it). */
  onAttemptFailed?: (receiver: string, attempt: number, error: string) => void;
}

export class WebhookNotifier {
  readonly #options: Required<Omit<WebhookNotifierOptions, 'onAttemptFailed'>> &
    Pick<WebhookNotifierOptions, 'onAttemptFailed'>;
  /** One chain per JwtRotation, so its notices arrive in order. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #outcomes = new Map<string, DeliveryObservation>();
  #stopped = false;

  constructor(options: WebhookNotifierOptions) {
    this.#options = {
      backoffBaseMs: 1000,
      backoffMaxMs: 30_000,
      fetch: globalThis.fetch,
      ...options,
    };
  }

  /** Starts delivering in the background; never throws and never waits for a receiver. */
  send(delivery: Delivery): void {
    if (this.#stopped || delivery.notices.length === 0 || delivery.receivers.length === 0) return;
    const key = `${delivery.subject.namespace}/${delivery.subject.name}`;
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(async () => this.#deliver(delivery))
      .then((outcome) => {
        this.#outcomes.set(key, outcome);
        if (this.#chains.get(key) === next) this.#chains.delete(key);
        if (!this.#stopped) this.#options.onSettled(delivery.subject.namespace, delivery.subject.name);
      });
    this.#chains.set(key, next);
  }

  /** How the last finished delivery for this JwtRotation went. */
  outcome(namespace: string, name: string): DeliveryObservation | undefined {
    return this.#outcomes.get(`${namespace}/${name}`);
  }

  /** Stops starting new deliveries; resolves when those under way are done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#chains.values()]);
  }

  /** Resolves when no delivery is under way (for tests). */
  async idle(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  async #deliver(delivery: Delivery): Promise<DeliveryObservation> {
    const failures: string[] = [];
    for (const receiver of delivery.receivers) {
      if (receiver.url === undefined) {
        failures.push(`${receiver.name}: ${receiver.problem ?? 'no URL'}`);
        continue;
      }
      if (!/^https?:\/\//i.test(receiver.url) || !URL.canParse(receiver.url)) {
        failures.push(`${receiver.name}: the URL in its Secret is not an http(s) URL`);
        continue;
      }
      for (const notice of delivery.notices) {
        const error = await this.#post(
          receiver,
          receiver.url,
          payloadFor(receiver.type, notice, delivery.subject),
          delivery,
        );
        if (error !== undefined) {
          failures.push(`${receiver.name}: ${notice.kind} not delivered (${error})`);
        }
      }
    }
    const sent = delivery.notices.map((n) => n.kind).join(', ');
    return failures.length === 0
      ? { ok: true, message: `${sent} delivered to ${delivery.receivers.map((r) => r.name).join(', ')}` }
      : { ok: false, message: failures.join('; ') };
  }

  /** Posts with retries; undefined on success, else why the last attempt failed. */
  async #post(
    receiver: ResolvedReceiver,
    url: string,
    body: Record<string, unknown>,
    delivery: Delivery,
  ): Promise<string | undefined> {
    const attempts = delivery.retries + 1;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) {
        const wait = backoffDelay(attempt - 1, {
          baseMs: this.#options.backoffBaseMs,
          maxMs: this.#options.backoffMaxMs,
        });
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.#stopped) break;
      }
      last = await this.#attempt(url, body, delivery.timeoutMs);
      if (last === '') return undefined;
      this.#options.onAttemptFailed?.(receiver.name, attempt, last);
    }
    return `${last} after ${String(attempts)} attempt${attempts === 1 ? '' : 's'}`;
  }

  /** One POST; '' on a 2xx answer, else what went wrong (never the URL). */
  async #attempt(url: string, body: Record<string, unknown>, timeoutMs: number): Promise<string> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await this.#options.fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
        redirect: 'error',
      });
      // Drain the body so the connection is reused; what a receiver says is not needed.
      await response.arrayBuffer().catch(() => undefined);
      return response.ok ? '' : `HTTP ${String(response.status)}`;
    } catch (error) {
      if (signal.aborted) return `no answer within ${String(timeoutMs)}ms`;
      return describe(error);
    }
  }
}

/** A network error without the URL: fetch's "fetch failed" plus its cause's code (ECONNREFUSED …). */
function describe(error: unknown): string {
  if (error instanceof TypeError && error.message === 'Invalid URL') return 'the URL is not valid';
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return `connection failed (${cause.code})`;
  if (error instanceof TypeError) return 'connection failed';
  return 'request failed';
}
