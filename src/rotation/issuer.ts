/**
 * The OIDC issuer (spec.issuer): when consumers may start signing with a new key, given verifiers
 * that cache the key set, and what status says about who may still accept a compromised key.
 *
 * The rule (docs/issuer.md): no consumer signs with a key before
 * 1. every live issuer server replica has served a key set holding it for longer than maxAge plus
 *    cacheMargin (so every verifier that honours Cache-Control has dropped any set without it), and
 * 2. every registered relying party has accepted a probe token signed with it (so a verifier that
 *    fetches only on an unknown kid, as kube-apiserver does, holds a set with it).
 * After an emergency rotation, a relying party that accepted a probe signed with the new key has
 * fetched a set published after the emergency, and none of those holds the compromised key.
 *
 * Pure: the shell reads the PublishedKeySet, the server replicas' Leases and the probes
 * (DecideInput.issuer); fingerprints only.
 */
import { SecretAnnotations } from '../api/constants.ts';
import type {
  IssuerStatus,
  JwtRotationStatus,
  KeySetVersionStatus,
  ObjectMeta,
  RelyingPartySpec,
  RelyingPartyStatus,
  JwtRotationSpec,
} from '../api/types.ts';
import type { ConditionSpec } from './conditions.ts';
import { dropUndefined } from './format.ts';
import type { Context } from './context.ts';
import { formatDuration } from './duration.ts';
import type { IssuerObservation, KeySlot, SecretView } from './model.ts';
import type { PhaseResult } from './phase-result.ts';
import { ConditionReasons } from './reasons.ts';
import { isSigningScheduled } from './revision.ts';
import { resolveSpec, type IssuerSettings } from './spec.ts';
import { parseInstant, toRfc3339 } from './time.ts';

/** Key set versions remembered in status (to tell which keys a replica or a fetcher holds). */
const VERSIONS_KEPT = 8;
/** Outside a rotation, a relying party that has not accepted the key in use is probed this rarely. */
const IDLE_PROBE_INTERVAL_MS = 5 * 60_000;

/** The keys of each version the operator published (newest first), from status and this pass. */
function knownVersions(
  prev: IssuerStatus | undefined,
  obs: IssuerObservation | undefined,
): KeySetVersionStatus[] {
  const versions = [...(prev?.versions ?? [])];
  const published = obs?.published;
  if (published !== undefined && !versions.some((v) => v.version === published.version))
    versions.unshift({ version: published.version, keys: [...published.keys] });
  return versions.slice(0, VERSIONS_KEPT);
}

/**
 * Since when every live server replica has served a set whose keys satisfy `holds` (the latest time
 * any of them began serving its current version); undefined when there is no live replica, or one
 * serves a set that does not, or one the operator does not know.
 */
function servedSince(
  obs: IssuerObservation | undefined,
  versions: readonly KeySetVersionStatus[],
  holds: (keys: readonly string[]) => boolean,
): number | undefined {
  const servers = obs?.servers ?? [];
  if (servers.length === 0) return undefined;
  let since = -Infinity;
  for (const server of servers) {
    const keys = versions.find((v) => v.version === server.version)?.keys;
    if (keys === undefined || server.since === undefined || !holds(keys)) return undefined;
    since = Math.max(since, server.since);
  }
  return since;
}

/** The key relying parties must accept now: the new key during a rotation, else the key in use. */
function keyToAccept(secret: SecretView): { slot: KeySlot; fingerprint: string } | undefined {
  const { JWT_SECRET_NEW: next, JWT_SECRET: current } = secret.fingerprints;
  if (next !== undefined) return { slot: 'JWT_SECRET_NEW', fingerprint: next };
  return current === undefined ? undefined : { slot: 'JWT_SECRET', fingerprint: current };
}

/** The key an emergency rotation replaced, while the Secret still records that operation. */
function compromisedFingerprint(secret: SecretView): string | undefined {
  return secret.annotations[SecretAnnotations.operation] === 'Emergency'
    ? secret.annotations[SecretAnnotations.previousKey]
    : undefined;
}

/**
 * Whether the relying party last accepted a key the Secret no longer holds: an operation (a rollback)
 * replaced the key it must accept, so it is probed every probeInterval until it accepts the key in
 * use, not at the idle cadence meant for one that has never accepted a key (a setup to check).
 */
function acceptedReplacedKey(secret: SecretView, last: RelyingPartyStatus | undefined): boolean {
  const accepted = last?.acceptedKey;
  return accepted !== undefined && !Object.values(secret.fingerprints).includes(accepted);
}

export interface ProbePlan {
  issuer: IssuerSettings;
  /** The Secret slot whose key signs the probe token, and that key's fingerprint. */
  slot: KeySlot;
  fingerprint: string;
  relyingParties: RelyingPartySpec[];
}

/**
 * Which relying parties the shell probes on this pass, and with which key: those that have not
 * accepted the key they must accept now, once every live replica serves it (a probe before that
 * would only spend a relying party's refetch), at most every probeInterval while a rotation waits,
 * after an emergency, or while it last accepted a key the Secret no longer holds (after a rollback),
 * and every IDLE_PROBE_INTERVAL_MS otherwise (a check of the setup).
 */
export function issuerProbePlan(input: {
  now: number;
  resource: { metadata: ObjectMeta; spec: JwtRotationSpec; status?: JwtRotationStatus | undefined };
  secret: SecretView | undefined;
  issuer: IssuerObservation | undefined;
}): ProbePlan | undefined {
  const resolved = resolveSpec(input.resource.spec);
  const issuer = resolved.ok ? resolved.spec.issuer : undefined;
  if (issuer === undefined || issuer.relyingParties.length === 0 || input.secret === undefined)
    return undefined;
  const key = keyToAccept(input.secret);
  if (key === undefined) return undefined;
  const prev = input.resource.status?.issuer;
  const versions = knownVersions(prev, input.issuer);
  if (servedSince(input.issuer, versions, (keys) => keys.includes(key.fingerprint)) === undefined)
    return undefined;
  const urgent = key.slot === 'JWT_SECRET_NEW' || compromisedFingerprint(input.secret) !== undefined;
  const idle = Math.max(issuer.probeIntervalMs, IDLE_PROBE_INTERVAL_MS);
  const secret = input.secret;
  const due = issuer.relyingParties.filter((rp) => {
    const last = prev?.relyingParties?.find((r) => r.name === rp.name);
    if (last?.acceptedKey === key.fingerprint) return false;
    const probedAt = parseInstant(last?.probedAt);
    if (probedAt === undefined) return true;
    const wait = urgent || acceptedReplacedKey(secret, last) ? issuer.probeIntervalMs : idle;
    return input.now - probedAt >= wait;
  });
  return due.length === 0 ? undefined : { issuer, ...key, relyingParties: due };
}

/** status.relyingParties: the previous entries, updated by this pass's probes. */
function relyingPartiesStatus(
  issuer: IssuerSettings,
  prev: IssuerStatus | undefined,
  obs: IssuerObservation | undefined,
): RelyingPartyStatus[] {
  return issuer.relyingParties.map((rp) => {
    const last = prev?.relyingParties?.find((r) => r.name === rp.name) ?? { name: rp.name };
    const probe = obs?.probes?.find((p) => p.name === rp.name);
    if (probe === undefined) return last;
    const at = toRfc3339(probe.at);
    return probe.outcome === 'Accepted'
      ? {
          name: rp.name,
          acceptedKey: probe.fingerprint,
          acceptedAt: at,
          probedAt: at,
          message: probe.message,
        }
      : { ...last, probedAt: at, message: probe.message };
  });
}

/** status.issuer, rebuilt on every pass from what the shell read and the previous status. */
export function issuerStatus(ctx: Context): IssuerStatus | undefined {
  const issuer = ctx.spec.issuer;
  if (issuer === undefined) return undefined;
  const obs = ctx.input.issuer;
  const prev = ctx.prev.issuer;
  const versions = knownVersions(prev, obs);
  const latest = obs?.published?.version ?? prev?.version;
  const servers = obs?.servers ?? [];
  const keysOf = (version: string): readonly string[] =>
    versions.find((v) => v.version === version)?.keys ?? [];
  const newKey = ctx.fp.JWT_SECRET_NEW;
  let newKeyServedSince: number | undefined;
  if (newKey !== undefined) {
    const now = servedSince(obs, versions, (keys) => keys.includes(newKey));
    const before = ctx.prev.newKeyFingerprint === newKey ? parseInstant(prev?.newKeyServedSince) : undefined;
    newKeyServedSince = now === undefined ? undefined : Math.min(now, before ?? now);
  }
  const fetchers = obs?.fetchers ?? [];
  return dropUndefined<IssuerStatus>({
    url: issuer.url,
    version: latest,
    keys: latest === undefined ? undefined : [...keysOf(latest)],
    servers: servers.length,
    serversServingLatest: servers.filter((s) => s.version === latest).length,
    newKeyServedSince: newKeyServedSince === undefined ? undefined : toRfc3339(newKeyServedSince),
    signingNotBefore:
      newKeyServedSince === undefined
        ? undefined
        : toRfc3339(newKeyServedSince + issuer.maxAgeMs + issuer.cacheMarginMs),
    fetchers: obs === undefined ? prev?.fetchers : fetchers.length,
    fetchersWithNewKey:
      newKey === undefined ? undefined : fetchers.filter((f) => keysOf(f.version).includes(newKey)).length,
    versions,
    relyingParties: relyingPartiesStatus(issuer, prev, obs),
    compromisedKey: compromisedKeyStatus(ctx, issuer, obs, versions),
  });
}

/** After an emergency rotation: who may still accept the compromised key, and until when caches may. */
function compromisedKeyStatus(
  ctx: Context,
  issuer: IssuerSettings,
  obs: IssuerObservation | undefined,
  versions: readonly KeySetVersionStatus[],
): IssuerStatus['compromisedKey'] {
  const compromised = compromisedFingerprint(ctx.secret);
  const current = ctx.fp.JWT_SECRET;
  if (compromised === undefined || current === undefined) return undefined;
  const accepted = relyingPartiesStatus(issuer, ctx.prev.issuer, obs);
  const behind = accepted.filter((rp) => rp.acceptedKey !== current).map((rp) => rp.name);
  const since = servedSince(obs, versions, (keys) => !keys.includes(compromised));
  const expires = since === undefined ? undefined : since + issuer.maxAgeMs;
  if (behind.length === 0 && expires !== undefined && ctx.now >= expires) return undefined;
  return dropUndefined<NonNullable<IssuerStatus['compromisedKey']>>({
    fingerprint: compromised,
    mayBeAcceptedBy: behind,
    cachesExpireAt: expires === undefined ? undefined : toRfc3339(expires),
  });
}

/**
 * Before the signing switch: hold it until the issuer rule allows it (see the file comment).
 * Undefined when it allows it, or when there is no issuer.
 */
export function issuerHold(ctx: Context): PhaseResult | undefined {
  const issuer = ctx.spec.issuer;
  const newKey = ctx.fp.JWT_SECRET_NEW;
  if (issuer === undefined || newKey === undefined) return undefined;
  const status = issuerStatus(ctx);
  const wait = (progress: string, requeueAfterMs: number, stalled?: PhaseResult['stalled']): PhaseResult => ({
    phase: 'DualKey',
    progress,
    requeueAfterMs: Math.max(0, requeueAfterMs),
    ...(stalled === undefined ? {} : { stalled }),
  });
  if (!(ctx.input.issuer?.published?.keys.includes(newKey) ?? false))
    return wait(
      `Waiting for the issuer ${issuer.url} to publish the new key ${newKey}`,
      ctx.spec.pollIntervalMs,
    );
  if (status?.servers === 0) {
    const message = `No issuer server replica serves ${issuer.url}: the signing switch waits until one serves the new key (install the issuer server: the chart's issuer.enabled)`;
    return wait(message, issuer.probeIntervalMs, { reason: ConditionReasons.IssuerNotServed, message });
  }
  const notBefore = parseInstant(status?.signingNotBefore);
  if (notBefore === undefined)
    return wait(
      `Waiting for every issuer server replica to serve the new key ${newKey} (${status?.serversServingLatest ?? 0} of ${status?.servers ?? 0} serve the latest key set)`,
      issuer.probeIntervalMs,
    );
  if (ctx.now < notBefore)
    return wait(
      `The issuer has served the new key ${newKey} since ${status?.newKeyServedSince ?? ''}; verifiers may hold the old set for max-age, so consumers switch at ${toRfc3339(notBefore)} at the earliest`,
      notBefore - ctx.now,
    );
  const behind = (status?.relyingParties ?? []).filter((rp) => rp.acceptedKey !== newKey);
  if (behind.length > 0)
    return wait(
      `Waiting for relying parties to accept the new key ${newKey}: ${behind.map((rp) => `${rp.name} (${rp.message ?? 'not probed yet'})`).join('; ')}`,
      issuer.probeIntervalMs,
    );
  return undefined;
}

/** The IssuerCurrent condition: does every live replica serve the latest set, and every relying party accept the key in use? */
export function issuerCondition(ctx: Context, status: IssuerStatus | undefined): ConditionSpec | undefined {
  if (ctx.spec.issuer === undefined || status === undefined) return undefined;
  const condition = (ok: boolean, reason: string, message: string): ConditionSpec => ({
    type: 'IssuerCurrent',
    status: ok ? 'True' : 'False',
    reason,
    message,
  });
  const compromised = status.compromisedKey;
  if (compromised !== undefined) {
    const who = compromised.mayBeAcceptedBy ?? [];
    return condition(
      false,
      ConditionReasons.CompromisedKeyMayBeAccepted,
      `Key ${compromised.fingerprint ?? ''} was compromised: ` +
        (who.length > 0
          ? `${who.join(', ')} may still accept it (not yet shown to hold the new key set); `
          : '') +
        `verifiers that honour max-age drop it by ${compromised.cachesExpireAt ?? 'unknown (a server replica does not serve the new set yet)'}`,
    );
  }
  if ((status.servers ?? 0) === 0)
    return condition(
      false,
      ConditionReasons.IssuerNotServed,
      `No issuer server replica serves ${status.url ?? ''}`,
    );
  if ((status.serversServingLatest ?? 0) < (status.servers ?? 0))
    return condition(
      false,
      ConditionReasons.IssuerPropagating,
      `${status.serversServingLatest ?? 0} of ${status.servers ?? 0} server replicas serve the latest key set ${status.version ?? ''}`,
    );
  const key = keyToAccept(ctx.secret)?.fingerprint;
  const behind = (status.relyingParties ?? []).filter((rp) => rp.acceptedKey !== key);
  if (behind.length > 0)
    return condition(
      false,
      ConditionReasons.RelyingPartyBehind,
      `Not yet shown to accept key ${key ?? ''}: ${behind.map((rp) => `${rp.name} (${rp.message ?? 'not probed yet'})`).join('; ')}` +
        kubeApiserverHint(ctx, behind),
    );
  return condition(
    true,
    ConditionReasons.IssuerCurrent,
    `${status.servers ?? 0} server replica(s) serve key set ${status.version ?? ''}` +
      ((status.relyingParties ?? []).length > 0 ? `; every relying party accepts key ${key ?? ''}` : ''),
  );
}

/** kube-apiserver's refetch window (go-oidc's keysExpiryDelta): it refetches on an unknown kid only this close to max-age. */
const KUBE_APISERVER_REFETCH_WINDOW_MS = 30_000;

/**
 * Why a kube-apiserver relying party may stay behind for a while: it refetches on an unknown kid only
 * once its cached set has less than 30 s of max-age left (measured, docs/issuer.md), so with a longer
 * maxAge it refuses the probe until then. '' when that cannot be the reason.
 */
function kubeApiserverHint(ctx: Context, behind: readonly { name: string }[]): string {
  const issuer = ctx.spec.issuer;
  if (issuer === undefined || issuer.maxAgeMs <= KUBE_APISERVER_REFETCH_WINDOW_MS) return '';
  const kubernetes = behind.filter(
    (b) => issuer.relyingParties.find((rp) => rp.name === b.name)?.kubernetes !== undefined,
  );
  if (kubernetes.length === 0) return '';
  return (
    `. kube-apiserver refetches on an unknown kid only in the last 30s of max-age, so with maxAge ` +
    `${formatDuration(issuer.maxAgeMs)} ${kubernetes.map((b) => b.name).join(', ')} may take up to ` +
    `${formatDuration(issuer.maxAgeMs - KUBE_APISERVER_REFETCH_WINDOW_MS)} after its last fetch; set spec.issuer.maxAge to 30s or less`
  );
}

/** How soon to look again for the issuer's sake: probes still due, or a compromised key's caches to expire. */
export function issuerRequeueMs(ctx: Context, status: IssuerStatus | undefined): number {
  const issuer = ctx.spec.issuer;
  if (issuer === undefined || status === undefined) return Infinity;
  const key = keyToAccept(ctx.secret)?.fingerprint;
  const behind = (status.relyingParties ?? []).filter((rp) => rp.acceptedKey !== key);
  if (status.compromisedKey !== undefined || (behind.length > 0 && isRotatingOrNew(ctx)))
    return issuer.probeIntervalMs;
  if (behind.some((rp) => acceptedReplacedKey(ctx.secret, rp))) return issuer.probeIntervalMs;
  return behind.length > 0 ? IDLE_PROBE_INTERVAL_MS : Infinity;
}

function isRotatingOrNew(ctx: Context): boolean {
  return ctx.fp.JWT_SECRET_NEW !== undefined && !isSigningScheduled(ctx.secret.rotationDate);
}
