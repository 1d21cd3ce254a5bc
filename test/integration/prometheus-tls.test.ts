/**
 * The metrics gate when Prometheus is not a friendly plain-HTTP server: a real Prometheus behind TLS
 * with a private CA (trusted through a CA bundle from a Secret, with a bearer token from another),
 * and endpoints that hang, answer garbage or fail. None of them may complete or roll back a
 * rotation; each shows in MetricsAvailable with its reason, and the rotation completes once the
 * gate can be read again.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { expect } from 'chai';

import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { waitFor } from '../support/cluster.ts';
import { startGatedEnvironment, type GatedEnvironment } from '../support/gated-env.ts';
import {
  removeJwtRotations,
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  getJwtRotation,
  patchSpec,
  secretValues,
  waitForPhase,
} from '../support/jwt-rotations.ts';
import { operatorSuite } from '../support/operator-suite.ts';
import { makeTestPki, type TestPki } from '../support/tls.ts';

type Mode = 'hang' | 'garbage' | 'error' | 'huge';

const metricsCondition = (r: JwtRotation) => r.status?.conditions?.find((c) => c.type === 'MetricsAvailable');

function gatedSpec(
  prometheus: NonNullable<NonNullable<JwtRotationSpec['monitoring']>['prometheus']>,
): JwtRotationSpec & { monitoring: NonNullable<JwtRotationSpec['monitoring']> } {
  return {
    secretName: 'api-jwt',
    targets: [{ kind: 'Deployment', name: 'api' }],
    rollout: { signingDelay: '3s', pollInterval: '500ms' },
    monitoring: {
      minDuration: '3s',
      // The runbook's completion on the gate, without waiting for the old key's tokens.
      requireOldTokenExpiry: false,
      maxDuration: '10m',
      prometheus: {
        interval: '1s',
        timeout: '2s',
        window: '10s',
        thresholds: { minSamples: 20, maxValidationLatencyP99Seconds: 1 },
        ...prometheus,
      },
    },
  };
}

describe('the metrics gate behind TLS, and from hostile endpoints', function () {
  this.timeout(300_000);
  const suite = operatorSuite();
  let pki: TestPki;
  let env: GatedEnvironment | undefined;

  const namespaces: string[] = [];
  const newNamespace = async (prefix: string): Promise<string> => {
    const ns = await suite.cluster.newNamespace(prefix);
    namespaces.push(ns);
    return ns;
  };

  before(async () => {
    pki = await makeTestPki(['prometheus.monitoring.test', '127.0.0.1']);
  });

  after(async () => {
    await removeJwtRotations(suite.cluster, namespaces);
  });

  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  /** Waits for MetricsAvailable=False with `reason`, then proves by a later look that the phase held. */
  async function heldWith(
    ns: string,
    reasons: string | string[],
    message = /./,
    phase = 'Monitoring',
  ): Promise<JwtRotation> {
    const wanted = typeof reasons === 'string' ? [reasons] : reasons;
    const r = await waitFor(
      `MetricsAvailable False ${wanted.join(' or ')} with a message matching ${String(message)}`,
      async () => {
        const got = await getJwtRotation(suite.c, ns, 'api');
        const m = metricsCondition(got);
        return m?.status === 'False' && wanted.includes(m.reason) && message.test(m.message)
          ? got
          : undefined;
      },
      { timeoutMs: 90_000 },
    );
    const nudged = await annotate(suite.c, ns, 'api', { 'example.com/nudge': String(Date.now()) });
    const pass = await suite.operator.lookedAt(ns, 'api', nudged);
    expect(pass.phase).to.equal(phase);
    const after = await getJwtRotation(suite.c, ns, 'api');
    expect(after.status?.lastRotation, 'no operation finished').to.equal(undefined);
    return r;
  }

  it('completes a gated rotation through an HTTPS Prometheus, trusting its private CA from a Secret and sending a bearer token from another', async () => {
    const ns = await newNamespace('gate-tls');
    await createConsumerDeployment(suite.c, ns, 'api', 'api-jwt', 1);
    await suite.c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'api-jwt' },
        stringData: { JWT_SECRET: Buffer.from(`tls-${Date.now()}`).toString('base64') },
      },
    });
    await suite.c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'prometheus-ca', annotations: { 'jwtrotation.io/allow-references': 'api' } },
        stringData: { 'ca.crt': pki.caPem },
      },
    });
    await suite.c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'prometheus-token', annotations: { 'jwtrotation.io/allow-references': 'api' } },
        stringData: { token: 'reader-token-1' },
      },
    });
    env = await startGatedEnvironment(suite.c, ns, 'api-jwt', { prometheusTls: pki });
    expect(env.prometheus.url).to.match(/^https:\/\/127\.0\.0\.1:/);

    // Trusting the CA from the Secret, the checklist reads the metrics and the rotation starts.
    const trusted = gatedSpec({
      url: env.prometheus.url,
      bearerTokenSecretRef: { name: 'prometheus-token' },
      tls: { caSecretRef: { name: 'prometheus-ca' } },
    });
    await createJwtRotation(suite.c, ns, 'api', trusted);
    await waitForPhase(suite.c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rotate': 'tls-1' });
    const newKey = await waitFor('the new key', () => Promise.resolve(env?.keys.new), { timeoutMs: 120_000 });
    env.setNewShare(0.5);
    await waitForPhase(suite.c, ns, 'api', 'Monitoring', (r) => metricsCondition(r)?.status === 'True');

    // Without the CA: the system's CAs do not trust it, so the read fails and the phase holds.
    await patchSpec(suite.c, ns, 'api', { monitoring: { prometheus: { tls: null } } } as never);
    await heldWith(ns, 'PrometheusUnreachable', /certificate|self.signed|issuer|CERT/i);

    // A server name the certificate does not carry: refused too.
    await patchSpec(suite.c, ns, 'api', {
      monitoring: gatedSpec({
        url: env.prometheus.url,
        tls: { caSecretRef: { name: 'prometheus-ca' }, serverName: 'elsewhere.test' },
      }).monitoring,
    });
    await heldWith(ns, 'PrometheusUnreachable', /ALTNAME|altname|elsewhere\.test|Hostname/i);

    // The CA from the Secret, and the name the certificate carries: the gate reads, passes, and the rotation completes.
    env.setNewShare(0.97);
    await patchSpec(suite.c, ns, 'api', {
      monitoring: gatedSpec({
        url: env.prometheus.url,
        bearerTokenSecretRef: { name: 'prometheus-token' },
        tls: { caSecretRef: { name: 'prometheus-ca' }, serverName: 'prometheus.monitoring.test' },
      }).monitoring,
    });
    const done = await waitForPhase(
      suite.c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.outcome === 'Completed',
      120_000,
    );
    expect(done.status?.lastRotation?.reason).to.not.equal('HealthGateFailed');
    expect((await secretValues(suite.c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(newKey);
    expect(JSON.stringify(done.status)).to.not.include('reader-token-1');
    expect(suite.operator.output()).to.not.include('reader-token-1');
  });

  it('reports a CA Secret without a certificate as CaBundleMissing, and holds', async () => {
    const ns = await newNamespace('gate-no-ca');
    await createConsumerDeployment(suite.c, ns, 'api', 'api-jwt', 1);
    await suite.c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'prometheus-ca', annotations: { 'jwtrotation.io/allow-references': 'api' } },
        stringData: { 'ca.crt': 'not a certificate' },
      },
    });
    await createJwtRotation(
      suite.c,
      ns,
      'api',
      gatedSpec({ url: 'https://127.0.0.1:9', tls: { caSecretRef: { name: 'prometheus-ca' } } }),
    );
    await waitForPhase(suite.c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rotate': 'no-ca' });
    // The checklist does not start a rotation whose metrics source cannot be read.
    const held = await heldWith(ns, 'CaBundleMissing', /./, 'Idle');
    expect(held.status?.conditions?.find((c) => c.type === 'PreflightPassed')?.status).to.equal('False');
    expect(metricsCondition(held)?.message).to.include('prometheus-ca');
  });

  describe('hostile endpoints', () => {
    let server: Server;
    let mode = 'hang' as Mode;
    let url: string;

    before(async () => {
      server = createServer((req, res) => {
        req.resume();
        if (mode === 'hang') return; // never answers: the operator's timeout must end it
        if (mode === 'error') {
          res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream unavailable');
          return;
        }
        if (mode === 'huge') {
          // 8 MiB of JSON-looking noise.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            `{"status":"success","data":{"resultType":"vector","result":[${'{"metric":{},"value":[1,"1"]},'.repeat(300_000)}{}]}}`,
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>Login required</body></html>');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    after(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });

    const cases: [Mode, string | string[]][] = [
      ['hang', 'PrometheusTimeout'],
      ['garbage', 'PrometheusBadResponse'],
      ['error', 'PrometheusHttpError'],
      // 8 MiB of series: refused as ambiguous, or cut off by the timeout on a slow machine; never a reading.
      ['huge', ['PrometheusAmbiguousResult', 'PrometheusTimeout']],
    ];
    for (const [which, reason] of cases) {
      it(`holds in Monitoring when Prometheus ${which === 'hang' ? 'never answers' : `answers ${which}`} (${String(reason)})`, async () => {
        mode = which;
        const ns = await newNamespace(`gate-${which}`);
        await createConsumerDeployment(suite.c, ns, 'api', 'api-jwt', 1);
        // Started without a gate (the checklist would refuse a hostile metrics source), held in
        // Monitoring by a long minDuration, then pointed at the hostile endpoint.
        const spec = gatedSpec({ url });
        await createJwtRotation(suite.c, ns, 'api', {
          ...spec,
          monitoring: { minDuration: '1h', maxDuration: '2h' },
        });
        await waitForPhase(suite.c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
        await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rotate': `hostile-${which}` });
        await waitForPhase(suite.c, ns, 'api', 'Monitoring');
        await patchSpec(suite.c, ns, 'api', {
          monitoring: { ...spec.monitoring, minDuration: '1h', maxDuration: '2h' },
        });
        await heldWith(ns, reason);
      });
    }
  });
});
