/**
 * The default PromQL for each gate reading, written against docs/metrics-contract.md.
 *
 * Templates carry two placeholders:
 * - `$window`: the range of every rate()/increase(), e.g. `5m`.
 * - `$selector`: extra label matchers without braces, e.g. `job="my-api",namespace="prod"`; empty by default.
 *   It sits last inside `{...}` so that, when empty, it leaves `{result="success",}` or `{}`, both valid PromQL.
 * User overrides (spec.monitoring.prometheus.queries) may use the same placeholders.
 */
import type { GateReadings } from '../../rotation/gate-types.ts';
import { parseDuration } from '../../rotation/duration.ts';

/** Readings that come from Prometheus; the session baseline comes from the rotation's own status. */
type GateQueryName = Exclude<keyof GateReadings, 'activeSessionsBaseline'>;
export type GateQueries = Record<GateQueryName, string>;

export const GATE_QUERY_NAMES: readonly GateQueryName[] = [
  'newKeyShare',
  'authSuccessRate',
  'validationLatencyP99Seconds',
  'errorRate',
  'activeSessions',
  'samples',
];

const DEFAULT_WINDOW = '5m';

const validations = 'jwt_validations_total';
const rate = (matchers: string): string => `sum(rate(${validations}{${matchers}$selector}[$window]))`;

/**
 * Numerators end in `or vector(0)` so that a label combination that never occurred counts as zero instead of
 * making the whole ratio empty (a consumer that has only ever failed has no result="success" series).
 * Denominators stay bare: no traffic at all must read as missing, not as 0%.
 */
export const DEFAULT_QUERY_TEMPLATES: Readonly<GateQueries> = Object.freeze({
  newKeyShare: `(${rate('result="success",key_version="new",')} or vector(0)) / ${rate('result="success",')}`,
  // Counts against us: errors, and rejections no key could verify (key_version="none": what a broken rotation
  // produces). Not: rejections of tokens a known key verified (expired, wrong audience), which are ordinary
  // client behaviour and would otherwise trip 99.5% on any service with stale browser tabs. `or` unions the two
  // selections by series, so a {key_version="none",result="error"} series is counted once.
  authSuccessRate:
    `(${rate('result="success",')} or vector(0)) / ` +
    `sum(rate(${validations}{result!="rejected",$selector}[$window]) or rate(${validations}{key_version="none",$selector}[$window]))`,
  validationLatencyP99Seconds:
    'histogram_quantile(0.99, sum by (le) (rate(jwt_validation_duration_seconds_bucket{$selector}[$window])))',
  errorRate: `(${rate('result="error",')} or vector(0)) / ${rate('')}`,
  activeSessions: 'sum(jwt_active_sessions{$selector})',
  samples: `sum(increase(${validations}{$selector}[$window]))`,
});

interface QueryParameters {
  /**
   * The range of every rate()/increase(). A Prometheus duration (`30s`, `5m`, `1h30m`) or a Go duration as the
   * CRD allows (`1.5h`, `90s`), converted to whole milliseconds. Default `5m`.
   */
  window?: string | undefined;
  /** Label matchers added to every metric, with or without the surrounding braces: `job="my-api"`. */
  selector?: string | undefined;
}

/**
 * How spec.monitoring.prometheus.queries names each reading. Only the latency differs: the CRD field is
 * `validationLatencyP99`, the reading `validationLatencyP99Seconds`. Both spellings are accepted.
 */
const QUERY_OVERRIDE_FIELDS: Readonly<Record<GateQueryName, string>> = Object.freeze({
  newKeyShare: 'newKeyShare',
  authSuccessRate: 'authSuccessRate',
  validationLatencyP99Seconds: 'validationLatencyP99',
  errorRate: 'errorRate',
  activeSessions: 'activeSessions',
  samples: 'samples',
});

interface BuildGateQueriesOptions extends QueryParameters {
  /** Templates that replace defaults, keyed by CRD field or reading name; empty strings are ignored. */
  overrides?: Readonly<Partial<Record<string, string | undefined>>> | undefined;
}

/** The six queries to run: defaults, with any overrides on top, with placeholders filled in. */
export function buildGateQueries(options: BuildGateQueriesOptions = {}): GateQueries {
  const queries = {} as GateQueries;
  for (const name of GATE_QUERY_NAMES) {
    const override = options.overrides?.[QUERY_OVERRIDE_FIELDS[name]] ?? options.overrides?.[name];
    const template =
      override !== undefined && override.trim() !== '' ? override : DEFAULT_QUERY_TEMPLATES[name];
    queries[name] = renderQuery(template, options);
  }
  return queries;
}

/** The defaults for a 5m window and no selector. */
export const DEFAULT_QUERIES: Readonly<GateQueries> = Object.freeze(buildGateQueries());

/** Fills `$window` and `$selector` in a template. Throws a RangeError on a window that is not a duration. */
export function renderQuery(template: string, parameters: QueryParameters = {}): string {
  const window = toPromDuration(parameters.window ?? DEFAULT_WINDOW);
  const selector = normaliseSelector(parameters.selector ?? '');
  return template
    .replace(/\$window\b/g, window)
    .replace(/\$selector\b/g, selector === '' ? '' : `${selector},`);
}

/** `{job="x"}` and `job="x",` both become `job="x"`, so users may write either. */
export function normaliseSelector(selector: string): string {
  let s = selector.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1).trim();
  return s.replace(/,\s*$/, '');
}

const promUnits: readonly [string, number][] = [
  ['h', 3.6e6],
  ['m', 6e4],
  ['s', 1e3],
  ['ms', 1],
];

/**
 * A Prometheus range for a window. Prometheus durations pass unchanged; Go durations (the CRD's format, which
 * allows fractions and ns/us) become the equivalent whole-millisecond Prometheus duration, e.g. 1.5h → 1h30m.
 */
export function toPromDuration(window: string): string {
  if (/^(\d+(ms|s|m|h|d|w|y))+$/.test(window)) return window;
  let ms: number;
  try {
    ms = parseDuration(window);
  } catch {
    ms = Number.NaN;
  }
  if (!(ms >= 1)) {
    throw new RangeError(`"${window}" is not a duration of at least 1ms (examples: 30s, 5m, 1h30m)`);
  }
  let text = '';
  for (const [unit, size] of promUnits) {
    const whole = Math.floor(ms / size);
    if (whole > 0) text += `${whole}${unit}`;
    ms -= whole * size;
  }
  return text;
}
