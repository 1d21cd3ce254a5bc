/**
 * Delivers notices to spec.notifications receivers over HTTP (fetch), in the background: the pass
 * that hands them over never waits for a receiver, so a receiver that is down, slow or failing cannot
 * hold a rotation back. Each attempt has a timeout; a failed one is retried with exponential backoff.
 *
 * The notices come from status.notices, the outbox (src/rotation/notices.ts): every pass hands over
 * every Pending notice of the status it wrote, and this notifier sends each one once per process
 * (a notice already under way or settled here is not sent again), signed in the Standard Webhooks
 * form with the receiver's key, with a webhook id that every delivery of that notice shares
 * (./signature.ts). When a JwtRotation's deliveries are done, the outcome and the notices settled
 * (delivered to every receiver, or given up on) are kept for the next pass, which records them in
 * status, and `onSettled` asks for that pass.
 *
 * The URLs are credentials (a Slack or Teams webhook URL is enough to post), and so are the signing
 * keys: they never appear in an error, a log line or the outcome, which name the receiver instead.
 */
import type { ReceiverType } from '../../api/types.ts';
import type { DeliveryObservation, Notice, SettledNotice } from '../../rotation/model.ts';
import { backoffDelay } from '../../platform/backoff.ts';
import { payloadFor, type NoticeSubject } from './payloads.ts';
import { parseSigningKey, signature, webhookId } from './signature.ts';

/** A receiver with its URL and signing key read from their Secrets, or why it cannot be used. */
export interface ResolvedReceiver {
  name: string;
  type: ReceiverType;
  url?: string | undefined;
  /** The Standard Webhooks secret (`whsec_…`) deliveries to it are signed with, if any. */
  signingKey?: string | undefined;
  /** Why it cannot be used (e.g. its Secret does not allow it); fingerprint-free, URL-free. */
  problem?: string | undefined;
  /** The NotificationsDelivered reason for that problem (e.g. ReferenceNotAllowed, UrlNotAllowed). */
  problemReason?: string | undefined;
}

export interface Delivery {
  subject: NoticeSubject;
  receivers: ResolvedReceiver[];
  /** The Pending notices of the status just written, oldest first. */
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
  /**
   * The wall clock for webhook-timestamp (receivers refuse a timestamp far from their own clock), not
   * the operator's injected clock, which tests move days ahead. Default Date.now.
   */
  wallClock?: () => number;
  /** Told of each failed attempt, for the log (no URL in it). */
  onAttemptFailed?: (receiver: string, attempt: number, error: string) => void;
}

/** What this process knows of one JwtRotation's notices, by notice key. */
interface Ledger {
  /** Under way, or settled (delivered or not) and not yet seen recorded in status. */
  notices: Map<string, 'sending' | SettledNotice>;
  outcome?: { ok: boolean; message: string; reason?: string | undefined };
}

/** Identifies a notice within its JwtRotation (as status.notices does). */
function keyOf(n: Pick<Notice, 'kind' | 'rotation' | 'stallReason'>): string {
  return `${n.kind}\u0000${n.rotation}\u0000${n.stallReason ?? ''}`;
}

export class WebhookNotifier {
  readonly #options: Required<Omit<WebhookNotifierOptions, 'onAttemptFailed'>> &
    Pick<WebhookNotifierOptions, 'onAttemptFailed'>;
  /** One chain per JwtRotation, so its notices arrive in order. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #ledgers = new Map<string, Ledger>();
  #stopped = false;

  constructor(options: WebhookNotifierOptions) {
    this.#options = {
      backoffBaseMs: 1000,
      backoffMaxMs: 30_000,
      fetch: globalThis.fetch,
      wallClock: Date.now,
      ...options,
    };
  }

  /**
   * Starts delivering, in the background, the notices this process has not sent yet; never throws
   * and never waits for a receiver. Settled notices no longer handed over (status recorded them) are
   * forgotten.
   */
  send(delivery: Delivery): void {
    const key = `${delivery.subject.namespace}/${delivery.subject.name}`;
    const ledger: Ledger = this.#ledgers.get(key) ?? { notices: new Map() };
    this.#ledgers.set(key, ledger);
    const pending = new Set(delivery.notices.map(keyOf));
    for (const [k, state] of ledger.notices)
      if (state !== 'sending' && !pending.has(k)) ledger.notices.delete(k);
    const fresh = delivery.notices.filter((n) => !ledger.notices.has(keyOf(n)));
    if (this.#stopped || fresh.length === 0) return;
    for (const n of fresh) ledger.notices.set(keyOf(n), 'sending');
    const previous = this.#chains.get(key) ?? Promise.resolve();
    const next = previous
      .then(async () => this.#deliver({ ...delivery, notices: fresh }, ledger))
      .then(() => {
        if (this.#chains.get(key) === next) this.#chains.delete(key);
        if (!this.#stopped) this.#options.onSettled(delivery.subject.namespace, delivery.subject.name);
      });
    this.#chains.set(key, next);
  }

  /** How the last finished delivery for this JwtRotation went, and the notices settled since. */
  outcome(namespace: string, name: string): DeliveryObservation | undefined {
    const ledger = this.#ledgers.get(`${namespace}/${name}`);
    if (ledger?.outcome === undefined) return undefined;
    const settled = [...ledger.notices.values()].filter((s): s is SettledNotice => s !== 'sending');
    return { ...ledger.outcome, settled };
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

  async #deliver(delivery: Delivery, ledger: Ledger): Promise<void> {
    const failures: string[] = [];
    const failed = new Set<string>();
    let reason: string | undefined;
    for (const receiver of delivery.receivers) {
      const problem = usable(receiver);
      if (problem !== undefined) {
        failures.push(`${receiver.name}: ${problem}`);
        reason ??= receiver.problemReason;
        for (const n of delivery.notices) failed.add(keyOf(n));
        continue;
      }
      for (const notice of delivery.notices) {
        const error = await this.#post(receiver, notice, delivery);
        if (error !== undefined) {
          failures.push(`${receiver.name}: ${notice.kind} not delivered (${error})`);
          failed.add(keyOf(notice));
        }
      }
    }
    for (const n of delivery.notices) {
      ledger.notices.set(keyOf(n), {
        kind: n.kind,
        rotation: n.rotation,
        stallReason: n.stallReason,
        delivered: !failed.has(keyOf(n)),
      });
    }
    const sent = delivery.notices.map((n) => n.kind).join(', ');
    ledger.outcome =
      failures.length === 0
        ? { ok: true, message: `${sent} delivered to ${delivery.receivers.map((r) => r.name).join(', ')}` }
        : { ok: false, message: failures.join('; '), reason };
  }

  /** Posts one notice with retries; undefined on success, else why the last attempt failed. */
  async #post(receiver: ResolvedReceiver, notice: Notice, delivery: Delivery): Promise<string | undefined> {
    const id = webhookId(delivery.subject.uid, notice);
    // One body for every attempt: the signature covers these bytes.
    const body = JSON.stringify(payloadFor(receiver.type, notice, delivery.subject, id));
    const key = receiver.signingKey === undefined ? undefined : parseSigningKey(receiver.signingKey);
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
      const timestamp = Math.floor(this.#options.wallClock() / 1000);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
      };
      if (key !== undefined) headers['webhook-signature'] = signature(key, id, timestamp, body);
      last = await this.#attempt(receiver.url ?? '', headers, body, delivery.timeoutMs);
      if (last === '') return undefined;
      this.#options.onAttemptFailed?.(receiver.name, attempt, last);
    }
    return `${last} after ${String(attempts)} attempt${attempts === 1 ? '' : 's'}`;
  }

  /** One POST; '' on a 2xx answer, else what went wrong (never the URL). */
  async #attempt(
    url: string,
    headers: Record<string, string>,
    body: string,
    timeoutMs: number,
  ): Promise<string> {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const response = await this.#options.fetch(url, {
        method: 'POST',
        headers,
        body,
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

/** Why nothing can be sent to this receiver, or undefined. */
function usable(receiver: ResolvedReceiver): string | undefined {
  if (receiver.problem !== undefined || receiver.url === undefined) return receiver.problem ?? 'no URL';
  if (!/^https?:\/\//i.test(receiver.url) || !URL.canParse(receiver.url))
    return 'the URL in its Secret is not an http(s) URL';
  if (receiver.signingKey !== undefined && parseSigningKey(receiver.signingKey) === undefined)
    return 'the signing key in its Secret is not a Standard Webhooks secret (whsec_ and the base64 of 24 to 64 bytes); nothing was sent unsigned';
  return undefined;
}

/** A network error without the URL: fetch's "fetch failed" plus its cause's code (ECONNREFUSED …). */
function describe(error: unknown): string {
  if (error instanceof TypeError && error.message === 'Invalid URL') return 'the URL is not valid';
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === 'string') return `connection failed (${cause.code})`;
  if (error instanceof TypeError) return 'connection failed';
  return 'request failed';
}
