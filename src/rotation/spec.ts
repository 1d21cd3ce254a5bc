/**
 * The spec as the core works with it: defaults applied (by the resolver generated from
 * the CRD, since objects written before a default existed may lack it) and every
 * duration parsed to milliseconds, once.
 */
import {
  resolveJwtRotationSpec,
  type Algorithm,
  type JwtRotationSpec,
  type OnTimeoutPolicy,
  type FailurePolicy,
  type PrometheusQueries,
  type ResolvedMaintenanceWindowSpec,
  WEEKDAYS,
  type ReceiverType,
  type RelyingPartySpec,
  type Target,
  type UnlistedConsumersPolicy,
} from '../api/types.ts';
import { parseDuration } from './duration.ts';
import type { GateReadings, GateThresholds } from './gate-types.ts';
import { isKnownTimeZone, type MaintenanceWindow } from './windows.ts';

/** Gate readings that come from a query (the session baseline comes from status). */
type QueryName = Exclude<keyof GateReadings, 'activeSessionsBaseline'>;

export interface PrometheusSettings {
  url: string;
  timeoutMs: number;
  intervalMs: number;
  window: string;
  /** The window in milliseconds: sessions are compared only from one window after a roll settles. */
  windowMs: number;
  selector: string;
  bearerTokenSecretRef?: { name: string; key: string } | undefined;
  /** A private CA for an HTTPS Prometheus, and the name its certificate must carry. */
  tls?:
    { caSecretRef?: { name: string; key: string } | undefined; serverName?: string | undefined } | undefined;
  /** Overrides of the default PromQL, by reading. */
  queries: Partial<Record<QueryName, string>>;
  thresholds: GateThresholds;
}

/** spec.issuer, resolved (asymmetric algorithms only). */
export interface IssuerSettings {
  url: string;
  maxAgeMs: number;
  cacheMarginMs: number;
  probeIntervalMs: number;
  probeSubject: string;
  relyingParties: RelyingPartySpec[];
}

/** spec.notifications, resolved: where the notices go, and how hard to try. */
export interface NotificationSettings {
  receivers: {
    name: string;
    type: ReceiverType;
    urlSecretRef: { name: string; key: string };
    signingSecretRef?: { name: string; key: string } | undefined;
  }[];
  timeoutMs: number;
  retries: number;
}

export interface ResolvedSpec {
  secretName: string;
  targets: Target[];
  secretLength: number;
  algorithm: Algorithm;
  rsaKeySize: number;
  tokenTTL: string;
  refreshTokenTTL: string;
  tokenTtlMs: number;
  refreshTokenTtlMs: number;
  /** Time between rotations; the default 2160h when neither interval nor cron is set. */
  intervalMs: number;
  /** A calendar schedule instead of intervalMs (the shell computes its times: DecideInput.cron). */
  cron?: { expression: string; timeZone: string } | undefined;
  /**
   * The window scheduled rotations are spread over (spec.schedule.spreadWindow; ./spread.ts): with
   * interval, a tenth of it, at most 24h, by default; with cron, 0 by default.
   */
  spreadWindowMs: number;
  /** When rotations may start; empty: any time. */
  maintenanceWindows: MaintenanceWindow[];
  /** Requested (annotation) rotations wait for a window too. */
  requestsWaitForWindow: boolean;
  /** The signing switch and completion wait for a window too. */
  disruptiveStepsWaitForWindow: boolean;
  signingDelayMs: number;
  pollIntervalMs: number;
  /** The operator evicts the old pods of OnDelete StatefulSets and DaemonSets (spec.rollout.replaceOnDeletePods). */
  replaceOnDeletePods: boolean;
  minMonitoringMs: number;
  maxMonitoringMs: number;
  onTimeout: OnTimeoutPolicy;
  requireOldTokenExpiry: boolean;
  unlistedConsumers: UnlistedConsumersPolicy;
  failurePolicy: FailurePolicy;
  prometheus?: PrometheusSettings | undefined;
  retentionMs: number;
  suspend: boolean;
  historyLimit: number;
  notifications?: NotificationSettings | undefined;
  issuer?: IssuerSettings | undefined;
}

/** The interval when neither spec.schedule.interval nor spec.schedule.cron is set. */
export const DEFAULT_INTERVAL = '2160h';

/** The default spread window is this fraction of the interval, and at most MAX_DEFAULT_SPREAD_MS. */
const DEFAULT_SPREAD_FRACTION = 0.1;
const MAX_DEFAULT_SPREAD_MS = 24 * 3_600_000;

/** spec.schedule.spreadWindow, or its default for this schedule. */
function spreadWindowMs(
  schedule: { spreadWindow?: string | undefined; cron?: string | undefined },
  intervalMs: number,
  duration: (field: string, value: string) => number,
): number {
  if (schedule.spreadWindow !== undefined) return duration('schedule.spreadWindow', schedule.spreadWindow);
  if (schedule.cron !== undefined) return 0;
  return Math.min(Math.floor(intervalMs * DEFAULT_SPREAD_FRACTION), MAX_DEFAULT_SPREAD_MS);
}

const HH_MM = /^([01][0-9]|2[0-3]):([0-5][0-9])$/;

/** One spec.schedule.maintenanceWindows entry, checked again (objects admitted before the CRD's rules). */
function maintenanceWindow(
  w: ResolvedMaintenanceWindowSpec,
  field: string,
  duration: (field: string, value: string) => number,
): MaintenanceWindow {
  const time = HH_MM.exec(w.start);
  if (time === null) throw new Error(`spec.${field}.start: "${w.start}" is not a time like 02:00`);
  const durationMs = duration(`${field}.duration`, w.duration);
  if (durationMs < 60_000 || durationMs > 168 * 3_600_000) {
    throw new Error(`spec.${field}.duration must be between 1m and 168h`);
  }
  if (!isKnownTimeZone(w.timeZone)) {
    throw new Error(
      `spec.${field}.timeZone: "${w.timeZone}" is not a time zone this operator knows (an IANA name such as Europe/Berlin)`,
    );
  }
  return {
    // WEEKDAYS starts on Monday; MaintenanceWindow.days counts from Sunday (0).
    days: (w.days ?? []).map((d) => (WEEKDAYS.indexOf(d) + 1) % 7),
    startMinutes: Number(time[1]) * 60 + Number(time[2]),
    durationMs,
    timeZone: w.timeZone,
  };
}

/** A comma-separated list of PromQL label matchers, or nothing: the CRD's pattern for the selector. */
const LABEL_MATCHERS =
  /^(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"([^"\\]|\\.)*"\s*(,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"([^"\\]|\\.)*"\s*)*,?\s*)?$/;

/** spec.monitoring.prometheus.queries names → the reading each one overrides. */
function queryOverrides(queries: PrometheusQueries | undefined): Partial<Record<QueryName, string>> {
  if (queries === undefined) return {};
  const { validationLatencyP99, ...sameName } = queries;
  return {
    ...sameName,
    ...(validationLatencyP99 === undefined ? {} : { validationLatencyP99Seconds: validationLatencyP99 }),
  };
}

type Duration = (field: string, value: string) => number;
type Defaulted = ReturnType<typeof resolveJwtRotationSpec>;

/** The resolved spec, or an error naming the field a human must fix. */
export function resolveSpec(
  spec: JwtRotationSpec,
): { ok: true; spec: ResolvedSpec } | { ok: false; message: string } {
  const duration: Duration = (field, value) => {
    try {
      return parseDuration(value);
    } catch (error) {
      throw new Error(`spec.${field}: ${(error as Error).message}`, { cause: error });
    }
  };
  try {
    const r = resolveJwtRotationSpec(spec);
    const resolved = resolveFields(r, duration);
    const message = specProblem(r, resolved);
    return message === undefined ? { ok: true, spec: resolved } : { ok: false, message };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}

function resolveFields(r: Defaulted, duration: Duration): ResolvedSpec {
  const intervalMs = duration('schedule.interval', r.schedule.interval ?? DEFAULT_INTERVAL);
  return {
    secretName: r.secretName,
    targets: r.targets,
    secretLength: r.secretLength,
    algorithm: r.algorithm,
    rsaKeySize: r.rsaKeySize,
    tokenTTL: r.tokenTTL,
    refreshTokenTTL: r.refreshTokenTTL,
    tokenTtlMs: duration('tokenTTL', r.tokenTTL),
    refreshTokenTtlMs: duration('refreshTokenTTL', r.refreshTokenTTL),
    intervalMs,
    spreadWindowMs: spreadWindowMs(r.schedule, intervalMs, duration),
    cron:
      r.schedule.cron === undefined
        ? undefined
        : { expression: r.schedule.cron.trim(), timeZone: r.schedule.cronTimeZone },
    maintenanceWindows: (r.schedule.maintenanceWindows ?? []).map((w, i) =>
      maintenanceWindow(w, `schedule.maintenanceWindows[${i}]`, duration),
    ),
    requestsWaitForWindow: r.schedule.requestsWaitForWindow,
    disruptiveStepsWaitForWindow: r.schedule.disruptiveStepsWaitForWindow,
    signingDelayMs: duration('rollout.signingDelay', r.rollout.signingDelay),
    pollIntervalMs: duration('rollout.pollInterval', r.rollout.pollInterval),
    replaceOnDeletePods: r.rollout.replaceOnDeletePods,
    minMonitoringMs: duration('monitoring.minDuration', r.monitoring.minDuration),
    maxMonitoringMs: duration('monitoring.maxDuration', r.monitoring.maxDuration),
    onTimeout: r.monitoring.onTimeout,
    requireOldTokenExpiry: r.monitoring.requireOldTokenExpiry,
    unlistedConsumers: r.unlistedConsumers,
    failurePolicy: r.monitoring.failurePolicy,
    retentionMs: duration('rollback.retention', r.rollback.retention),
    suspend: r.suspend,
    historyLimit: r.historyLimit,
    notifications: resolveNotifications(r.notifications, duration),
    issuer: resolveIssuer(r.issuer, duration),
    prometheus: resolvePrometheus(r.monitoring.prometheus, duration),
  };
}

function resolveNotifications(
  n: Defaulted['notifications'],
  duration: Duration,
): ResolvedSpec['notifications'] {
  if (n === undefined) return undefined;
  return {
    receivers: n.receivers,
    timeoutMs: duration('notifications.timeout', n.timeout),
    retries: n.retries,
  };
}

function resolveIssuer(i: Defaulted['issuer'], duration: Duration): ResolvedSpec['issuer'] {
  if (i === undefined) return undefined;
  return {
    url: i.url,
    maxAgeMs: duration('issuer.maxAge', i.maxAge),
    cacheMarginMs: duration('issuer.cacheMargin', i.cacheMargin),
    probeIntervalMs: duration('issuer.probeInterval', i.probeInterval),
    probeSubject: i.probeSubject,
    relyingParties: i.relyingParties ?? [],
  };
}

function resolvePrometheus(
  prometheus: Defaulted['monitoring']['prometheus'],
  duration: Duration,
): ResolvedSpec['prometheus'] {
  if (prometheus === undefined) return undefined;
  return {
    url: prometheus.url,
    timeoutMs: duration('monitoring.prometheus.timeout', prometheus.timeout),
    intervalMs: duration('monitoring.prometheus.interval', prometheus.interval),
    window: prometheus.window,
    windowMs: duration('monitoring.prometheus.window', prometheus.window),
    selector: prometheus.selector,
    bearerTokenSecretRef: prometheus.bearerTokenSecretRef,
    tls: prometheus.tls,
    queries: queryOverrides(prometheus.queries),
    thresholds: prometheus.thresholds,
  };
}

/** What the CRD's schema cannot say (or did not, for objects admitted before it did), or undefined. */
function specProblem(r: Defaulted, resolved: ResolvedSpec): string | undefined {
  // The CRD's pattern refuses anything else; objects admitted before it existed are caught here.
  if (resolved.prometheus !== undefined && !LABEL_MATCHERS.test(resolved.prometheus.selector))
    return 'spec.monitoring.prometheus.selector must be a comma-separated list of label matchers such as job="api",namespace="prod"';
  if (r.schedule.interval !== undefined && r.schedule.cron !== undefined)
    return 'set spec.schedule.interval or spec.schedule.cron, not both';
  if (resolved.cron === undefined && resolved.spreadWindowMs * 2 > resolved.intervalMs)
    return 'spec.schedule.spreadWindow must not exceed half of spec.schedule.interval';
  if (resolved.cron !== undefined && !isKnownTimeZone(resolved.cron.timeZone))
    return `spec.schedule.cronTimeZone: "${resolved.cron.timeZone}" is not a time zone this operator knows (an IANA name such as Europe/Berlin)`;
  if (resolved.issuer !== undefined && resolved.algorithm.startsWith('HS'))
    return 'spec.issuer needs an asymmetric algorithm (RS256, ES256 or EdDSA): an HMAC key is a shared secret and cannot be published';
  if (resolved.minMonitoringMs > resolved.maxMonitoringMs)
    return 'spec.monitoring.minDuration must not exceed spec.monitoring.maxDuration';
  return undefined;
}
