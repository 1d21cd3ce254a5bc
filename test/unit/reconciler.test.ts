/**
 * The shell's own branches, through the real Reconciler (gather → decide → execute → status →
 * events) over in-memory ports: the gate's bearer token, gate read failures, adopting and
 * repairing a Secret, and a write that loses to another writer.
 */
import { expect } from 'chai';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { PrometheusGateReader } from '../../src/adapters/prometheus/gate-reader.ts';
import { ConflictError, type SecretContent, type SecretRecord } from '../../src/reconcile/ports.ts';
import { Reconciler } from '../../src/reconcile/reconciler.ts';
import type { PrometheusSettings } from '../../src/rotation/spec.ts';
import { SECOND, T0 } from '../support/builders.ts';
import { MemorySecrets, memoryDeps } from '../support/memory-ports.ts';

const spec = (extra: Partial<JwtRotationSpec> = {}): JwtRotationSpec => ({
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  rollout: { signingDelay: '10s', pollInterval: '1s' },
  monitoring: {
    minDuration: '30s',
    maxDuration: '60s',
    prometheus: {
      url: 'http://prometheus.invalid:9090',
      interval: '5s',
      bearerTokenSecretRef: { name: 'prom-token', key: 'token' },
    },
  },
  ...extra,
});

function world(s: JwtRotationSpec = spec(), deps = memoryDeps('api-jwt', T0)) {
  const resource: JwtRotation = {
    apiVersion: 'jwtrotation.io/v1alpha1',
    kind: 'JwtRotation',
    metadata: { name: 'api', namespace: 'default', uid: 'uid-1', generation: 1, annotations: {} },
    spec: s,
  };
  deps.resources.byKey.set('default/api', resource);
  const reconciler = new Reconciler(deps);
  const current = (): JwtRotation => deps.resources.byKey.get('default/api') ?? resource;
  return {
    deps,
    current,
    status: () => current().status,
    condition: (type: string) => current().status?.conditions?.find((c) => c.type === type),
    pass: () => reconciler.reconcile('default', 'api'),
    async passes(n: number, stepMs = SECOND): Promise<void> {
      for (let i = 0; i < n; i++) {
        await reconciler.reconcile('default', 'api');
        deps.clock.advance(stepMs);
      }
    },
    annotate(annotations: Record<string, string>): void {
      const r = current();
      r.metadata.annotations = { ...r.metadata.annotations, ...annotations };
    },
  };
}

/** A world that has settled and been asked to rotate, and has reached DualKey. */
/**
 * Starts a rotation. The pre-rotation checklist needs the metrics source to answer with data, so it
 * does (with a bearer token) while the rotation starts; then the test's own answer and token come back.
 */
async function inDualKey(w: ReturnType<typeof world>): Promise<void> {
  const answer = w.deps.gate.answer;
  const token = w.deps.secrets.values('default', 'prom-token');
  w.deps.gate.answer = {
    ok: true,
    readings: {
      newKeyShare: 0,
      authSuccessRate: 1,
      validationLatencyP99Seconds: 0.01,
      errorRate: 0,
      activeSessions: 10,
      samples: 100,
    },
  };
  if (token?.token === undefined) w.deps.secrets.put('default', 'prom-token', { token: 'start-token' });
  await w.passes(2);
  w.annotate({ 'jwtrotation.io/rotate': 'go' });
  await w.passes(3);
  expect(w.status()?.phase).to.equal('DualKey');
  expect(w.condition('PreflightPassed')?.status).to.equal('True');
  w.deps.gate.answer = answer;
  if (token?.token === undefined) {
    // Forget the start's token: the test's situation is a missing one.
    if (token === undefined) w.deps.secrets.byKey.delete('default/prom-token');
    else w.deps.secrets.put('default', 'prom-token', token);
    w.deps.gate.tokens.length = 0;
  }
}

describe('the reconciler over in-memory ports', () => {
  describe('the gate bearer token', () => {
    it('is read from the Secret that bearerTokenSecretRef names and handed to the gate reader', async () => {
      const w = world();
      w.deps.secrets.put('default', 'prom-token', { token: 'the-token' });
      w.deps.gate.answer = { ok: false, reason: 'PrometheusUnreachable', message: 'refused' };
      await inDualKey(w);
      await w.passes(1);
      expect(w.deps.gate.tokens).to.not.be.empty;
      expect(w.deps.gate.tokens.every((t) => t === 'the-token')).to.equal(true);
      expect(JSON.stringify(w.status())).to.not.contain('the-token');
    });

    for (const [situation, setUp] of [
      ['the Secret does not exist', () => undefined],
      [
        'the Secret has no such key',
        (s: MemorySecrets) => {
          s.put('default', 'prom-token', { other: 'x' });
        },
      ],
    ] as const) {
      it(`reports BearerTokenMissing when ${situation}, holds the phase and does not query`, async () => {
        const w = world();
        setUp(w.deps.secrets);
        await inDualKey(w);
        const newKey = w.deps.secrets.values('default', 'api-jwt')?.JWT_SECRET_NEW;
        await w.passes(5, 10 * SECOND);
        expect(w.deps.gate.tokens, 'the gate reader is never called').to.deep.equal([]);
        expect(w.status()?.gate?.reason).to.equal('BearerTokenMissing');
        expect(w.condition('MetricsAvailable')).to.include({ status: 'False', reason: 'BearerTokenMissing' });
        // Missing data never completes nor rolls back: the rotation waits with both keys.
        expect(w.status()?.phase).to.be.oneOf(['DualKey', 'Monitoring']);
        expect(w.deps.secrets.values('default', 'api-jwt')?.JWT_SECRET_NEW).to.equal(newKey);
        expect(w.status()?.lastRotation).to.equal(undefined);
      });
    }
  });

  describe('a gate read that fails', () => {
    it('shows GateReadFailed in status and holds the phase', async () => {
      const w = world();
      w.deps.secrets.put('default', 'prom-token', { token: 't' });
      w.deps.gate.answer = { ok: false, reason: 'GateReadFailed', message: 'the query could not be built' };
      await inDualKey(w);
      const newKey = w.deps.secrets.values('default', 'api-jwt')?.JWT_SECRET_NEW;
      await w.passes(5, 10 * SECOND);
      expect(w.condition('MetricsAvailable')).to.include({ status: 'False', reason: 'GateReadFailed' });
      expect(w.status()?.phase).to.be.oneOf(['DualKey', 'Monitoring']);
      expect(w.deps.secrets.values('default', 'api-jwt')?.JWT_SECRET_NEW).to.equal(newKey);
      expect(w.deps.events.recorded.map((e) => e.reason)).to.include('GateReadFailed');
    });

    it('is what the Prometheus gate reader answers when reading fails other than by a Prometheus error', async () => {
      const settings: PrometheusSettings = {
        url: 'http://prometheus.invalid:9090',
        timeoutMs: 1000,
        intervalMs: 30_000,
        window: 'not a duration',
        windowMs: 0,
        selector: '',
        queries: {},
        thresholds: {} as PrometheusSettings['thresholds'],
      };
      let fetched = false;
      const reader = new PrometheusGateReader(() => {
        fetched = true;
        return Promise.reject(new Error('unreachable'));
      });
      const observation = await reader.read(settings, { bearerToken: 'secret-token' });
      expect(observation).to.include({ ok: false, reason: 'GateReadFailed' });
      expect(fetched).to.equal(false);
      expect(JSON.stringify(observation)).to.not.contain('secret-token');
    });
  });

  describe('the Secret', () => {
    it('adopts an existing Secret: keeps its key and unrelated keys, adds the TTLs and its annotations', async () => {
      const w = world(spec({ monitoring: { minDuration: '30s', maxDuration: '60s' } }));
      w.deps.secrets.put('default', 'api-jwt', { JWT_SECRET: 'their-key', DATABASE_URL: 'postgres://db' });
      await w.passes(3);
      const stored = w.deps.secrets.byKey.get('default/api-jwt');
      expect(stored?.values).to.include({ JWT_SECRET: 'their-key', DATABASE_URL: 'postgres://db' });
      expect(stored?.values).to.have.property('JWT_EXPIRATION');
      expect(stored?.values).to.have.property('JWT_REFRESH_EXPIRATION');
      expect(stored?.annotations['jwtrotation.io/managed-by']).to.equal('api');
      expect(w.status()?.phase).to.equal('Idle');
      expect(JSON.stringify(w.status())).to.not.contain('their-key');
    });

    it('repairs a TTL value someone removed, leaving the key as it is', async () => {
      const w = world(spec({ monitoring: { minDuration: '30s', maxDuration: '60s' } }));
      await w.passes(3);
      const stored = w.deps.secrets.byKey.get('default/api-jwt');
      const key = stored?.values.JWT_SECRET;
      const expiration = stored?.values.JWT_EXPIRATION;
      expect(key).to.be.a('string');
      delete stored?.values.JWT_EXPIRATION;
      await w.passes(2);
      const repaired = w.deps.secrets.values('default', 'api-jwt');
      expect(repaired?.JWT_EXPIRATION).to.equal(expiration);
      expect(repaired?.JWT_SECRET).to.equal(key);
    });

    it('loses a write to another writer with a ConflictError, writes nothing else, and succeeds on the next pass', async () => {
      /** Another writer changes the Secret between this pass's read and its write, once. */
      class RacedSecrets extends MemorySecrets {
        race = false;
        override replace(current: SecretRecord, content: SecretContent): Promise<void> {
          if (this.race) {
            this.race = false;
            const stored = this.byKey.get('default/api-jwt');
            if (stored) this.put('default', 'api-jwt', stored.values, stored.annotations);
          }
          return super.replace(current, content);
        }
      }
      const deps = { ...memoryDeps('api-jwt', T0), secrets: new RacedSecrets() };
      const w = world(spec({ monitoring: { minDuration: '30s', maxDuration: '60s' } }), deps);
      await w.passes(3);
      const statusBefore = structuredClone(w.status());
      const statusWrites = deps.resources.statusWrites;
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      deps.secrets.race = true;
      let failure: unknown;
      await w.pass().catch((error: unknown) => (failure = error));
      expect(failure).to.be.instanceOf(ConflictError);
      expect(deps.resources.statusWrites, 'no status after a lost write').to.equal(statusWrites);
      expect(w.status()).to.deep.equal(statusBefore);
      await w.passes(1);
      expect(w.status()?.phase).to.equal('DualKey');
      expect(deps.secrets.values('default', 'api-jwt')).to.have.property('JWT_SECRET_NEW');
    });
  });
});
