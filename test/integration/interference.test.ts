/**
 * Someone else acts mid-rotation, on a real control plane: the managed Secret edited by hand or
 * deleted, the backup Secret deleted, a target deleted or never available, the JwtRotation or its
 * namespace deleted, and a second writer that makes the operator's writes lose with 409s.
 *
 * Each case checks the condition and Event the user sees, the safe state the operator leaves (no key
 * that verifies issued tokens is dropped, no target rolled onto a Secret it cannot trust), and how the
 * user gets out of it. docs/operations.md "When someone else acts mid-rotation" lists the same cases.
 *
 * Holding a rotation in a phase: a paused target Deployment never finishes its rollout, so the
 * rotation stays in DualKey before the signing switch; a long monitoring.minDuration holds it in
 * Monitoring, after the switch. Both are released by patching, never waited out.
 */
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';

import { parseJwtConfig, type JwtConfig } from '../../examples/consumer/config.ts';
import { issueToken, verifyToken } from '../../examples/consumer/tokens.ts';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { FAULT_DELAY_ENV } from '../support/fault-switch.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  eventsOf,
  getJwtRotation,
  isRolledOut,
  patchSpec,
  removeJwtRotations,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import type { OperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';

const REVISION = 'jwtrotation.io/secret-revision';
const BACKUP = 'api-jwtrotation-backup';
const ROTATION_KEYS = ['JWT_SECRET_CURRENT', 'JWT_SECRET_NEW', 'JWT_SECRET_ROTATION_DATE'];

/** Monitoring lasts until a test shortens it (patchSpec), so a rotation can be held after the switch. */
const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [{ kind: 'Deployment', name: 'api' }],
  rollout: { signingDelay: '2s', pollInterval: '500ms' },
  monitoring: { minDuration: '1h', maxDuration: '2h' },
};
const RELEASE_MONITORING = {
  monitoring: { minDuration: '2s', maxDuration: '2h', requireOldTokenExpiry: false },
};

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const aKey = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(64))).toString('base64');

describe('someone else acts mid-rotation (real control plane)', function () {
  this.timeout(300_000);
  const suite = operatorSuite();
  let cluster: TestCluster;
  let c: Clients;
  const namespaces: string[] = [];
  before(() => ({ cluster, c } = suite));
  after(async () => {
    // Some cases leave a JwtRotation stalled on purpose; later suites' operators watch every namespace.
    await removeJwtRotations(suite.cluster, namespaces);
  });

  async function setUp(
    prefix: string,
    spec_: JwtRotationSpec = spec,
  ): Promise<{ ns: string; original: string }> {
    const ns = await cluster.newNamespace(prefix);
    namespaces.push(ns);
    await createConsumerDeployment(c, ns, 'api', 'api-jwt', 2);
    await createJwtRotation(c, ns, 'api', spec_);
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
    const original = (await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET ?? '';
    expect(original).to.not.equal('');
    return { ns, original };
  }

  async function pauseTarget(ns: string, paused: boolean): Promise<void> {
    await c.apps.patchNamespacedDeployment(
      { namespace: ns, name: 'api', body: { spec: { paused } } },
      mergePatch,
    );
  }

  /**
   * The target rolled out and its controller caught up with its spec: a pre-rotation checklist finds it
   * available. (Paused in the middle of its first rollout, as a loaded control plane may leave it, it
   * would fail the checklist instead of holding the rotation.)
   */
  async function targetSettled(ns: string): Promise<void> {
    await waitFor(
      `Deployment ${ns}/api rolled out and observed`,
      async () => (await isRolledOut(c, ns, 'api')) || undefined,
    );
  }

  /** Starts a rotation and waits for DualKey before the switch (the target is paused: its rollout never ends). */
  async function holdInDualKey(ns: string): Promise<Record<string, string>> {
    await targetSettled(ns);
    await pauseTarget(ns, true);
    await targetSettled(ns);
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    await waitForPhase(c, ns, 'api', 'DualKey');
    // Held once the operator wrote the dual-key Secret and the backup and set the target's template to
    // the revision that verifies the new key (the paused Deployment does not roll it out).
    return waitFor('the dual-key Secret, the backup, and the target set to verify the new key', async () => {
      const values = await secretValues(c, ns, 'api-jwt');
      const backup = await secretValues(c, ns, BACKUP);
      const newKey = values?.JWT_SECRET_NEW;
      if (newKey === undefined || backup === undefined) return undefined;
      return (await templateRevision(ns))?.includes(fingerprint(newKey)) ? values : undefined;
    });
  }

  /** Starts a rotation and waits for Monitoring (after the signing switch). */
  async function holdInMonitoring(ns: string): Promise<Record<string, string>> {
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    await waitForPhase(c, ns, 'api', 'Monitoring');
    return (await secretValues(c, ns, 'api-jwt')) ?? {};
  }

  async function patchSecretData(
    ns: string,
    name: string,
    data: Record<string, string | null>,
  ): Promise<void> {
    await c.core.patchNamespacedSecret({ namespace: ns, name, body: { data } }, mergePatch);
  }

  async function templateRevision(ns: string): Promise<string | undefined> {
    const d = await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' });
    return d.spec?.template.metadata?.annotations?.[REVISION];
  }

  async function waitForStalled(ns: string, reason: string): Promise<JwtRotation> {
    return waitFor(`JwtRotation ${ns}/api to be Stalled with ${reason}`, async () => {
      const r = await getJwtRotation(c, ns, 'api');
      const stalled = r.status?.conditions?.find((x) => x.type === 'Stalled');
      return stalled?.status === 'True' && stalled.reason === reason ? r : undefined;
    });
  }

  async function waitForEvent(ns: string, reason: string): Promise<k8s.CoreV1Event> {
    return waitFor(`the Event ${reason} in ${ns}`, async () =>
      (await eventsOf(c, ns)).find((e) => e.reason === reason),
    );
  }

  /** Proves the operator has looked at the cluster since now, and that this pass wrote nothing. */
  async function operatorLookedAndWroteNothing(ns: string): Promise<void> {
    const rv = await annotate(c, ns, 'api', { 'example.com/poke': String(Date.now()) });
    await suite.operator.lookedAt(ns, 'api', rv, { wroteNothing: true });
  }

  /** A token signed with `key` (as the only key of a consumer), checked against the Secret `values`. */
  async function verifies(key: string, values: Record<string, string>): Promise<boolean> {
    const now = new Date();
    const signer = parseJwtConfig({ JWT_SECRET: key }).current;
    const token = await issueToken(signer, { subject: 'u', use: 'access', ttlSeconds: 3600, now });
    const config: JwtConfig = parseJwtConfig(values);
    return (await verifyToken(config, token, 'access', now)).result === 'success';
  }

  describe('the managed Secret edited by hand', () => {
    it('JWT_SECRET_NEW removed before the signing switch: a new key is published again (SecretRepaired)', async () => {
      const { ns, original } = await setUp('edit-new-removed');
      const dual = await holdInDualKey(ns);
      await patchSecretData(ns, 'api-jwt', { JWT_SECRET_NEW: null });
      const repaired = await waitFor('JWT_SECRET_NEW to be back', async () => {
        const values = await secretValues(c, ns, 'api-jwt');
        return values?.JWT_SECRET_NEW !== undefined ? values : undefined;
      });
      expect(repaired.JWT_SECRET_NEW).to.not.equal(dual.JWT_SECRET_NEW);
      expect(repaired.JWT_SECRET_CURRENT).to.equal(original);
      expect(repaired.JWT_SECRET).to.equal(original);
      expect(repaired.JWT_SECRET_ROTATION_DATE).to.equal('9999-12-31T23:59:59Z');
      await waitForEvent(ns, 'SecretRepaired');
      await pauseTarget(ns, false);
      await patchSpec(c, ns, 'api', RELEASE_MONITORING);
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
      expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(repaired.JWT_SECRET_NEW);
    });

    it('JWT_SECRET_NEW removed after the signing switch: Failed, NewKeyMissing, nothing rolled; a rollback restores the original', async () => {
      const { ns, original } = await setUp('edit-new-removed-late');
      await holdInMonitoring(ns);
      const revision = await templateRevision(ns);
      await patchSecretData(ns, 'api-jwt', { JWT_SECRET_NEW: null });
      const stalled = await waitForStalled(ns, 'NewKeyMissing');
      expect(stalled.status?.phase).to.equal('Failed');
      await waitForEvent(ns, 'NewKeyMissing');
      await operatorLookedAndWroteNothing(ns);
      expect(await templateRevision(ns)).to.equal(revision);
      const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
      expect(values.JWT_SECRET).to.equal(original);

      await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'after-new-key-lost' });
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'RolledBack');
      const after = (await secretValues(c, ns, 'api-jwt')) ?? {};
      expect(after.JWT_SECRET).to.equal(original);
      for (const key of ROTATION_KEYS) expect(after).to.not.have.property(key);
    });

    it('JWT_SECRET_NEW changed after the signing switch: Failed, KeyChangedByHand; putting it back resumes', async () => {
      const { ns } = await setUp('edit-new-changed');
      const dual = await holdInMonitoring(ns);
      const revision = await templateRevision(ns);
      await patchSecretData(ns, 'api-jwt', { JWT_SECRET_NEW: b64(aKey()) });
      const stalled = await waitForStalled(ns, 'KeyChangedByHand');
      expect(stalled.status?.phase).to.equal('Failed');
      expect(stalled.status?.newKeyFingerprint).to.equal(fingerprint(dual.JWT_SECRET_NEW ?? ''));
      await waitForEvent(ns, 'KeyChangedByHand');
      await operatorLookedAndWroteNothing(ns);
      expect(await templateRevision(ns)).to.equal(revision);

      await patchSecretData(ns, 'api-jwt', { JWT_SECRET_NEW: b64(dual.JWT_SECRET_NEW ?? '') });
      await waitForPhase(c, ns, 'api', 'Monitoring');
      await patchSpec(c, ns, 'api', RELEASE_MONITORING);
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
      expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(dual.JWT_SECRET_NEW);
    });

    it('JWT_SECRET_CURRENT changed: Failed, KeyChangedByHand, nothing rolled; a rollback restores the original from the backup', async () => {
      const { ns, original } = await setUp('edit-current-changed');
      await holdInDualKey(ns);
      const revision = await templateRevision(ns);
      await patchSecretData(ns, 'api-jwt', { JWT_SECRET_CURRENT: b64(aKey()) });
      const stalled = await waitForStalled(ns, 'KeyChangedByHand');
      expect(stalled.status?.phase).to.equal('Failed');
      await operatorLookedAndWroteNothing(ns);
      expect(await templateRevision(ns)).to.equal(revision);

      await pauseTarget(ns, false);
      await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'after-hand-edit' });
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'RolledBack');
      const after = (await secretValues(c, ns, 'api-jwt')) ?? {};
      expect(after.JWT_SECRET).to.equal(original);
      for (const key of ROTATION_KEYS) expect(after).to.not.have.property(key);
    });

    it('JWT_SECRET_CURRENT removed: restored from JWT_SECRET (SecretRepaired)', async () => {
      const { ns, original } = await setUp('edit-current-removed');
      const dual = await holdInDualKey(ns);
      await patchSecretData(ns, 'api-jwt', { JWT_SECRET_CURRENT: null });
      const repaired = await waitFor('JWT_SECRET_CURRENT to be back', async () => {
        const values = await secretValues(c, ns, 'api-jwt');
        return values?.JWT_SECRET_CURRENT !== undefined ? values : undefined;
      });
      expect(repaired.JWT_SECRET_CURRENT).to.equal(original);
      expect(repaired.JWT_SECRET_NEW).to.equal(dual.JWT_SECRET_NEW);
      await waitForEvent(ns, 'SecretRepaired');
      await waitForPhase(c, ns, 'api', 'DualKey');
    });

    it('the Secret deleted mid-rotation: recreated with the original key from the backup, targets rolled back', async () => {
      const { ns, original } = await setUp('secret-deleted');
      await holdInMonitoring(ns);
      await c.core.deleteNamespacedSecret({ namespace: ns, name: 'api-jwt' });
      const done = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'RolledBack',
      );
      const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
      expect(values.JWT_SECRET).to.equal(original);
      for (const key of ROTATION_KEYS) expect(values).to.not.have.property(key);
      expect(done.status?.currentKeyFingerprint).to.equal(fingerprint(original));
      await waitForEvent(ns, 'SecretRestoredFromBackup');
      expect(await templateRevision(ns)).to.match(new RegExp(`^${fingerprint(original)}/`));
    });
  });

  it('the Secret deleted in Idle: created again with a new key, and a Warning names the lost key (SecretRecreated)', async () => {
    const { ns, original } = await setUp('secret-deleted-idle');
    await c.core.deleteNamespacedSecret({ namespace: ns, name: 'api-jwt' });
    const event = await waitForEvent(ns, 'SecretRecreated');
    expect(event.type).to.equal('Warning');
    expect(event.message).to.include(fingerprint(original));
    const values = await waitFor('the Secret to be back', () => secretValues(c, ns, 'api-jwt'));
    expect(values.JWT_SECRET).to.not.equal(original);
  });

  it('the backup Secret deleted mid-rotation: written again from JWT_SECRET_CURRENT (BackupRestored); a later rollback still works', async () => {
    const { ns, original } = await setUp('backup-deleted');
    await holdInDualKey(ns);
    await c.core.deleteNamespacedSecret({ namespace: ns, name: BACKUP });
    const backup = await waitFor('the backup Secret to be back', () => secretValues(c, ns, BACKUP));
    expect(backup.JWT_SECRET_ORIGINAL).to.equal(original);
    await waitForEvent(ns, 'BackupRestored');
    await pauseTarget(ns, false);
    await patchSpec(c, ns, 'api', RELEASE_MONITORING);
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
    await annotate(c, ns, 'api', { 'jwtrotation.io/rollback': 'after-backup-loss' });
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'RolledBack');
    expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(original);
  });

  it('a target deleted mid-rotation: Stalled TargetNotFound, both keys kept; re-created, the rotation completes', async () => {
    const { ns, original } = await setUp('target-deleted');
    const dual = await holdInDualKey(ns);
    await c.apps.deleteNamespacedDeployment({ namespace: ns, name: 'api' });
    const stalled = await waitForStalled(ns, 'TargetNotFound');
    expect(stalled.status?.phase).to.equal('DualKey');
    await waitForEvent(ns, 'TargetNotFound');
    const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(values.JWT_SECRET_CURRENT).to.equal(original);
    expect(values.JWT_SECRET_NEW).to.equal(dual.JWT_SECRET_NEW);

    await createConsumerDeployment(c, ns, 'api', 'api-jwt', 2);
    await patchSpec(c, ns, 'api', RELEASE_MONITORING);
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed', 120_000);
    expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(dual.JWT_SECRET_NEW);
  });

  it('a target that never becomes available mid-rotation: Stalled RolloutStalled, the new key verify-only; fixed, the rotation completes', async () => {
    const { ns, original } = await setUp('target-unavailable');
    const dual = await holdInDualKey(ns);
    // While the rollout is held: no node has this label, so the new pods stay Pending and the Deployment
    // reports ProgressDeadlineExceeded once unpaused.
    await c.apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: 'api',
        body: {
          spec: {
            progressDeadlineSeconds: 2,
            template: { spec: { nodeSelector: { 'example.com/nowhere': 'true' } } },
          },
        },
      },
      mergePatch,
    );
    await pauseTarget(ns, false);
    const stalled = await waitForStalled(ns, 'RolloutStalled');
    expect(stalled.status?.phase).to.equal('DualKey');
    await waitForEvent(ns, 'RolloutStalled');
    const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(values.JWT_SECRET_CURRENT).to.equal(original);
    expect(values.JWT_SECRET_NEW).to.equal(dual.JWT_SECRET_NEW);
    expect(values.JWT_SECRET_ROTATION_DATE).to.equal('9999-12-31T23:59:59Z');

    await c.apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: 'api',
        body: { spec: { template: { spec: { nodeSelector: { 'example.com/nowhere': null } } } } },
      },
      mergePatch,
    );
    await patchSpec(c, ns, 'api', RELEASE_MONITORING);
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed', 120_000);
    expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET).to.equal(dual.JWT_SECRET_NEW);
  });

  it('a target that is not available when a rotation is asked for: the checklist holds the start (PreflightFailed), the Secret untouched', async () => {
    const { ns, original } = await setUp('target-unavailable-start');
    await c.apps.patchNamespacedDeployment(
      {
        namespace: ns,
        name: 'api',
        body: { spec: { template: { spec: { nodeSelector: { 'example.com/nowhere': 'true' } } } } },
      },
      mergePatch,
    );
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
    const stalled = await waitForStalled(ns, 'PreflightFailed');
    expect(stalled.status?.phase).to.equal('Idle');
    const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(values.JWT_SECRET).to.equal(original);
    for (const key of ROTATION_KEYS) expect(values).to.not.have.property(key);
  });

  it('the JwtRotation deleted mid-rotation: the Secret keeps every key that verifies issued tokens; re-created, it completes', async () => {
    const { ns, original } = await setUp('jwtrotation-deleted');
    const dual = await holdInMonitoring(ns);
    const newKey = dual.JWT_SECRET_NEW ?? '';
    await c.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      name: 'api',
    });
    await waitFor('the JwtRotation to be gone', async () => {
      try {
        await getJwtRotation(c, ns, 'api');
        return undefined;
      } catch (error) {
        return (error as { code?: number }).code === 404 || undefined;
      }
    });
    // The backup is garbage-collected with its owner; the Secret is left as it was.
    await waitFor('the backup Secret to be garbage-collected', async () =>
      (await secretValues(c, ns, BACKUP)) === undefined ? true : undefined,
    );
    const left = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(left).to.deep.include({
      JWT_SECRET: original,
      JWT_SECRET_CURRENT: original,
      JWT_SECRET_NEW: newKey,
    });
    expect(await verifies(original, left), 'a token signed with the original key').to.equal(true);
    expect(await verifies(newKey, left), 'a token signed with the new key').to.equal(true);

    // Re-created (e.g. by GitOps): the operator continues that rotation with the same new key.
    await createJwtRotation(c, ns, 'api', { ...spec, ...RELEASE_MONITORING });
    await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.lastRotation?.outcome === 'Completed');
    const after = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(after.JWT_SECRET).to.equal(newKey);
    expect(await verifies(newKey, after)).to.equal(true);
    // The garbage-collected backup was written again, so the original can still be rolled back to.
    await waitForEvent(ns, 'BackupRestored');
    expect((await secretValues(c, ns, BACKUP))?.JWT_SECRET_ORIGINAL).to.equal(original);
  });

  it('the namespace deleted mid-rotation: the operator forgets the JwtRotation, stays up and does not retry it forever', async () => {
    const { ns } = await setUp('namespace-deleted');
    await holdInDualKey(ns);
    await c.core.deleteNamespace({ name: ns });
    await waitFor(
      `namespace ${ns} to be gone`,
      async () => {
        try {
          await c.core.readNamespace({ name: ns });
          return undefined;
        } catch (error) {
          return (error as { code?: number }).code === 404 || undefined;
        }
      },
      { timeoutMs: 180_000 },
    );
    // The operator is up, and a JwtRotation elsewhere is still served.
    const { ns: witness } = await setUp('namespace-witness');
    const rv = await annotate(c, witness, 'api', { 'example.com/poke': '1' });
    await suite.operator.lookedAt(witness, 'api', rv);
    expect(await suite.operator.metric('jwtrotation_phase', { namespace: ns })).to.equal(0);
    const failures = (): number =>
      suite.operator.logs.filter((l) => l.message === 'reconcile failed; retrying' && l.key === `${ns}/api`)
        .length;
    const before = failures();
    const rv2 = await annotate(c, witness, 'api', { 'example.com/poke': '2' });
    await suite.operator.lookedAt(witness, 'api', rv2);
    expect(failures(), 'retries of the deleted JwtRotation after its namespace went').to.equal(before);
  });

  it('conflicts: a second writer on the Secret, the target and the JwtRotation; its changes survive and the rotation completes', async () => {
    const { ns, original } = await setUp('conflicts');
    // The operator reads from its watch caches and writes a few ms later, so a second writer alone
    // lands in between only by chance. This operator holds its first update of each Secret back for
    // 2 s (test/support/fault-switch.ts), in which the second writer changes it: a 409 every run.
    await suite.operator.stop();
    const operator = await suite.restartOperator({ [FAULT_DELAY_ENV]: '2000:secret-update' });
    try {
      await secondWriter(ns, original, operator);
    } finally {
      await operator.stop();
      await suite.restartOperator();
    }
  });

  async function secondWriter(ns: string, original: string, operator: OperatorProcess): Promise<void> {
    await patchSpec(c, ns, 'api', {
      ...RELEASE_MONITORING,
      rollout: { signingDelay: '1s', pollInterval: '300ms' },
    });
    const state = { stop: false };
    let written = 0;
    const writer = (async (): Promise<void> => {
      while (!state.stop) {
        written += 1;
        const value = String(written);
        await Promise.all([
          c.core.patchNamespacedSecret(
            {
              namespace: ns,
              name: 'api-jwt',
              body: { metadata: { annotations: { 'example.com/writer': value } } },
            },
            mergePatch,
          ),
          c.apps.patchNamespacedDeployment(
            {
              namespace: ns,
              name: 'api',
              body: { metadata: { annotations: { 'example.com/writer': value } } },
            },
            mergePatch,
          ),
          c.custom.patchNamespacedCustomObject(
            {
              group: GROUP,
              version: VERSION,
              namespace: ns,
              plural: PLURAL,
              name: 'api',
              body: { metadata: { labels: { 'example.com/writer': value } } },
            },
            mergePatch,
          ),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 150)); // pacing, not a wait for an outcome
      }
    })();
    const conflicts = (pattern: RegExp): number =>
      operator.logs.filter(
        (l) =>
          l.message === 'reconcile failed; retrying' &&
          l.key === `${ns}/api` &&
          pattern.test(String(l.error)),
      ).length;
    try {
      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'go' });
      await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => r.status?.lastRotation?.outcome === 'Completed',
        180_000,
      );
    } finally {
      state.stop = true;
      await writer;
    }
    const last = String(written);
    const secret = await c.core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' });
    expect(secret.metadata?.annotations?.['example.com/writer']).to.equal(last);
    const deployment = await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' });
    expect(deployment.metadata?.annotations?.['example.com/writer']).to.equal(last);
    const resource = await getJwtRotation(c, ns, 'api');
    expect(resource.metadata.labels?.['example.com/writer']).to.equal(last);

    const values = (await secretValues(c, ns, 'api-jwt')) ?? {};
    expect(values.JWT_SECRET).to.not.equal(original);
    expect(resource.status?.lastRotation?.previousKeyFingerprint).to.equal(fingerprint(original));
    expect(resource.status?.currentKeyFingerprint).to.equal(fingerprint(values.JWT_SECRET ?? ''));
    // Two ways a 409 is retried: made again at once on the fresh object when only the other writer's
    // labels or annotations moved (jwtrotation_api_conflicts_total), or the whole pass again.
    const secretConflicts = conflicts(/Secret api-jwt changed since it was read/);
    const statusConflicts = conflicts(/status of .* not written/);
    const mergedSecret = await operator.metric('jwtrotation_api_conflicts_total', { kind: 'secret' });
    const mergedStatus = await operator.metric('jwtrotation_api_conflicts_total', { kind: 'status' });
    console.error(
      `[interference] second writer: ${written} rounds; ${mergedSecret} Secret and ${mergedStatus} status 409s written again on a fresh read; ${secretConflicts} Secret and ${statusConflicts} status 409s retried by a new pass`,
    );
    expect(
      operator.logs.filter(
        (l) => l.message === 'fault delay: write held back' && l.namespace === ns && l.name === 'api-jwt',
      ),
      'the held-back Secret update',
    ).to.have.length(1);
    expect(secretConflicts + mergedSecret, 'Secret conflicts the operator met and retried').to.be.greaterThan(
      0,
    );
  }
});
