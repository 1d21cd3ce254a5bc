/**
 * PromQL over the Prometheus HTTP API (`POST /api/v1/query`), one number per query, with a timeout.
 * The gate needs single numbers, so a query must aggregate to at most one series.
 */
import type { GateReadings } from '../../rotation/gate-types.ts';
import { PrometheusError, PrometheusErrorReasons } from './errors.ts';
import { GATE_QUERY_NAMES, type GateQueries } from './queries.ts';

export { PrometheusError, PrometheusErrorReasons } from './errors.ts';
export {
  DEFAULT_QUERIES,
  DEFAULT_QUERY_TEMPLATES,
  GATE_QUERY_NAMES,
  buildGateQueries,
  normaliseSelector,
  renderQuery,
  toPromDuration,
} from './queries.ts';

interface PrometheusClientOptions {
  /** Base URL of Prometheus (or of a compatible API such as Thanos Query), path prefix allowed. */
  url: string;
  timeoutMs: number;
  /** Sent as `Authorization: Bearer …`; never appears in errors. */
  bearerToken?: string | undefined;
  /** For tests; defaults to the global fetch. */
  fetch?: typeof fetch | undefined;
}

/** What readGate needs, so tests can pass a fake. */
export interface PromQuerier {
  query(promql: string): Promise<number | undefined>;
}

/** Longest excerpt of a response body or query quoted in an error. */
const EXCERPT_CHARS = 200;

export class PrometheusClient implements PromQuerier {
  readonly #endpoint: URL;
  readonly #displayUrl: string;
  readonly #timeoutMs: number;
  readonly #bearerToken: string | undefined;
  readonly #fetch: typeof fetch;

  constructor(opts: PrometheusClientOptions) {
    const base = URL.canParse(opts.url) ? new URL(opts.url) : undefined;
    if (base === undefined || (base.protocol !== 'http:' && base.protocol !== 'https:')) {
      // Not echoed: a malformed URL may still carry credentials.
      throw new PrometheusError(
        PrometheusErrorReasons.InvalidUrl,
        'The Prometheus URL is not an http(s) URL',
      );
    }
    if (!base.pathname.endsWith('/')) base.pathname += '/';
    this.#endpoint = new URL('api/v1/query', base);
    this.#displayUrl = displayUrl(base);
    this.#timeoutMs = opts.timeoutMs;
    this.#bearerToken = opts.bearerToken === '' ? undefined : opts.bearerToken;
    this.#fetch = opts.fetch ?? globalThis.fetch;
  }

  /**
   * The query's single value: a scalar, or the one sample of an instant vector. No sample or NaN → undefined
   * (the gate reads that as missing data); +Inf/-Inf are returned as numbers. Throws PrometheusError.
   */
  async query(promql: string): Promise<number | undefined> {
    // One deadline for the whole exchange: a server may send headers and then stall the body.
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort();
    }, this.#timeoutMs);
    try {
      const response = await this.#post(promql, controller.signal);
      const text = await response.text().catch((error: unknown) => {
        throw this.#networkError(error, controller.signal);
      });
      return parseResult(this.#parseBody(response, text, promql), promql);
    } catch (error) {
      throw this.#redact(error);
    } finally {
      clearTimeout(timer);
    }
  }

  async #post(promql: string, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    if (this.#bearerToken !== undefined) headers.authorization = `Bearer ${this.#bearerToken}`;
    try {
      // POST, not GET: long queries with selectors can exceed URL limits of proxies in front of Prometheus.
      return await this.#fetch(this.#endpoint, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ query: promql }).toString(),
        signal,
        // A redirect could lead past the outbound allowlist the URL was checked against.
        redirect: 'error',
      });
    } catch (error) {
      throw this.#networkError(error, signal);
    }
  }

  #networkError(error: unknown, signal: AbortSignal): PrometheusError {
    if (signal.aborted) {
      return new PrometheusError(
        PrometheusErrorReasons.Timeout,
        `Prometheus at ${this.#displayUrl} did not answer within ${this.#timeoutMs} ms`,
      );
    }
    return new PrometheusError(
      PrometheusErrorReasons.Unreachable,
      `Prometheus at ${this.#displayUrl} is unreachable (${describeNetworkError(error)})`,
      { cause: error },
    );
  }

  /** Both success and PromQL errors are JSON; anything else is a proxy or server speaking. */
  #parseBody(response: Response, text: string, promql: string): ApiResponse {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (isApiResponse(body) && body.status === 'error') {
      throw new PrometheusError(
        PrometheusErrorReasons.QueryFailed,
        `Prometheus at ${this.#displayUrl} rejected the query ${quote(promql)} (${body.errorType ?? 'error'}: ${excerpt(body.error ?? 'no detail')})`,
        { status: response.status },
      );
    }
    if (!response.ok) {
      throw new PrometheusError(
        PrometheusErrorReasons.HttpError,
        `Prometheus at ${this.#displayUrl} answered HTTP ${response.status} ${response.statusText}: ${excerpt(text)}`.trimEnd(),
        { status: response.status },
      );
    }
    if (!isApiResponse(body)) {
      throw new PrometheusError(
        PrometheusErrorReasons.BadResponse,
        `Prometheus at ${this.#displayUrl} answered something other than the query API's JSON: ${excerpt(text)}`,
        { status: response.status },
      );
    }
    return body;
  }

  /** Defence in depth: an echoing proxy must not put the token into a condition message. */
  #redact(error: unknown): unknown {
    const token = this.#bearerToken;
    if (!(error instanceof PrometheusError) || token === undefined || !error.message.includes(token))
      return error;
    return new PrometheusError(error.reason, error.message.split(token).join('[redacted]'), {
      status: error.status,
    });
  }
}

/**
 * Runs every gate query at once and returns the readings (without the session baseline, which the rotation
 * keeps itself). Any failed query fails the whole read, attributed to its reading: a half-read gate would be
 * judged on a mix of data and holes.
 */
export async function readGate(client: PromQuerier, queries: GateQueries): Promise<GateReadings> {
  const settled = await Promise.allSettled(GATE_QUERY_NAMES.map((name) => client.query(queries[name])));
  const readings: GateReadings = {};
  for (const [index, name] of GATE_QUERY_NAMES.entries()) {
    const outcome = settled[index];
    if (outcome === undefined) continue;
    if (outcome.status === 'rejected') {
      const error: unknown = outcome.reason;
      if (error instanceof PrometheusError) throw error.forReading(name);
      throw error;
    }
    readings[name] = outcome.value;
  }
  return readings;
}

// ---- response parsing ---------------------------------------------------------------------------------------

type Sample = [number, string];

interface ApiResponse {
  status: 'success' | 'error';
  data?: { resultType?: string; result?: unknown };
  errorType?: string;
  error?: string;
}

function isApiResponse(body: unknown): body is ApiResponse {
  if (typeof body !== 'object' || body === null) return false;
  const status = (body as { status?: unknown }).status;
  return status === 'success' || status === 'error';
}

function parseResult(body: ApiResponse, promql: string): number | undefined {
  const resultType = body.data?.resultType;
  const result = body.data?.result;
  if (resultType === 'scalar') return parseSample(result);
  if (resultType === 'vector' && Array.isArray(result)) {
    if (result.length === 0) return undefined;
    if (result.length > 1) {
      throw new PrometheusError(
        PrometheusErrorReasons.AmbiguousResult,
        `The query ${quote(promql)} returned ${result.length} series (first: ${excerpt(JSON.stringify((result[0] as { metric?: unknown }).metric ?? {}))}); aggregate it to one, e.g. with sum()`,
      );
    }
    return parseSample((result[0] as { value?: unknown }).value);
  }
  if (resultType === 'matrix' || resultType === 'string') {
    throw new PrometheusError(
      PrometheusErrorReasons.AmbiguousResult,
      `The query ${quote(promql)} returned a ${resultType}; the gate needs an instant vector or a scalar`,
    );
  }
  throw new PrometheusError(
    PrometheusErrorReasons.BadResponse,
    `Prometheus answered an unknown result type "${String(resultType)}" for ${quote(promql)}`,
  );
}

function parseSample(sample: unknown): number | undefined {
  if (!isSample(sample)) {
    throw new PrometheusError(
      PrometheusErrorReasons.BadResponse,
      `Prometheus answered a malformed sample ${excerpt(sample === undefined ? 'undefined' : JSON.stringify(sample))}`,
    );
  }
  const text = sample[1];
  // Prometheus spells special floats its own way; Number("+Inf") would be NaN.
  if (text === 'NaN') return undefined;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  const value = Number(text);
  if (text.trim() === '' || Number.isNaN(value)) {
    throw new PrometheusError(
      PrometheusErrorReasons.BadResponse,
      `Prometheus answered a non-number "${excerpt(text)}"`,
    );
  }
  return value;
}

function isSample(value: unknown): value is Sample {
  return Array.isArray(value) && value.length === 2 && typeof value[1] === 'string';
}

// ---- message helpers ----------------------------------------------------------------------------------------

/** The URL as safe to show: no user:password, no query string. */
function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/$/, '')}`;
}

/** undici reports "fetch failed" and puts the useful part (ECONNREFUSED, ENOTFOUND) in the cause. */
function describeNetworkError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current.message !== '' && current.message !== 'fetch failed') parts.push(current.message);
    current = current.cause;
  }
  return parts.length > 0 ? parts.join(': ') : 'fetch failed';
}

function excerpt(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > EXCERPT_CHARS ? `${oneLine.slice(0, EXCERPT_CHARS)}…` : oneLine;
}

function quote(promql: string): string {
  return `"${excerpt(promql)}"`;
}
