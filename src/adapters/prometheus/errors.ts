/** Why a Prometheus query failed, as a CamelCase reason fit for a condition or an Event. */
export const PrometheusErrorReasons = {
  /** The configured URL is not an absolute http(s) URL. A configuration error. */
  InvalidUrl: 'PrometheusInvalidUrl',
  /** The connection failed: DNS, refused, reset, TLS. Transient. */
  Unreachable: 'PrometheusUnreachable',
  /** No answer within timeoutMs. Transient. */
  Timeout: 'PrometheusTimeout',
  /** A non-2xx answer that is not a PromQL error (proxy, auth, 5xx). Transient unless 4xx. */
  HttpError: 'PrometheusHttpError',
  /** Prometheus rejected or failed the query (bad_data, execution, timeout). Usually a configuration error. */
  QueryFailed: 'PrometheusQueryFailed',
  /** The body was not the JSON the HTTP API documents. */
  BadResponse: 'PrometheusBadResponse',
  /** The query returned several series or a range: it must aggregate to one number. A configuration error. */
  AmbiguousResult: 'PrometheusAmbiguousResult',
} as const;

type PrometheusErrorReason = (typeof PrometheusErrorReasons)[keyof typeof PrometheusErrorReasons];

const transientReasons: ReadonlySet<PrometheusErrorReason> = new Set([
  PrometheusErrorReasons.Unreachable,
  PrometheusErrorReasons.Timeout,
]);

interface PrometheusErrorDetails {
  /** HTTP status, when Prometheus answered. */
  status?: number | undefined;
  /** Which gate reading the query was for, when known (set by readGate). */
  reading?: string | undefined;
  cause?: unknown;
}

/**
 * Every failure of the Prometheus adapter. Messages name the server (without credentials) and the failure;
 * they never contain the bearer token.
 */
export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
  readonly reason: PrometheusErrorReason;
  readonly status: number | undefined;
  readonly reading: string | undefined;

  constructor(reason: PrometheusErrorReason, message: string, details: PrometheusErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.reason = reason;
    this.status = details.status;
    this.reading = details.reading;
  }

  /** Worth retrying as is: the server was down, slow, or answered 5xx/429. Otherwise fix the configuration. */
  get transient(): boolean {
    if (transientReasons.has(this.reason)) return true;
    return (
      this.reason === PrometheusErrorReasons.HttpError && (this.status === 429 || (this.status ?? 0) >= 500)
    );
  }

  /** The same failure, attributed to one gate reading. */
  forReading(reading: string): PrometheusError {
    return new PrometheusError(this.reason, `${reading}: ${this.message}`, {
      status: this.status,
      reading,
      cause: this,
    });
  }
}
