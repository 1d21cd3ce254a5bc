/**
 * Spreading scheduled rotations (issue 27). JwtRotations created together (one GitOps sync brings
 * hundreds, all with the default interval) would otherwise all come due in the same minute, and
 * every consuming workload in the cluster would restart at once. Each JwtRotation gets a fixed
 * offset within spec.schedule.spreadWindow, derived from its uid, so N of them come due over the
 * window, the way cert-manager renews at a fraction of a certificate's life rather than at its end.
 *
 * The offset is a pure function of the uid: the same object always gets the same offset (across
 * passes, restarts and replicas), and no state is kept for it.
 */
import type { Context } from './context.ts';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * A number in [0, 1) from a string: FNV-1a over its characters, then MurmurHash3's finaliser, whose
 * avalanche spreads strings that differ in their last characters only (uids made in one burst may)
 * over the whole range. Not a secret.
 */
export function unitFraction(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b) >>> 0;
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35) >>> 0;
  hash ^= hash >>> 16;
  return (hash >>> 0) / 2 ** 32;
}

/**
 * This JwtRotation's offset within the spread window, in whole seconds (status times are whole
 * seconds). 0 without a uid (an object the API server has not stored) or without a window.
 */
export function spreadOffsetMs(ctx: Pick<Context, 'spec' | 'input'>): number {
  const uid = ctx.input.resource.metadata.uid;
  if (uid === undefined || uid === '' || ctx.spec.spreadWindowMs <= 0) return 0;
  return Math.floor((unitFraction(uid) * ctx.spec.spreadWindowMs) / 1000) * 1000;
}
