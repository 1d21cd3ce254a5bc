import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { expect } from 'chai';

import {
  DEFAULT_QUERIES,
  DEFAULT_QUERY_TEMPLATES,
  GATE_QUERY_NAMES,
  PrometheusClient,
  PrometheusError,
  PrometheusErrorReasons,
  buildGateQueries,
  normaliseSelector,
  readGate,
  renderQuery,
  toPromDuration,
  type PromQuerier,
} from '../../src/adapters/prometheus/client.ts';

const TOKEN = 'super-secret-bearer-token-123';

interface Recorded {
  url: string;
  init: RequestInit | undefined;
}

/** A fetch that answers every request with one canned response and records what it was asked. */
function cannedFetch(status: number, body: unknown, calls: Recorded[] = []): typeof fetch {
  return (input, init) => {
    calls.push({ url: String(input instanceof Request ? input.url : input), init });
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    return Promise.resolve(new Response(text, { status, statusText: status === 200 ? 'OK' : 'Nope' }));
  };
}

function vector(...values: string[]): unknown {
  return {
    status: 'success',
    data: {
      resultType: 'vector',
      result: values.map((v, i) => ({ metric: { instance: `pod-${i}` }, value: [1700000000, v] })),
    },
  };
}

function client(
  fetchImpl: typeof fetch,
  extra: { bearerToken?: string; url?: string } = {},
): PrometheusClient {
  return new PrometheusClient({
    url: extra.url ?? 'http://prom.test:9090',
    timeoutMs: 200,
    fetch: fetchImpl,
    ...extra,
  });
}

async function rejection(promise: Promise<unknown>): Promise<PrometheusError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(PrometheusError);
    return error as PrometheusError;
  }
  throw new Error('expected a rejection');
}

describe('PrometheusClient.query', () => {
  const values: [name: string, body: unknown, expected: number | undefined][] = [
    ['returns the single sample of an instant vector', vector('0.97'), 0.97],
    ['returns a scalar', { status: 'success', data: { resultType: 'scalar', result: [1, '42'] } }, 42],
    ['returns undefined for an empty vector', vector(), undefined],
    ['returns undefined for NaN (0/0 without traffic)', vector('NaN'), undefined],
    ['returns +Infinity for +Inf (a quantile in the +Inf bucket)', vector('+Inf'), Number.POSITIVE_INFINITY],
    ['returns -Infinity for -Inf', vector('-Inf'), Number.NEGATIVE_INFINITY],
    ['parses exponent notation', vector('1e-3'), 0.001],
  ];
  for (const [name, body, expected] of values) {
    it(name, async () => {
      expect(await client(cannedFetch(200, body)).query('q')).to.equal(expected);
    });
  }

  it('POSTs the query form-encoded to /api/v1/query under a path prefix', async () => {
    const calls: Recorded[] = [];
    await client(cannedFetch(200, vector('1'), calls), { url: 'http://prom.test/prometheus' }).query(
      'up{a="b"}',
    );
    expect(calls).to.have.length(1);
    expect(calls[0]!.url).to.equal('http://prom.test/prometheus/api/v1/query');
    expect(calls[0]!.init?.method).to.equal('POST');
    expect(calls[0]!.init?.body as string).to.equal('query=up%7Ba%3D%22b%22%7D');
  });

  it('sends the bearer token as an Authorization header', async () => {
    const calls: Recorded[] = [];
    await client(cannedFetch(200, vector('1'), calls), { bearerToken: TOKEN }).query('up');
    const headers = calls[0]!.init?.headers as Record<string, string>;
    expect(headers.authorization).to.equal(`Bearer ${TOKEN}`);
  });

  it('sends no Authorization header without a token', async () => {
    const calls: Recorded[] = [];
    await client(cannedFetch(200, vector('1'), calls)).query('up');
    expect(calls[0]!.init?.headers).not.to.have.property('authorization');
  });

  it('fails with AmbiguousResult when the query returns several series', async () => {
    const error = await rejection(client(cannedFetch(200, vector('1', '2'))).query('rate(x[5m])'));
    expect(error.reason).to.equal(PrometheusErrorReasons.AmbiguousResult);
    expect(error.message)
      .to.contain('returned 2 series')
      .and.to.contain('sum()')
      .and.to.contain('rate(x[5m])');
    expect(error.transient).to.equal(false);
  });

  it('fails with AmbiguousResult on a range vector', async () => {
    const body = { status: 'success', data: { resultType: 'matrix', result: [] } };
    const error = await rejection(client(cannedFetch(200, body)).query('x[5m]'));
    expect(error.reason).to.equal(PrometheusErrorReasons.AmbiguousResult);
  });

  it('fails with QueryFailed and Prometheus’ own words on a PromQL error', async () => {
    const body = { status: 'error', errorType: 'bad_data', error: 'parse error: unclosed left parenthesis' };
    const error = await rejection(client(cannedFetch(400, body)).query('sum('));
    expect(error.reason).to.equal(PrometheusErrorReasons.QueryFailed);
    expect(error.status).to.equal(400);
    expect(error.message)
      .to.contain('bad_data: parse error: unclosed left parenthesis')
      .and.to.contain('"sum("');
    expect(error.transient).to.equal(false);
  });

  it('fails with HttpError and a body excerpt on a non-API error page', async () => {
    const error = await rejection(client(cannedFetch(503, '<html>upstream down</html>')).query('up'));
    expect(error.reason).to.equal(PrometheusErrorReasons.HttpError);
    expect(error.status).to.equal(503);
    expect(error.message).to.contain('HTTP 503').and.to.contain('upstream down');
    expect(error.transient).to.equal(true);
  });

  it('treats HTTP 401 as a non-transient HttpError', async () => {
    const error = await rejection(client(cannedFetch(401, 'unauthorized')).query('up'));
    expect(error.reason).to.equal(PrometheusErrorReasons.HttpError);
    expect(error.transient).to.equal(false);
  });

  it('fails with BadResponse on a 200 that is not the API JSON', async () => {
    const error = await rejection(client(cannedFetch(200, 'hello')).query('up'));
    expect(error.reason).to.equal(PrometheusErrorReasons.BadResponse);
  });

  it('fails with BadResponse on a vector sample without a value', async () => {
    const body = { status: 'success', data: { resultType: 'vector', result: [{ metric: {} }] } };
    const error = await rejection(client(cannedFetch(200, body)).query('up'));
    expect(error.reason).to.equal(PrometheusErrorReasons.BadResponse);
    expect(error.message).to.contain('malformed sample undefined');
  });

  it('fails with BadResponse on a sample that is not a number', async () => {
    const error = await rejection(client(cannedFetch(200, vector('abc'))).query('up'));
    expect(error.reason).to.equal(PrometheusErrorReasons.BadResponse);
  });

  it('fails with Unreachable, naming the network cause, when the connection fails', async () => {
    const refused: typeof fetch = () =>
      Promise.reject(
        new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 10.0.0.1:9090') }),
      );
    const error = await rejection(client(refused).query('up'));
    expect(error.reason).to.equal(PrometheusErrorReasons.Unreachable);
    expect(error.message).to.equal(
      'Prometheus at http://prom.test:9090 is unreachable (connect ECONNREFUSED 10.0.0.1:9090)',
    );
    expect(error.transient).to.equal(true);
  });

  it('never shows URL credentials in messages', async () => {
    const refused: typeof fetch = () => Promise.reject(new TypeError('fetch failed'));
    const error = await rejection(
      client(refused, { url: 'http://user:hunter2@prom.test:9090/?x=1' }).query('up'),
    );
    expect(error.message).not.to.contain('hunter2');
    expect(error.message).not.to.contain('user');
  });

  it('never shows the bearer token, even when a proxy echoes it', async () => {
    const echo: typeof fetch = (_input, init) => {
      const headers = init?.headers as Record<string, string>;
      return Promise.resolve(new Response(`bad header ${headers.authorization ?? ''}`, { status: 400 }));
    };
    const error = await rejection(client(echo, { bearerToken: TOKEN }).query('up'));
    expect(error.message).not.to.contain(TOKEN);
    expect(error.message).to.contain('[redacted]');
  });

  it('rejects a URL that is not http(s) without echoing it', () => {
    expect(() => new PrometheusClient({ url: 'prom:secret@', timeoutMs: 1 }))
      .to.throw(PrometheusError)
      .with.property('message')
      .that.does.not.contain('secret');
  });

  describe('against a server that stalls', () => {
    let server: Server;
    let url: string;
    let sendHeaders = false;
    before(async () => {
      server = createServer((_req, res) => {
        // Hold the request open, optionally after promising a body.
        if (sendHeaders) res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        if (sendHeaders) res.write('{"status":');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    it('fails with Timeout after timeoutMs', async () => {
      const started = performance.now();
      const error = await rejection(new PrometheusClient({ url, timeoutMs: 150 }).query('up'));
      const elapsed = performance.now() - started;
      expect(error.reason).to.equal(PrometheusErrorReasons.Timeout);
      expect(error.message).to.contain('did not answer within 150 ms');
      expect(elapsed).to.be.within(140, 2000);
    });

    it('fails with Timeout when the headers come but the body stalls', async () => {
      sendHeaders = true;
      const error = await rejection(new PrometheusClient({ url, timeoutMs: 150 }).query('up'));
      expect(error.reason).to.equal(PrometheusErrorReasons.Timeout);
    });
  });
});

describe('readGate', () => {
  const numbers: Record<string, number> = {
    qShare: 0.97,
    qSuccess: 1,
    qP99: 0.003,
    qErrors: 0,
    qSessions: 40,
  };
  const queries = {
    newKeyShare: 'qShare',
    authSuccessRate: 'qSuccess',
    validationLatencyP99Seconds: 'qP99',
    errorRate: 'qErrors',
    activeSessions: 'qSessions',
    samples: 'qSamples',
  };

  it('runs every query concurrently and maps answers to readings, keeping missing ones undefined', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const fake: PromQuerier = {
      async query(promql) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 10));
        inFlight--;
        return numbers[promql];
      },
    };
    expect(await readGate(fake, queries)).to.deep.equal({
      newKeyShare: 0.97,
      authSuccessRate: 1,
      validationLatencyP99Seconds: 0.003,
      errorRate: 0,
      activeSessions: 40,
      samples: undefined,
    });
    expect(maxInFlight).to.equal(GATE_QUERY_NAMES.length);
  });

  it('fails as a whole, naming the reading, when one query fails', async () => {
    const fake: PromQuerier = {
      query(promql) {
        if (promql === 'qP99') {
          return Promise.reject(
            new PrometheusError(PrometheusErrorReasons.QueryFailed, 'boom', { status: 422 }),
          );
        }
        return Promise.resolve(1);
      },
    };
    const error = await rejection(readGate(fake, queries));
    expect(error.reading).to.equal('validationLatencyP99Seconds');
    expect(error.message).to.equal('validationLatencyP99Seconds: boom');
    expect(error.reason).to.equal(PrometheusErrorReasons.QueryFailed);
    expect(error.status).to.equal(422);
  });
});

describe('gate queries', () => {
  it('defaults to a 5m window and no selector', () => {
    expect(DEFAULT_QUERIES.newKeyShare).to.equal(
      '(sum(rate(jwt_validations_total{result="success",key_version="new",}[5m])) or vector(0)) / ' +
        'sum(rate(jwt_validations_total{result="success",}[5m]))',
    );
    expect(DEFAULT_QUERIES.validationLatencyP99Seconds).to.equal(
      'histogram_quantile(0.99, sum by (le) (rate(jwt_validation_duration_seconds_bucket{}[5m])))',
    );
    expect(DEFAULT_QUERIES.activeSessions).to.equal('sum(jwt_active_sessions{})');
    expect(DEFAULT_QUERIES.samples).to.equal('sum(increase(jwt_validations_total{}[5m]))');
    for (const name of GATE_QUERY_NAMES) expect(DEFAULT_QUERIES[name]).not.to.contain('$');
  });

  it('puts the selector into every metric selector and the window into every range', () => {
    const queries = buildGateQueries({ window: '30s', selector: '{job="api",namespace="prod"}' });
    for (const name of GATE_QUERY_NAMES) {
      const metrics = queries[name].match(/jwt_[a-z_]+\{[^}]*\}/g) ?? [];
      expect(metrics, name).not.to.be.empty;
      for (const m of metrics) expect(m, name).to.contain('job="api",namespace="prod",}');
      expect(queries[name], name).not.to.contain('[5m]');
    }
    expect(queries.errorRate).to.contain('[30s]');
  });

  it('takes overrides on top of the defaults and fills their placeholders too', () => {
    const queries = buildGateQueries({
      selector: 'job="api"',
      overrides: { activeSessions: 'max(my_sessions{$selector}) offset $window', errorRate: '  ' },
    });
    expect(queries.activeSessions).to.equal('max(my_sessions{job="api",}) offset 5m');
    expect(queries.errorRate).to.equal(
      renderQuery(DEFAULT_QUERY_TEMPLATES.errorRate, { selector: 'job="api"' }),
    );
  });

  it('accepts the CRD’s spelling validationLatencyP99 for the latency override', () => {
    const queries = buildGateQueries({ overrides: { validationLatencyP99: 'max(my_p99{$selector})' } });
    expect(queries.validationLatencyP99Seconds).to.equal('max(my_p99{})');
  });

  it('refuses a window that is not a duration', () => {
    expect(() => buildGateQueries({ window: '5 minutes' })).to.throw(RangeError, 'not a duration');
    expect(() => buildGateQueries({ window: '10ns' })).to.throw(RangeError, 'at least 1ms');
  });

  const windows: [window: string, range: string][] = [
    ['5m', '5m'],
    ['1h30m', '1h30m'],
    ['2d', '2d'],
    ['1.5h', '1h30m'],
    ['90s', '90s'],
    ['2.5s', '2s500ms'],
    ['1500000us', '1s500ms'],
  ];
  for (const [window, range] of windows) {
    it(`turns the window ${window} into the range [${range}]`, () => {
      expect(toPromDuration(window)).to.equal(range);
    });
  }

  const selectors: [input: string, normalised: string][] = [
    ['', ''],
    ['job="a"', 'job="a"'],
    ['{job="a"}', 'job="a"'],
    [' { job="a", ns="b", } ', 'job="a", ns="b"'],
  ];
  for (const [input, normalised] of selectors) {
    it(`normalises the selector ${JSON.stringify(input)}`, () => {
      expect(normaliseSelector(input)).to.equal(normalised);
    });
  }
});
