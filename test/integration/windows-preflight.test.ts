/**
 * Maintenance windows and the pre-rotation checklist on the real control plane. The operator runs
 * with a clock the test moves (TEST_CLOCK_FILE, test/support/operator-entry.ts): a scheduled rotation days away is
 * reached by moving the clock, never by sleeping. "Not started" is proven by waiting for the
 * operator's next look at the JwtRotation, not by a sleep.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { setClock } from '../support/test-clocks.ts';
import { onKwok, waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createConsumerDeployment,
  createJwtRotation,
  eventsOf,
  getJwtRotation,
  isRolledOut,
  secretValues,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';

const fastSpec = (secretName: string, extra: Partial<JwtRotationSpec> = {}): JwtRotationSpec => ({
  secretName,
  targets: [{ kind: 'Deployment', name: 'api' }],
  tokenTTL: '15m',
  refreshTokenTTL: '1h',
  rollout: { signingDelay: '4s', pollInterval: '500ms' },
  monitoring: { minDuration: '3s', maxDuration: '1m', requireOldTokenExpiry: false },
  ...extra,
});

const condition = (r: JwtRotation, type: string) => r.status?.conditions?.find((c) => c.type === type);
const preflightItem = (r: JwtRotation, name: string) => r.status?.preflight?.find((i) => i.name === name);

describe('maintenance windows and the pre-rotation checklist on a real control plane', function () {
  this.timeout(240_000);
  const suite = operatorSuite({ withOperator: false });
  let cluster: TestCluster;
  let c: Clients;
  let operator: OperatorProcess;
  const clockFile = path.join(mkdtempSync(path.join(tmpdir(), 'jwt-clock-')), 'offset');

  before(async () => {
    ({ cluster, c } = suite);
    // Monday 2026-06-01, 00:00 UTC.
    setClock(clockFile, Date.parse('2026-06-01T00:00:00Z'));
    operator = await startOperatorProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      env: { TEST_CLOCK_FILE: clockFile },
    });
  });
  after(async () => {
    await operator.stop();
    expect(operator.output()).to.not.match(/[A-Za-z0-9+/]{80,}={0,2}/);
  });

  /** Changes an annotation nobody reads, and waits for the operator's pass over that version. */
  async function nextLook(ns: string, name: string): Promise<void> {
    await annotate(c, ns, name, { 'test.jwtrotation.io/poke': String(Date.now()) });
    const rv = (await getJwtRotation(c, ns, name)).metadata.resourceVersion ?? '0';
    await operator.lookedAt(ns, name, rv, { wroteNothing: true });
  }

  it('holds a due scheduled rotation until its window opens, then starts it; nextRotationAt says when', async () => {
    const ns = await cluster.newNamespace('window');
    await createConsumerDeployment(c, ns, 'api', 'api-jwt');
    // The key is made at 00:00 (test clock); due at 01:00; the window opens every day at 12:00 UTC.
    await createJwtRotation(
      c,
      ns,
      'api',
      fastSpec('api-jwt', {
        schedule: { interval: '1h', maintenanceWindows: [{ start: '12:00', duration: '1h' }] },
      }),
    );
    const idle = await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.nextRotationAt !== undefined);
    expect(idle.status?.nextRotationAt).to.equal('2026-06-01T12:00:00Z');

    // Due, outside the window: the operator looks and does nothing.
    setClock(clockFile, Date.parse('2026-06-01T02:00:00Z'));
    await nextLook(ns, 'api');
    const waiting = await getJwtRotation(c, ns, 'api');
    expect(waiting.status?.phase).to.equal('Idle');
    expect(waiting.status?.nextRotationAt).to.equal('2026-06-01T12:00:00Z');
    expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET_NEW).to.equal(undefined);

    // The checklist wants the target available: let its first rollout finish (outside the test clock).
    await waitFor(
      'the Deployment to be available',
      async () => (await isRolledOut(c, ns, 'api')) || undefined,
    );
    // The window opens: the operator's own timer wakes it, and the rotation starts.
    setClock(clockFile, Date.parse('2026-06-01T12:00:05Z'));
    const started = await waitForPhase(c, ns, 'api', 'DualKey');
    expect(started.status?.trigger).to.equal('Scheduled');
    expect(Date.parse(started.status?.rotationStartedAt ?? '')).to.be.at.least(
      Date.parse('2026-06-01T12:00:00Z'),
    );
    expect(preflightItem(started, 'MaintenanceWindow')?.result).to.equal('Passed');
    expect(condition(started, 'PreflightPassed')?.status).to.equal('True');
  });

  it('reports nextRotationAt in a window across the spring-forward change in Berlin', async () => {
    const ns = await cluster.newNamespace('window-dst');
    setClock(clockFile, Date.parse('2026-03-27T00:00:00Z'));
    await createJwtRotation(
      c,
      ns,
      'api',
      fastSpec('api-jwt', {
        targets: [],
        schedule: {
          interval: '1h',
          maintenanceWindows: [
            { days: ['Sunday'], start: '02:30', duration: '2h', timeZone: 'Europe/Berlin' },
          ],
        },
      }),
    );
    // 02:30 does not exist on Sunday 2026-03-29 in Berlin: the window opens at 03:30 CEST = 01:30 UTC.
    const idle = await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.nextRotationAt !== undefined);
    expect(idle.status?.nextRotationAt).to.equal('2026-03-29T01:30:00Z');
    setClock(clockFile, Date.parse('2026-06-01T00:00:00Z'));
  });

  describe('the checklist blocks the start, names the failed item, and clears once fixed', () => {
    beforeEach(() => {
      setClock(clockFile, Date.parse('2026-06-01T00:00:00Z'));
    });

    /** Requests a rotation and waits until the checklist blocks it on `item`. */
    async function blockedOn(ns: string, item: string, text: string): Promise<JwtRotation> {
      await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'r1' });
      const blocked = await waitForPhase(
        c,
        ns,
        'api',
        'Idle',
        (r) => preflightItem(r, item)?.result === 'Failed',
      );
      expect(preflightItem(blocked, item)?.message).to.contain(text);
      expect(condition(blocked, 'Stalled')).to.include({ status: 'True', reason: 'PreflightFailed' });
      expect(condition(blocked, 'Stalled')?.message).to.contain(item);
      expect(condition(blocked, 'PreflightPassed')?.status).to.equal('False');
      expect(blocked.status?.handledRequests?.rotate).to.equal(undefined);
      expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET_NEW).to.equal(undefined);
      const events = await waitFor('a PreflightFailed Event', async () => {
        const found = (await eventsOf(c, ns)).filter((e) => e.reason === 'PreflightFailed');
        return found.length > 0 ? found : undefined;
      });
      expect(events[0]?.message).to.contain(item);
      return blocked;
    }

    async function startsOnceFixed(ns: string): Promise<void> {
      const started = await waitForPhase(c, ns, 'api', 'DualKey', () => true, 60_000);
      expect(started.status?.trigger).to.equal('Manual');
      expect(condition(started, 'PreflightPassed')?.status).to.equal('True');
      expect(condition(started, 'Stalled')?.status).to.equal('False');
      // One Event for the failure, however many passes it failed.
      expect((await eventsOf(c, ns)).filter((e) => e.reason === 'PreflightFailed')).to.have.length(1);
    }

    it('a missing target', async () => {
      const ns = await cluster.newNamespace('preflight-missing');
      await createJwtRotation(c, ns, 'api', fastSpec('api-jwt'));
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
      await blockedOn(ns, 'Targets', 'Deployment api: not found');
      await createConsumerDeployment(c, ns, 'api', 'api-jwt');
      await startsOnceFixed(ns);
    });

    it('a target that is not available', async () => {
      const ns = await cluster.newNamespace('preflight-unavailable');
      await createConsumerDeployment(c, ns, 'api', 'api-jwt');
      // Its pods cannot be scheduled: no node has this name.
      await c.apps.patchNamespacedDeployment(
        {
          namespace: ns,
          name: 'api',
          body: [
            {
              op: 'replace',
              path: '/spec/template/spec/nodeSelector',
              value: { 'kubernetes.io/hostname': 'no-such-node' },
            },
          ],
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      );
      await createJwtRotation(c, ns, 'api', fastSpec('api-jwt'));
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
      await blockedOn(ns, 'Targets', 'Deployment api:');
      await c.apps.patchNamespacedDeployment(
        {
          namespace: ns,
          name: 'api',
          body: [{ op: 'replace', path: '/spec/template/spec/nodeSelector', value: onKwok.nodeSelector }],
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      );
      await startsOnceFixed(ns);
    });

    it('a malformed current key', async () => {
      const ns = await cluster.newNamespace('preflight-key');
      await c.core.createNamespacedSecret({
        namespace: ns,
        body: { metadata: { name: 'api-jwt' }, stringData: { JWT_SECRET: 'a-pasted-key-with-a-newline\n' } },
      });
      await createConsumerDeployment(c, ns, 'api', 'api-jwt');
      await createJwtRotation(c, ns, 'api', fastSpec('api-jwt'));
      await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.currentKeyFingerprint !== undefined);
      // Only the key may fail: a target still starting would fail too, and its recovery would change
      // what fails (a second, rightful Event).
      await waitFor('the target rolled out', async () => (await isRolledOut(c, ns, 'api')) || undefined);
      await blockedOn(ns, 'CurrentKey', 'whitespace or a newline');
      const secret = await c.core.readNamespacedSecret({ namespace: ns, name: 'api-jwt' });
      secret.data = { ...secret.data, JWT_SECRET: Buffer.from('a-pasted-key').toString('base64') };
      await c.core.replaceNamespacedSecret({ namespace: ns, name: 'api-jwt', body: secret });
      await startsOnceFixed(ns);
      expect((await secretValues(c, ns, 'api-jwt'))?.JWT_SECRET_CURRENT).to.equal('a-pasted-key');
    });
  });
});
