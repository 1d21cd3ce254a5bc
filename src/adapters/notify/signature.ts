/**
 * Standard Webhooks (https://www.standardwebhooks.com): every delivery carries `webhook-id` (the same
 * on every retry and every redelivery of one notice, so a receiver can drop repeats),
 * `webhook-timestamp` (seconds, when the attempt was made) and `webhook-signature`
 * (`v1,` + base64 of HMAC-SHA256 over `<id>.<timestamp>.<body>` with the receiver's secret).
 * Written here rather than taken from the `standardwebhooks` package, so that the tests' receiver,
 * which verifies with that package, checks an independent implementation.
 */
import { createHash, createHmac } from 'node:crypto';

import type { Notice } from '../../rotation/model.ts';

/** The secret's prefix in the Standard Webhooks form. */
const SECRET_PREFIX = 'whsec_';
/** Standard Webhooks asks for 24 to 64 bytes of key. */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** The key bytes of a `whsec_<base64>` secret (the prefix may be left out), or undefined if it is not one. */
export function parseSigningKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  const base64 = trimmed.startsWith(SECRET_PREFIX) ? trimmed.slice(SECRET_PREFIX.length) : trimmed;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) return undefined;
  const key = Buffer.from(base64, 'base64');
  return key.length >= MIN_KEY_BYTES && key.length <= MAX_KEY_BYTES ? key : undefined;
}

/** The `webhook-signature` header value for one attempt. */
export function signature(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key)
    .update(`${id}.${String(timestampSeconds)}.${body}`)
    .digest('base64');
  return `v1,${mac}`;
}

/**
 * The `webhook-id` of a notice: the same for every delivery of it, by any operator process, and
 * different for every JwtRotation (its uid), notice, rotation and, for Failed, Stalled reason.
 */
export function webhookId(uid: string, notice: Pick<Notice, 'kind' | 'rotation' | 'stallReason'>): string {
  const digest = createHash('sha256')
    .update([uid, notice.kind, notice.rotation, notice.stallReason ?? ''].join('\u0000'))
    .digest('hex');
  return `msg_${digest.slice(0, 32)}`;
}
