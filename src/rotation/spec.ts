/**
 * The spec as the core works with it: defaults applied (by the resolver generated from
 * the CRD, since objects written before a default existed may lack it) and every
 * duration parsed to milliseconds, once.
 */
import {
  resolveJwtRotationSpec,
  type JwtRotationSpec,
  type OnTimeoutPolicy,
  type FailurePolicy,
  type PrometheusQueries,
  type ReceiverType,
  type Target,
  type UnlistedConsumersPolicy,
} from '../api/types.ts';
import { parseDuration } from './duration.ts';
import type { GateReadings, GateThresholds } from './gate-types.ts';

/** Gate readings that come from a query (the session baseline comes from status). */
type QueryName = Exclude<keyof GateReadings, 'activeSessionsBaseline'>;

export interface PrometheusSettings {
  url: string;
  timeoutMs: number;
  intervalMs: number;
  window: string;
  selector: string;
  bearerTokenSecretRef?: { name: string; key: string } | undefined;
  /** Overrides of the default PromQL, by reading. */
  queries: Partial<Record<QueryName, string>>;
  thresholds: GateThresholds;
}

/** spec.notifications, resolved: where the notices go, and how hard to try. */
export interface NotificationSettings {
  receivers: { name: string; type: ReceiverType; urlSecretRef: { name: string; key: string } }[];
  timeoutMs: number;
  retries: number;
}

export interface ResolvedSpec {
  secretName: string;
  targets: Target[];
  secretLength: number;
  tokenTTL: string;
  refreshTokenTTL: string;
  tokenTtlMs: number;
  refreshTokenTtlMs: number;
  intervalMs: number;
  signingDelayMs: number;
  pollIntervalMs: number;
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

/** The resolved spec, or an error naming the field a human must fix. */
export function resolveSpec(
  spec: JwtRotationSpec,
): { ok: true; spec: ResolvedSpec } | { ok: false; message: string } {
  const duration = (field: string, value: string): number => {
    try {
      return parseDuration(value);
    } catch (error) {
      throw new Error(`spec.${field}: ${(error as Error).message}`, { cause: error });
    }
  };
  try {
    const r = resolveJwtRotationSpec(spec);
    const prometheus = r.monitoring.prometheus;
    const resolved: ResolvedSpec = {
      secretName: r.secretName,
      targets: r.targets,
      secretLength: r.secretLength,
      tokenTTL: r.tokenTTL,
      refreshTokenTTL: r.refreshTokenTTL,
      tokenTtlMs: duration('tokenTTL', r.tokenTTL),
      refreshTokenTtlMs: duration('refreshTokenTTL', r.refreshTokenTTL),
      intervalMs: duration('schedule.interval', r.schedule.interval),
      signingDelayMs: duration('rollout.signingDelay', r.rollout.signingDelay),
      pollIntervalMs: duration('rollout.pollInterval', r.rollout.pollInterval),
      minMonitoringMs: duration('monitoring.minDuration', r.monitoring.minDuration),
      maxMonitoringMs: duration('monitoring.maxDuration', r.monitoring.maxDuration),
      onTimeout: r.monitoring.onTimeout,
      requireOldTokenExpiry: r.monitoring.requireOldTokenExpiry,
      unlistedConsumers: r.unlistedConsumers,
      failurePolicy: r.monitoring.failurePolicy,
      retentionMs: duration('rollback.retention', r.rollback.retention),
      suspend: r.suspend,
      historyLimit: r.historyLimit,
      notifications:
        r.notifications === undefined
          ? undefined
          : {
              receivers: r.notifications.receivers,
              timeoutMs: duration('notifications.timeout', r.notifications.timeout),
              retries: r.notifications.retries,
            },
      prometheus:
        prometheus === undefined
          ? undefined
          : {
              url: prometheus.url,
              timeoutMs: duration('monitoring.prometheus.timeout', prometheus.timeout),
              intervalMs: duration('monitoring.prometheus.interval', prometheus.interval),
              window: prometheus.window,
              selector: prometheus.selector,
              bearerTokenSecretRef: prometheus.bearerTokenSecretRef,
              queries: queryOverrides(prometheus.queries),
              thresholds: prometheus.thresholds,
            },
    };
    // The CRD's pattern refuses anything else; objects admitted before it existed are caught here.
    if (resolved.prometheus !== undefined && !LABEL_MATCHERS.test(resolved.prometheus.selector)) {
      return {
        ok: false,
        message:
          'spec.monitoring.prometheus.selector must be a comma-separated list of label matchers such as job="api",namespace="prod"',
      };
    }
    if (resolved.minMonitoringMs > resolved.maxMonitoringMs) {
      return {
        ok: false,
        message: 'spec.monitoring.minDuration must not exceed spec.monitoring.maxDuration',
      };
    }
    return { ok: true, spec: resolved };
  } catch (error) {
    return { ok: false, message: (error as Error).message };
  }
}
