/**
 * The notices' outbox through the real Reconciler and WebhookNotifier (in-memory ports, a receiver on
 * loopback that verifies each signature with the standardwebhooks library): a notice is recorded
 * Pending before it is sent; an operator that stops in between leaves it Pending and the next one
 * delivers it with the same webhook id; receivers whose Secret does not consent, or whose URL is not
 * allowed, get nothing.
 */
import { expect } from 'chai';

import { WebhookNotifier } from '../../src/adapters/notify/webhook-notifier.ts';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import type { OutboundPolicy } from '../../src/platform/outbound.ts';
import { Reconciler } from '../../src/reconcile/reconciler.ts';
import { SECOND, T0 } from '../support/builders.ts';
import { memoryDeps } from '../support/memory-ports.ts';
import { aSigningSecret, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const CONSENT = { 'jwtrotation.io/allow-references': 'api' };
const LOOPBACK: OutboundPolicy = { hosts: ['127.0.0.1'], allowHttpReceivers: true };

const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [],
  rollout: { signingDelay: '1s', pollInterval: '1s' },
  monitoring: { minDuration: '1s', maxDuration: '10s' },
  notifications: {
    timeout: '1s',
    retries: 0,
    receivers: [
      { name: 'hook', type: 'Webhook', urlSecretRef: { name: 'hooks' }, signingSecretRef: { name: 'hooks' } },
    ],
  },
};

/** One JwtRotation over in-memory ports, and a fresh "operator process" (reconciler + notifier) on demand. */
function world(receiver: WebhookReceiver, secret: string, outbound = LOOPBACK) {
  const deps = { ...memoryDeps('api-jwt', T0), outbound };
  deps.secrets.put('default', 'hooks', { url: `${receiver.url}/hook`, secret }, CONSENT);
  const resource: JwtRotation = {
    apiVersion: 'jwtrotation.io/v1alpha1',
    kind: 'JwtRotation',
    metadata: { name: 'api', namespace: 'default', uid: 'uid-1', generation: 1, annotations: {} },
    spec,
  };
  deps.resources.byKey.set('default/api', resource);
  const current = (): JwtRotation => deps.resources.byKey.get('default/api') ?? resource;
  const recorded: string[] = [];
  const process = (onRecorded: () => void = () => undefined) => {
    const notifier = new WebhookNotifier({ onSettled: () => undefined, backoffBaseMs: 10 });
    const reconciler = new Reconciler({
      ...deps,
      notifier,
      noticesRecorded: (_ns, _name, notices) => {
        recorded.push(...notices.map((n) => n.kind));
        onRecorded();
      },
    });
    return { notifier, pass: () => reconciler.reconcile('default', 'api') };
  };
  return {
    deps,
    current,
    recorded,
    process,
    /**
     * Passes until one records notices (a request first has the rollback copy saved and read back,
     * which takes passes of its own before the rotation starts). A throw from noticesRecorded ends it.
     */
    async untilRecorded(operator: { pass: () => Promise<unknown> }): Promise<void> {
      for (let i = 0; i < 5; i++) {
        await operator.pass();
        if (recorded.length > 0) return;
      }
      throw new Error(`no notice recorded in 5 passes: ${JSON.stringify(current().status?.conditions?.[0])}`);
    },
    rotate(value: string): void {
      const r = current();
      r.metadata.annotations = { ...r.metadata.annotations, 'jwtrotation.io/rotate': value };
    },
    notices: () => current().status?.notices ?? [],
  };
}

describe('the outbox through the reconciler and the notifier', () => {
  let receiver: WebhookReceiver;
  let secret: string;
  beforeEach(async () => {
    secret = aSigningSecret();
    receiver = await startWebhookReceiver({ secret });
  });
  afterEach(async () => {
    await receiver.close();
  });

  it('records a notice Pending before delivering it, then records it Delivered', async () => {
    const w = world(receiver, secret);
    const operator = w.process(() => {
      // Told between the status write and the handover: recorded, not sent.
      expect(w.notices().map((n) => n.state)).to.include('Pending');
      expect(receiver.received).to.have.length(0);
    });
    await operator.pass();
    w.rotate('r1');
    await w.untilRecorded(operator);
    expect(w.recorded).to.deep.equal(['Started']);
    await operator.notifier.idle();
    expect(receiver.unique().map((p) => p.body.notice)).to.deep.equal(['Started']);
    w.deps.clock.advance(SECOND);
    await operator.pass();
    expect(w.notices()[0]).to.deep.include({ notice: 'Started', state: 'Delivered' });
    expect(w.notices()[0]?.content).to.equal(undefined);
  });

  it('delivers, after a restart, a notice an operator recorded and stopped before sending, with the same id', async () => {
    const w = world(receiver, secret);
    const stopped = new Error('the operator stopped here');
    const first = w.process(() => {
      throw stopped;
    });
    await first.pass();
    w.rotate('r1');
    let error: unknown;
    await w.untilRecorded(first).catch((e: unknown) => (error = e));
    expect(error).to.equal(stopped);
    await first.notifier.idle();
    expect(receiver.received, 'nothing sent before the stop').to.have.length(0);
    expect(w.notices()[0]).to.deep.include({ notice: 'Started', state: 'Pending' });

    // A new process: it decides nothing again, and delivers what is Pending.
    const second = w.process();
    w.deps.clock.advance(SECOND);
    await second.pass();
    await second.notifier.idle();
    const started = receiver.unique();
    expect(started.map((p) => p.body.notice)).to.deep.equal(['Started']);
    expect(started[0]?.verified).to.equal(true);

    // And a third process that finds it still Pending (the second stopped before recording the
    // delivery) sends it again with the same webhook-id: the receiver drops the repeat.
    const third = w.process();
    await third.pass();
    await third.notifier.idle();
    const ids = receiver.received.map((p) => p.headers['webhook-id']);
    expect(ids).to.have.length(2);
    expect(new Set(ids).size).to.equal(1);
    expect(receiver.unique()).to.have.length(1);
    expect(w.recorded, 'decided once').to.deep.equal(['Started']);
  });

  it('sends nothing to a receiver whose Secret does not name the JwtRotation, and says why', async () => {
    const w = world(receiver, secret);
    w.deps.secrets.put('default', 'hooks', { url: `${receiver.url}/hook`, secret }, {});
    const operator = w.process();
    await operator.pass();
    w.rotate('r1');
    await w.untilRecorded(operator);
    await operator.notifier.idle();
    w.deps.clock.advance(SECOND);
    await operator.pass();
    expect(receiver.received).to.have.length(0);
    const condition = w.current().status?.conditions?.find((c) => c.type === 'NotificationsDelivered');
    expect(condition).to.deep.include({ status: 'False', reason: 'ReferenceNotAllowed' });
    expect(condition?.message).to.include('Secret hooks').and.include('jwtrotation.io/allow-references: api');
    expect(w.deps.events.recorded.map((e) => e.reason)).to.include('ReferenceNotAllowed');
    expect(w.notices()[0]).to.deep.include({ notice: 'Started', state: 'Failed' });
  });

  for (const [what, outbound, reason] of [
    [
      'an http:// receiver when the administrator did not allow them',
      { hosts: ['127.0.0.1'], allowHttpReceivers: false },
      'NOTIFICATIONS_ALLOW_HTTP',
    ],
    [
      'a receiver on a host outside the allowlist',
      { hosts: ['*.svc'], allowHttpReceivers: true },
      'outbound allowlist',
    ],
  ] as const) {
    it(`sends nothing to ${what}: UrlNotAllowed, without echoing the URL`, async () => {
      const w = world(receiver, secret, outbound);
      const operator = w.process();
      await operator.pass();
      w.rotate('r1');
      await w.untilRecorded(operator);
      await operator.notifier.idle();
      w.deps.clock.advance(SECOND);
      await operator.pass();
      expect(receiver.received).to.have.length(0);
      const condition = w.current().status?.conditions?.find((c) => c.type === 'NotificationsDelivered');
      expect(condition).to.deep.include({ status: 'False', reason: 'UrlNotAllowed' });
      expect(condition?.message).to.include(reason);
      expect(JSON.stringify([w.current().status, w.deps.events.recorded])).to.not.include(receiver.url);
    });
  }
});
