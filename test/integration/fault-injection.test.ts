/**
 * The operator killed right after every write, on every path, on the real control plane.
 *
 * Each operator process runs with the fault switch JWTR_FAULT_EXIT_AFTER_WRITES=1
 * (test/support/fault-switch.ts): it exits (code 86) right after its first write, whatever that
 * is: the Secret, the backup, a target's roll, status, an Event, the retention delete. The next
 * process resumes and makes one more write. So one run of a path kills the operator at every write
 * point of that path, in order, until the operation's outcome is recorded.
 *
 * Checked on every version of the managed Secret the API server showed (a watch records them all):
 * - never without a key, and, on the rotation and completion paths, every token signed with the key
 *   a pod would sign with in one version verifies against the next version (the reference
 *   consumer's own key selection and verification, examples/consumer);
 * - exactly one new key is made by a rotation or an emergency, none by a rollback;
 * - the operation finishes with the right outcome.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';

import { parseJwtConfig, signingKeyAt, type JwtConfig } from '../../examples/consumer/config.ts';
import { issueToken, verifyToken } from '../../examples/consumer/tokens.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { FAULT_ENV, FAULT_EXIT_CODE } from '../support/fault-switch.ts';
import { waitFor } from '../support/cluster.ts';
import { startGatedEnvironment } from '../support/gated-env.ts';
import {
  removeJwtRotations,
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  getJwtRotation,
  waitForPhase,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';

const KEY_SLOTS = ['JWT_SECRET', 'JWT_SECRET_CURRENT', 'JWT_SECRET_NEW'] as const;

/** Every version of one Secret, in order, decoded. */
class SecretHistory {
  readonly versions: Record<string, string>[] = [];
  /** When each version was seen (the previous one was in force until then). */
  readonly seenAt: Date[] = [];
  #informer: k8s.Informer<k8s.V1Secret> | undefined;

  async start(kubeConfig: k8s.KubeConfig, namespace: string, name: string): Promise<void> {
    const core = kubeConfig.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(kubeConfig, `/api/v1/namespaces/${namespace}/secrets`, () =>
      core.listNamespacedSecret({ namespace }),
    );
    const record = (secret: k8s.V1Secret): void => {
      if (secret.metadata?.name !== name) return;
      const values = Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]),
      );
      const last = this.versions.at(-1);
      if (last === undefined || JSON.stringify(last) !== JSON.stringify(values)) {
        this.versions.push(values);
        this.seenAt.push(new Date());
      }
    };
    informer.on('add', record);
    informer.on('update', record);
    informer.on('delete', (secret) => {
      if (secret.metadata?.name === name) {
        this.versions.push({});
        this.seenAt.push(new Date());
      }
    });
    await informer.start();
    this.#informer = informer;
  }

  async stop(): Promise<void> {
    await this.#informer?.stop();
  }

  /** Distinct key values any version held. */
  keys(): Set<string> {
    const keys = new Set<string>();
    for (const version of this.versions) {
      for (const slot of KEY_SLOTS) {
        const key = version[slot];
        if (key) keys.add(key);
      }
    }
    return keys;
  }
}

/** Tokens signed in each version with the key a pod would sign with then, verified against the next version. */
async function checkTokensAcrossVersions(history: SecretHistory): Promise<number> {
  const { versions, seenAt } = history;
  let checked = 0;
  let previous: JwtConfig | undefined;
  for (const [index, values] of versions.entries()) {
    expect(
      KEY_SLOTS.some((slot) => values[slot]),
      `Secret version ${index} has no key at all`,
    ).to.equal(true);
    const config = parseJwtConfig(values);
    if (previous !== undefined) {
      // A token signed, under the previous version, with the key it names for signing at the moment it
      // was replaced (the reference consumer's own choice by JWT_SECRET_ROTATION_DATE), verified by the new one.
      const now = seenAt[index] ?? new Date();
      const signer = signingKeyAt(previous, now);
      const token = await issueToken(signer, { subject: 'u', use: 'access', ttlSeconds: 3600, now });
      const result = await verifyToken(config, token, 'access', now);
      expect(
        result.result,
        `a token signed with version ${index - 1}'s signing key at ${now.toISOString()} fails against version ${index}`,
      ).to.equal('success');
      checked += 1;
    }
    previous = config;
  }
  return checked;
}

describe('killed right after every write, on every path (fault switch)', function () {
  this.timeout(900_000);
  const suite = operatorSuite({ withOperator: false });
  const survived = new Map<string, number>();
  let tokensChecked = 0;

  const namespaces: string[] = [];
  const newNamespace = async (prefix: string): Promise<string> => {
    const ns = await suite.cluster.newNamespace(prefix);
    namespaces.push(ns);
    return ns;
  };

  after(async () => {
    await removeJwtRotations(suite.cluster, namespaces);
    const total = [...survived.values()].reduce((a, b) => a + b, 0);
    console.error(
      `[fault-injection] ${total} injection points survived (${[...survived.entries()].map(([k, n]) => `${k} ${n}`).join(', ')}); ${tokensChecked} tokens checked across Secret versions`,
    );
  });

  /** One operator with no faults, until `until` holds, then stopped. */
  async function runPlain(ns: string, until: () => Promise<boolean>): Promise<void> {
    const operator = await startOperatorProcess({
      kubeconfigPath: suite.cluster.kubeconfigPath,
      namespace: ns,
    });
    try {
      await waitFor('the set-up to get there', async () => (await until()) || undefined, {
        timeoutMs: 120_000,
      });
    } finally {
      await operator.stop('SIGKILL');
    }
  }

  /**
   * Operators that each exit after their first write, one after another, until `done` holds. Returns
   * the kinds of the writes each was killed after.
   */
  async function killAfterEveryWrite(
    ns: string,
    done: () => Promise<boolean>,
    maxKills = 120,
  ): Promise<string[]> {
    const kinds: string[] = [];
    for (;;) {
      if (await done()) return kinds;
      expect(kinds.length, `still not done after ${maxKills} kills: ${kinds.join(' ')}`).to.be.below(
        maxKills,
      );
      const operator: OperatorProcess = await startOperatorProcess({
        kubeconfigPath: suite.cluster.kubeconfigPath,
        namespace: ns,
        env: { [FAULT_ENV]: '1' },
        waitUntil: 'spawned',
      });
      const state = { exitCode: undefined as number | null | undefined };
      void operator.exited().then((code) => (state.exitCode = code));
      const finished = await waitFor(
        'the operator to write once and exit, or the operation to finish',
        async () => (state.exitCode !== undefined ? 'exited' : (await done()) ? 'done' : undefined),
        { timeoutMs: 120_000, intervalMs: 100 },
      );
      if (finished === 'done') {
        // The write that finished it may be this process's one: let it exit, or show a pass that wrote nothing.
        await waitFor(
          'the last operator to exit after its write, or to finish a pass that wrote nothing',
          () =>
            Promise.resolve(
              state.exitCode !== undefined ||
                operator.logs.some((l) => l.message === 'pass done' && l.wrote === false) ||
                undefined,
            ),
          { timeoutMs: 60_000, intervalMs: 100 },
        );
        await operator.stop('SIGKILL');
        const last = operator.logs.find((l) => l.message === 'fault injected');
        if (last !== undefined) {
          kinds.push(String(last.kind));
          survived.set(String(last.kind), (survived.get(String(last.kind)) ?? 0) + 1);
        }
        return kinds;
      }
      expect(state.exitCode, operator.output().slice(-2000)).to.equal(FAULT_EXIT_CODE);
      const injected = operator.logs.find((l) => l.message === 'fault injected');
      const kind = String(injected?.kind);
      kinds.push(kind);
      survived.set(kind, (survived.get(kind) ?? 0) + 1);
    }
  }

  const outcome =
    (ns: string, want: string, count = 1) =>
    async () => {
      const r = await getJwtRotation(suite.c, ns, 'api');
      return (
        r.status?.phase === 'Idle' &&
        (r.status.history ?? []).filter((h) => h.outcome === want).length >= count
      );
    };

  /** A namespace with a target, its Secret's history recorded, a JwtRotation Idle on its first key. */
  async function setUp(
    prefix: string,
    spec: Partial<JwtRotationSpec> = {},
  ): Promise<{ ns: string; history: SecretHistory; original: string }> {
    const ns = await newNamespace(prefix);
    await createConsumerDeployment(suite.c, ns, 'api', 'api-jwt', 1);
    const history = new SecretHistory();
    await history.start(suite.cluster.kubeConfig, ns, 'api-jwt');
    await createJwtRotation(suite.c, ns, 'api', {
      secretName: 'api-jwt',
      targets: [{ kind: 'Deployment', name: 'api' }],
      rollout: { signingDelay: '2s', pollInterval: '500ms' },
      monitoring: { minDuration: '2s', maxDuration: '1h', requireOldTokenExpiry: false },
      ...spec,
    });
    // The creation itself runs under the fault switch too.
    await killAfterEveryWrite(
      ns,
      async () => (await getJwtRotation(suite.c, ns, 'api')).status?.phase === 'Idle',
    );
    const r = await getJwtRotation(suite.c, ns, 'api');
    const original = history.versions.at(-1)?.JWT_SECRET ?? '';
    expect(r.status?.currentKeyFingerprint).to.be.a('string');
    return { ns, history, original };
  }

  it('a rotation, through completion, then the backup dropped when retention expires', async () => {
    const { ns, history, original } = await setUp('fault-rotate', { rollback: { retention: '5s' } });
    await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rotate': 'r1' });
    const kinds = await killAfterEveryWrite(ns, async () => {
      const r = await getJwtRotation(suite.c, ns, 'api');
      const backup = await suite.c.core
        .readNamespacedSecret({ namespace: ns, name: 'api-jwtrotation-backup' })
        .catch(() => undefined);
      return (
        (await outcome(ns, 'Completed')()) &&
        r.status?.originalKeyFingerprint === undefined &&
        backup === undefined
      );
    });
    await history.stop();
    // Events are written after the status of their pass: a pass killed at its status write loses them
    // (Events are at most once), so they are not a kill point every path is sure to reach.
    expect(kinds).to.include.members([
      'backup-create',
      'secret-update',
      'workload-patch',
      'status',
      'backup-delete',
    ]);
    const keys = history.keys();
    keys.delete(original);
    expect(keys.size, 'new keys made').to.equal(1);
    tokensChecked += await checkTokensAcrossVersions(history);
    const final = history.versions.at(-1) ?? {};
    expect(final.JWT_SECRET).to.equal([...keys][0]);
    expect(final).to.not.have.any.keys('JWT_SECRET_CURRENT', 'JWT_SECRET_NEW', 'JWT_SECRET_ROTATION_DATE');
  });

  for (const from of ['DualKey', 'Monitoring'] as const) {
    it(`a rollback requested in ${from}`, async () => {
      const { ns, history, original } = await setUp(`fault-rollback-${from.toLowerCase()}`, {
        // Long enough that the phase holds while the rollback is requested.
        rollout:
          from === 'DualKey'
            ? { signingDelay: '1h', pollInterval: '500ms' }
            : { signingDelay: '2s', pollInterval: '500ms' },
        monitoring: { minDuration: '1h', maxDuration: '2h' },
      });
      await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rotate': 'r1' });
      await runPlain(ns, async () => (await getJwtRotation(suite.c, ns, 'api')).status?.phase === from);
      await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rollback': 'undo' });
      const kinds = await killAfterEveryWrite(ns, outcome(ns, 'RolledBack'));
      await history.stop();
      expect(kinds).to.include.members(['secret-update', 'workload-patch']);
      expect(history.versions.at(-1)?.JWT_SECRET).to.equal(original);
      // Before the signing switch every pod signs with the original key, which the rollback keeps.
      if (from === 'DualKey') tokensChecked += await checkTokensAcrossVersions(history);
      const rotationKeys = history.keys();
      rotationKeys.delete(original);
      expect(rotationKeys.size, 'keys made (the rotation made one; the rollback none)').to.equal(1);
      for (const version of history.versions) expect(KEY_SLOTS.some((s) => version[s])).to.equal(true);
    });
  }

  it('a rollback after completion, within retention', async () => {
    const { ns, history, original } = await setUp('fault-rollback-after', { rollback: { retention: '1h' } });
    await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rotate': 'r1' });
    await runPlain(ns, outcome(ns, 'Completed'));
    await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rollback': 'undo' });
    const kinds = await killAfterEveryWrite(ns, outcome(ns, 'RolledBack'));
    await history.stop();
    expect(kinds).to.include.members(['secret-update', 'workload-patch']);
    expect(history.versions.at(-1)?.JWT_SECRET).to.equal(original);
    const keys = history.keys();
    keys.delete(original);
    expect(keys.size).to.equal(1);
  });

  it('an emergency rotation mid-rotation', async () => {
    const { ns, history, original } = await setUp('fault-emergency', {
      monitoring: { minDuration: '1h', maxDuration: '2h' },
    });
    await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rotate': 'r1' });
    await runPlain(ns, async () => (await getJwtRotation(suite.c, ns, 'api')).status?.phase === 'Monitoring');
    const before = history.keys();
    await annotate(suite.c, ns, 'api', { 'jwtrotation.io/emergency-rotate': 'leak-1' });
    const kinds = await killAfterEveryWrite(ns, async () => {
      const r: JwtRotation = await getJwtRotation(suite.c, ns, 'api');
      return r.status?.phase === 'Idle' && r.status.lastRotation?.trigger === 'Emergency';
    });
    await history.stop();
    expect(kinds).to.include.members(['secret-update', 'workload-patch']);
    const made = [...history.keys()].filter((k) => !before.has(k));
    expect(made, 'the emergency made exactly one key').to.have.length(1);
    const final = history.versions.at(-1) ?? {};
    expect(final.JWT_SECRET).to.equal(made[0]);
    expect(final.JWT_SECRET).to.not.equal(original);
    expect(final).to.not.have.any.keys('JWT_SECRET_CURRENT', 'JWT_SECRET_NEW');
    for (const version of history.versions) expect(KEY_SLOTS.some((s) => version[s])).to.equal(true);
  });

  it('the automatic rollback on a health-gate breach (a real Prometheus and consumer)', async () => {
    const ns = await newNamespace('fault-gate');
    await createConsumerDeployment(suite.c, ns, 'api', 'api-jwt', 1);
    await suite.c.core.createNamespacedSecret({
      namespace: ns,
      body: {
        metadata: { name: 'api-jwt' },
        stringData: { JWT_SECRET: Buffer.from(`gate-${Date.now()}`).toString('base64') },
      },
    });
    const history = new SecretHistory();
    await history.start(suite.cluster.kubeConfig, ns, 'api-jwt');
    const env = await startGatedEnvironment(suite.c, ns, 'api-jwt');
    try {
      await createJwtRotation(suite.c, ns, 'api', {
        secretName: 'api-jwt',
        targets: [{ kind: 'Deployment', name: 'api' }],
        rollout: { signingDelay: '2s', pollInterval: '500ms' },
        monitoring: {
          minDuration: '1h',
          maxDuration: '2h',
          failurePolicy: 'Rollback',
          prometheus: {
            url: env.prometheus.url,
            interval: '1s',
            timeout: '2s',
            window: '10s',
            thresholds: { minSamples: 20, maxValidationLatencyP99Seconds: 1 },
          },
        },
      });
      const original = env.keys.old;
      // Seen once before the request: a request already there on first sight is recorded, not acted on.
      await runPlain(ns, async () => (await getJwtRotation(suite.c, ns, 'api')).status?.phase === 'Idle');
      await annotate(suite.c, ns, 'api', { 'jwtrotation.io/rotate': 'r1' });
      await runPlain(
        ns,
        async () => (await getJwtRotation(suite.c, ns, 'api')).status?.phase === 'Monitoring',
      );
      env.setNewShare(0.5);
      const failing = await fetch(`${env.consumer.url}/debug/fail?rate=0.3&mode=error`, { method: 'POST' });
      expect(failing.ok).to.equal(true);
      const kinds = await killAfterEveryWrite(ns, outcome(ns, 'RolledBack'));
      const done = await waitForPhase(suite.c, ns, 'api', 'Idle');
      expect(done.status?.lastRotation?.reason).to.equal('HealthGateFailed');
      expect(kinds).to.include.members(['secret-update']);
      expect(history.versions.at(-1)?.JWT_SECRET).to.equal(original);
    } finally {
      await history.stop();
      await env.stop();
    }
  });
});
