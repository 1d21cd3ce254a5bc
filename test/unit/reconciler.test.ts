/**
 * The shell's own branches, through the real Reconciler (gather → decide → execute → status →
 * events) over in-memory ports: the gate's bearer token, gate read failures, adopting and
 * repairing a Secret, and a write that loses to another writer.
 */
import { expect } from 'chai';
import type { JwtRotation, JwtRotationSpec, JwtRotationStatus, TargetKind } from '../../src/api/types.ts';
import { PrometheusGateReader } from '../../src/adapters/prometheus/gate-reader.ts';
import { ConflictError, type SecretContent, type SecretRecord } from '../../src/reconcile/ports.ts';
import {
  onlyProgressDiffers,
  PROGRESS_WRITE_INTERVAL_MS,
  Reconciler,
} from '../../src/reconcile/reconciler.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import type { PrometheusSettings } from '../../src/rotation/spec.ts';
import { WATCHED_WAIT_MS } from '../../src/rotation/targets.ts';
import { SECOND, T0 } from '../support/builders.ts';
import { MemorySecrets, MemoryWorkloads, memoryDeps } from '../support/memory-ports.ts';
import type { PodView } from '../../src/rotation/model.ts';
import type { WorkloadLike } from '../../src/rotation/rollout.ts';

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

/** The bearer token Secret, allowing JwtRotation api to use it (or with the annotations given). */
function putToken(
  secrets: MemorySecrets,
  values: Record<string, string>,
  annotations: Record<string, string> = { 'jwtrotation.io/allow-references': 'api' },
): void {
  secrets.put('default', 'prom-token', values, annotations);
}

/** A world that has settled and been asked to rotate, and has reached DualKey. */
/**
 * Starts a rotation. The pre-rotation checklist needs the metrics source to answer with data, so it
 * does (with a bearer token) while the rotation starts; then the test's own answer and token come back.
 */
async function inDualKey(w: ReturnType<typeof world>): Promise<void> {
  const answer = w.deps.gate.answer;
  const stored = w.deps.secrets.byKey.get('default/prom-token');
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
  putToken(w.deps.secrets, { token: 'start-token' });
  await w.passes(2);
  w.annotate({ 'jwtrotation.io/rotate': 'go' });
  await w.passes(3);
  expect(w.status()?.phase).to.equal('DualKey');
  expect(w.condition('PreflightPassed')?.status).to.equal('True');
  w.deps.gate.answer = answer;
  // The test's own token Secret (or none) from now on; forget the start's token.
  if (stored === undefined) w.deps.secrets.byKey.delete('default/prom-token');
  else w.deps.secrets.put('default', 'prom-token', stored.values, stored.annotations);
  w.deps.gate.tokens.length = 0;
}

describe('the reconciler over in-memory ports', () => {
  describe('the gate bearer token', () => {
    it('is read from the Secret that bearerTokenSecretRef names and handed to the gate reader', async () => {
      const w = world();
      putToken(w.deps.secrets, { token: 'the-token' });
      w.deps.gate.answer = { ok: false, reason: 'PrometheusUnreachable', message: 'refused' };
      await inDualKey(w);
      await w.passes(2, 10 * SECOND);
      expect(w.deps.gate.tokens).to.not.be.empty;
      expect(w.deps.gate.tokens.every((t) => t === 'the-token')).to.equal(true);
      expect(JSON.stringify(w.status())).to.not.contain('the-token');
    });

    for (const [situation, setUp, reason] of [
      ['the Secret does not exist', () => undefined, 'ReferenceNotAllowed'],
      [
        'the Secret does not allow this JwtRotation to use it',
        (s: MemorySecrets) => {
          putToken(s, { token: 'the-token' }, { 'jwtrotation.io/allow-references': 'billing, other' });
        },
        'ReferenceNotAllowed',
      ],
      [
        'the Secret has no consent annotation at all',
        (s: MemorySecrets) => {
          putToken(s, { token: 'the-token' }, {});
        },
        'ReferenceNotAllowed',
      ],
      [
        'the Secret has no such key',
        (s: MemorySecrets) => {
          putToken(s, { other: 'x' });
        },
        'BearerTokenMissing',
      ],
    ] as const) {
      it(`reports ${reason} when ${situation}, holds the phase and does not query`, async () => {
        const w = world();
        setUp(w.deps.secrets);
        await inDualKey(w);
        const newKey = w.deps.secrets.values('default', 'api-jwt')?.JWT_SECRET_NEW;
        await w.passes(5, 10 * SECOND);
        expect(w.deps.gate.tokens, 'the gate reader is never called').to.deep.equal([]);
        expect(w.status()?.gate?.reason).to.equal(reason);
        expect(w.condition('MetricsAvailable')).to.include({ status: 'False', reason });
        expect(w.deps.events.recorded.map((e) => e.reason)).to.include(reason);
        expect(JSON.stringify([w.status(), w.deps.events.recorded])).to.not.contain('the-token');
        // Missing data never completes nor rolls back: the rotation waits with both keys.
        expect(w.status()?.phase).to.be.oneOf(['DualKey', 'Monitoring']);
        expect(w.deps.secrets.values('default', 'api-jwt')?.JWT_SECRET_NEW).to.equal(newKey);
        expect(w.status()?.lastRotation).to.equal(undefined);
      });
    }

    it('is never read for, nor sent to, a Prometheus whose host the administrator does not allow', async () => {
      const w = world(spec(), {
        ...memoryDeps('api-jwt', T0),
        outbound: { hosts: ['*.svc'], allowHttpReceivers: false },
      });
      putToken(w.deps.secrets, { token: 'the-token' });
      await w.passes(2);
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      await w.passes(3);
      expect(w.deps.gate.tokens, 'the gate reader is never called').to.deep.equal([]);
      expect(w.condition('MetricsAvailable')).to.include({ status: 'False', reason: 'UrlNotAllowed' });
      expect(w.condition('MetricsAvailable')?.message).to.include('host prometheus.invalid is not in');
      // The checklist does not start a rotation without a readable metrics source.
      expect(w.status()?.phase).to.equal('Idle');
      expect(w.condition('PreflightPassed')?.status).to.equal('False');
    });

    it("refuses the JwtRotation's own Secret as a bearer token, whatever its annotations", async () => {
      const w = world(
        spec({
          monitoring: {
            prometheus: {
              url: 'http://prometheus.invalid:9090',
              bearerTokenSecretRef: { name: 'api-jwt', key: 'JWT_SECRET' },
            },
          },
        }),
      );
      await w.passes(2);
      const key = w.deps.secrets.values('default', 'api-jwt')?.JWT_SECRET ?? 'missing';
      w.deps.secrets.byKey.get('default/api-jwt')!.annotations['jwtrotation.io/allow-references'] = '*';
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      await w.passes(3);
      expect(w.deps.gate.tokens).to.deep.equal([]);
      expect(w.condition('MetricsAvailable')).to.include({ status: 'False', reason: 'ReferenceNotAllowed' });
      expect(JSON.stringify(w.status())).to.not.contain(key);
    });
  });

  describe('a gate read that fails', () => {
    it('shows GateReadFailed in status and holds the phase', async () => {
      const w = world();
      putToken(w.deps.secrets, { token: 't' });
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
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      await w.passes(1); // the checklist saves the rollback copy
      const statusBefore = structuredClone(w.status());
      const statusWrites = deps.resources.statusWrites;
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

  describe('reads from watch caches', () => {
    const noGate = spec({ monitoring: { minDuration: '0s', maxDuration: '60s' } });
    /** Counts the reads of these stores. */
    function counted(deps: ReturnType<typeof memoryDeps>) {
      const reads = { value: 0 };
      const count =
        <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
        (...args: A): Promise<R> => {
          reads.value++;
          return fn(...args);
        };
      const { resources, secrets, workloads } = deps;
      return {
        reads,
        stores: {
          resources: {
            get: count(resources.get.bind(resources)),
            writeStatus: resources.writeStatus.bind(resources),
          },
          secrets: Object.assign(Object.create(secrets) as MemorySecrets, {
            get: count(secrets.get.bind(secrets)),
          }),
          workloads: Object.assign(Object.create(workloads) as MemoryWorkloads, {
            get: count(workloads.get.bind(workloads)),
            listReferencing: count(workloads.listReferencing.bind(workloads)),
            listPods: count(workloads.listPods.bind(workloads)),
          }),
        },
      };
    }

    describe('the second look, after a pass wrote', () => {
      /** Deployments whose rollouts, once `armed`, do not move: after a template patch, no pod is updated. */
      class RollingWorkloads extends MemoryWorkloads {
        armed = false;
        /** Reads fail once a target was rolled (the second look's). */
        failAfterRoll = false;
        private readonly rolling = new Set<string>();
        override async get(namespace: string, kind: TargetKind, name: string) {
          if (this.failAfterRoll && this.rolling.has(name)) throw new Error('connection reset');
          const found = await super.get(namespace, kind, name);
          if (!this.rolling.has(name) || found === undefined) return found;
          return {
            ...found,
            metadata: { ...found.metadata, generation: 2 },
            status: { ...found.status, observedGeneration: 2, updatedReplicas: 0 },
          };
        }
        override setTemplateAnnotation(
          namespace: string,
          kind: TargetKind,
          name: string,
          key: string,
          value: string,
        ): Promise<void> {
          if (this.armed) this.rolling.add(name);
          return super.setTemplateAnnotation(namespace, kind, name, key, value);
        }
      }

      async function started(settled?: () => Promise<boolean>, failAfterRoll = false) {
        const deps = { ...memoryDeps('api-jwt', T0), workloads: new RollingWorkloads('api-jwt') };
        const w = world(noGate, deps);
        await w.passes(3);
        deps.workloads.armed = true;
        deps.workloads.failAfterRoll = failAfterRoll;
        w.annotate({ 'jwtrotation.io/rotate': 'go' });
        await w.pass(); // the checklist saves the rollback copy
        const before = { statusWrites: deps.resources.statusWrites, events: deps.events.recorded.length };
        const result = await new Reconciler({
          ...deps,
          freshness: { check: () => 'fresh' as const, settled },
        }).reconcile('default', 'api');
        const newKey = deps.secrets.values('default', 'api-jwt')?.JWT_SECRET_NEW ?? '';
        return {
          w,
          result,
          newKey,
          statusWrites: deps.resources.statusWrites - before.statusWrites,
          events: deps.events.recorded.slice(before.events).map((e) => e.reason),
        };
      }

      it('once the watches show its writes, the one status it writes describes the Secret as written', async () => {
        const { w, result, newKey, statusWrites, events } = await started(() => Promise.resolve(true));
        expect(newKey).to.not.equal('');
        expect(statusWrites, 'status writes in the pass').to.equal(1);
        expect(w.status()?.phase).to.equal('DualKey');
        expect(w.status()?.newKeyFingerprint, 'the fingerprint of the key written').to.equal(
          fingerprint(newKey),
        );
        expect(events).to.deep.equal(['RotationStarted', 'TargetsRolled']);
        // The second decision waits on the rollout the first one started, woken by the watches.
        expect(result).to.deep.equal({ requeueAfterMs: WATCHED_WAIT_MS });
      });

      it('when its reads fail, it writes the first decision and its Events: the writes are done', async () => {
        const { w, newKey, statusWrites, events } = await started(() => Promise.resolve(true), true);
        expect(newKey).to.not.equal('');
        expect(statusWrites).to.equal(1);
        expect(w.status()?.phase).to.equal('DualKey');
        expect(w.status()?.newKeyFingerprint).to.equal(undefined);
        expect(events).to.deep.equal(['RotationStarted', 'TargetsRolled']);
      });

      it('when they do not show them in time, it writes the first decision, and the next pass the rest', async () => {
        const { w, newKey, statusWrites, events } = await started(() => Promise.resolve(false));
        expect(statusWrites).to.equal(1);
        expect(w.status()?.phase).to.equal('DualKey');
        expect(w.status()?.newKeyFingerprint, 'not known before the key was written').to.equal(undefined);
        expect(events).to.deep.equal(['RotationStarted', 'TargetsRolled']);
        await w.pass();
        expect(w.status()?.newKeyFingerprint).to.equal(fingerprint(newKey));
      });
    });

    it('while its own last write is not in the caches, a pass reads nothing, writes nothing and looks again within a second', async () => {
      const deps = memoryDeps('api-jwt', T0);
      const w = world(noGate, deps);
      await w.passes(3);
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      const { reads, stores } = counted(deps);
      const checked: string[] = [];
      const pending = {
        ...deps,
        ...stores,
        freshness: {
          check: (r: JwtRotation) => {
            checked.push(r.metadata.name ?? '');
            return 'pending' as const;
          },
        },
      };
      const before = { statusWrites: deps.resources.statusWrites, events: deps.events.recorded.length };
      const result = await new Reconciler(pending).reconcile('default', 'api');
      expect(checked).to.deep.equal(['api']);
      expect(result).to.deep.equal({ requeueAfterMs: 1000 });
      expect(reads.value, 'reads beyond the JwtRotation itself').to.equal(1);
      expect(deps.resources.statusWrites).to.equal(before.statusWrites);
      expect(deps.events.recorded.length).to.equal(before.events);
      expect(deps.secrets.values('default', 'api-jwt')).not.to.have.property('JWT_SECRET_NEW');
    });

    it('when its own write has not come back in time, a pass reads the API server (live) instead of the caches', async () => {
      const deps = memoryDeps('api-jwt', T0);
      const w = world(noGate, deps);
      await w.passes(3);
      // The cache still shows the JwtRotation without the request; the API server has it.
      const cached = structuredClone(w.current());
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      const stale = {
        ...deps,
        resources: {
          get: () => Promise.resolve(structuredClone(cached)),
          writeStatus: deps.resources.writeStatus.bind(deps.resources),
        },
        live: { resources: deps.resources, secrets: deps.secrets, workloads: deps.workloads },
        freshness: { check: () => 'stale' as const },
      };
      await new Reconciler(stale).reconcile('default', 'api');
      expect(
        w.status()?.preflight?.map((i) => i.name),
        'decided on the live JwtRotation, which asks to rotate: the checklist ran',
      ).to.include('RollbackCopy');
      // The same pass on the cached copy alone would have stayed Idle.
      const deps2 = memoryDeps('api-jwt', T0);
      const w2 = world(noGate, deps2);
      await w2.passes(3);
      const cached2 = structuredClone(w2.current());
      w2.annotate({ 'jwtrotation.io/rotate': 'go' });
      await new Reconciler({
        ...deps2,
        resources: {
          get: () => Promise.resolve(structuredClone(cached2)),
          writeStatus: deps2.resources.writeStatus.bind(deps2.resources),
        },
        freshness: { check: () => 'fresh' as const },
      }).reconcile('default', 'api');
      expect(w2.status()?.phase).to.equal('Idle');
      expect(w2.status()?.preflight, 'no request seen, no checklist').to.equal(undefined);
    });

    it('decides the signing switch again on the pods the API server lists, not on the cached ones', async () => {
      /** The API server's view: beside the target's pod, one started before the new key existed. */
      class LivePods extends MemoryWorkloads {
        override async listPods(namespace: string, workload: WorkloadLike): Promise<PodView[]> {
          return [...(await super.listPods(namespace, workload)), { name: 'api-old', revision: undefined }];
        }
      }
      const deps = memoryDeps('api-jwt', T0);
      const live = new LivePods('api-jwt');
      // Both views share the template revisions; only the pods differ.
      Object.defineProperty(live, 'revisions', { value: deps.workloads.revisions });
      const reconciler = new Reconciler({
        ...deps,
        live: { resources: deps.resources, secrets: deps.secrets, workloads: live },
        freshness: { check: () => 'fresh' as const },
      });
      const w = world(noGate, deps);
      const passes = async (n: number): Promise<void> => {
        for (let i = 0; i < n; i++) {
          await reconciler.reconcile('default', 'api');
          deps.clock.advance(SECOND);
        }
      };
      await passes(3);
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      await passes(10);
      expect(w.status()?.phase).to.equal('DualKey');
      expect(
        w.status()?.rotationDate,
        'no signing date while a live pod does not verify the new key',
      ).to.equal(undefined);
      expect(deps.secrets.values('default', 'api-jwt')?.JWT_SECRET_ROTATION_DATE).to.match(/^9999/);
      // With the cached pods only, the same passes schedule signing.
      const deps2 = memoryDeps('api-jwt', T0);
      const w2 = world(noGate, deps2);
      await w2.passes(3);
      w2.annotate({ 'jwtrotation.io/rotate': 'go' });
      await w2.passes(10);
      expect(w2.status()?.rotationDate).to.be.a('string');
    });
  });

  describe('progress in status', () => {
    /** The target's pods, and a second one once `extra` is set. */
    class TwoPods extends MemoryWorkloads {
      extra = false;
      override async listPods(namespace: string, workload: WorkloadLike): Promise<PodView[]> {
        const pods = await super.listPods(namespace, workload);
        return this.extra ? [...pods, { name: 'api-1', revision: pods[0]?.revision }] : pods;
      }
    }

    it('writes a change of pod counts alone at most once every PROGRESS_WRITE_INTERVAL_MS, and writes it once that has passed', async () => {
      const deps = { ...memoryDeps('api-jwt', T0), workloads: new TwoPods('api-jwt') };
      const w = world(spec({ monitoring: { minDuration: '0s', maxDuration: '60s' } }), deps);
      await w.pass();
      await w.pass();
      expect(w.status()?.phase).to.equal('Idle');
      expect(w.status()?.targets?.[0]?.pods).to.equal(1);
      const writes = deps.resources.statusWrites;
      deps.workloads.extra = true;
      deps.clock.advance(300);
      const result = await w.pass();
      expect(deps.resources.statusWrites, 'not written within the interval').to.equal(writes);
      expect(result)
        .to.have.property('requeueAfterMs')
        .that.is.at.most(PROGRESS_WRITE_INTERVAL_MS - 300);
      deps.clock.advance(PROGRESS_WRITE_INTERVAL_MS - 300);
      await w.pass();
      expect(deps.resources.statusWrites).to.equal(writes + 1);
      expect(w.status()?.targets?.[0]?.pods).to.equal(2);
    });

    it('writes a change of pod counts alone only when progress writes are allowed, and any other change regardless', async () => {
      let spare = true;
      const asked: boolean[] = [];
      const deps = {
        ...memoryDeps('api-jwt', T0),
        workloads: new TwoPods('api-jwt'),
        progressWriteAllowed: (rotating: boolean) => {
          asked.push(rotating);
          return spare;
        },
      };
      const w = world(
        spec({
          monitoring: { minDuration: '0s', maxDuration: '60s' },
          rollout: { signingDelay: '1h', pollInterval: '1s' },
        }),
        deps,
      );
      await w.pass();
      await w.pass();
      const writes = deps.resources.statusWrites;
      spare = false;
      deps.workloads.extra = true;
      deps.clock.advance(PROGRESS_WRITE_INTERVAL_MS * 2);
      const result = await w.pass();
      expect(deps.resources.statusWrites, 'not allowed: not written').to.equal(writes);
      expect(asked.at(-1), 'asked as an idle JwtRotation').to.equal(false);
      expect(result).to.have.property('requeueAfterMs').that.is.at.most(PROGRESS_WRITE_INTERVAL_MS);
      // A change that matters is written, spare or not, and carries the counts with it.
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      await w.pass();
      expect(deps.resources.statusWrites).to.equal(writes + 1);
      expect(w.status()?.preflight?.find((i) => i.name === 'RollbackCopy')?.result).to.equal('Pending');
      expect(w.status()?.targets?.[0]?.pods).to.equal(2);
      await w.pass();
      expect(w.status()?.phase).to.equal('DualKey');
      // In a rotation, progress is asked for as a rotating JwtRotation's (held to the budget).
      const before = asked.length;
      for (let i = 0; i < 10 && asked.length === before; i++) {
        deps.workloads.extra = !deps.workloads.extra;
        deps.clock.advance(PROGRESS_WRITE_INTERVAL_MS);
        await w.pass();
      }
      expect(w.status()?.phase, 'still rotating').to.not.equal('Idle');
      expect(asked.slice(before), 'asked as a rotating JwtRotation').to.deep.equal([true]);
    });

    it('writes any other change at once', async () => {
      const deps = memoryDeps('api-jwt', T0);
      const w = world(spec({ monitoring: { minDuration: '0s', maxDuration: '60s' } }), deps);
      await w.pass();
      await w.pass();
      w.annotate({ 'jwtrotation.io/rotate': 'go' });
      const writes = deps.resources.statusWrites;
      await w.pass();
      expect(deps.resources.statusWrites, 'the checklist').to.equal(writes + 1);
      await w.pass();
      expect(deps.resources.statusWrites, 'the rotation').to.equal(writes + 2);
      expect(w.status()?.phase).to.equal('DualKey');
    });

    it('counts as progress only the per-target counts and the condition messages', () => {
      const base = {
        phase: 'Idle',
        targets: [{ kind: 'Deployment', name: 'api', pods: 1 }],
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Idle', message: 'a', lastTransitionTime: 't' },
        ],
      } as JwtRotationStatus;
      const counts = {
        ...base,
        targets: [{ kind: 'Deployment', name: 'api', pods: 2 }],
      } as JwtRotationStatus;
      const message = {
        ...base,
        conditions: [{ ...base.conditions?.[0], message: 'b' }],
      } as JwtRotationStatus;
      const reason = {
        ...base,
        conditions: [{ ...base.conditions?.[0], reason: 'DualKey' }],
      } as JwtRotationStatus;
      expect(onlyProgressDiffers(base, counts)).to.equal(true);
      expect(onlyProgressDiffers(base, message)).to.equal(true);
      expect(onlyProgressDiffers(base, reason)).to.equal(false);
      expect(onlyProgressDiffers(base, { ...base, phase: 'DualKey' })).to.equal(false);
    });

    it("counts as progress a member cluster's pods and message, not its phase or keys", () => {
      const member = {
        name: 'west',
        phase: 'Rolling',
        message: 'Deployment api: 1 of 2 updated',
        keys: ['aaaa'],
        podsByKey: [{ key: 'aaaa', verifying: 1, signing: 1 }],
      };
      const base = { phase: 'DualKey', members: [member] } as JwtRotationStatus;
      const pods = {
        ...base,
        members: [
          {
            ...member,
            message: 'Deployment api: 2 of 2 updated',
            podsByKey: [{ key: 'aaaa', verifying: 2, signing: 2 }],
          },
        ],
      } as JwtRotationStatus;
      expect(onlyProgressDiffers(base, pods)).to.equal(true);
      expect(
        onlyProgressDiffers(base, {
          ...base,
          members: [{ ...member, phase: 'Rolled' }],
        }),
      ).to.equal(false);
      expect(
        onlyProgressDiffers(base, {
          ...base,
          members: [{ ...member, keys: ['aaaa', 'bbbb'] }],
        } as JwtRotationStatus),
      ).to.equal(false);
      expect(onlyProgressDiffers(base, { ...base, members: [] })).to.equal(false);
    });
  });
});
