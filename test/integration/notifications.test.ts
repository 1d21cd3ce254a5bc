/**
 * The communication plan on a real control plane: the runbook's T-7 and T-1 notices arrive once each,
 * as Events and at webhook receivers on loopback (Slack, Teams and generic formats), also across an
 * operator restart; a receiver that is down does not stop a rotation. The operator's clock is moved
 * days ahead through TEST_CLOCK_FILE (the test clock), never by sleeping.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { JwtRotation, JwtRotationSpec } from '../../src/api/types.ts';
import { waitFor, type TestCluster } from '../support/cluster.ts';
import {
  annotate,
  createJwtRotation,
  eventsOf,
  getJwtRotation,
  waitForPhase,
  type Clients,
} from '../support/jwt-rotations.ts';
import { startOperatorProcess, type OperatorProcess } from '../support/operator.ts';
import { operatorSuite } from '../support/operator-suite.ts';
import { aSigningSecret, startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';
import { setClock } from '../support/test-clocks.ts';

const DAY = 24 * 60 * 60 * 1000;

describe('notices and notifications on a real control plane', function () {
  this.timeout(300_000);
  const suite = operatorSuite({ withOperator: false });
  let cluster: TestCluster;
  let c: Clients;
  let receiver: WebhookReceiver;
  const clockFile = path.join(mkdtempSync(path.join(tmpdir(), 'jwt-notify-')), 'offset-ms');
  const outputs: OperatorProcess[] = [];

  /** Moves the operator's clock so that its now is `at` (epoch ms). */
  const setNow = (at: number): void => {
    setClock(clockFile, at);
  };
  const startOperator = async (): Promise<OperatorProcess> => {
    const operator = await startOperatorProcess({
      kubeconfigPath: cluster.kubeconfigPath,
      env: { TEST_CLOCK_FILE: clockFile },
    });
    suite.operator = operator;
    outputs.push(operator);
    return operator;
  };

  before(async () => {
    ({ cluster, c } = suite);
    writeFileSync(clockFile, '0');
    receiver = await startWebhookReceiver();
    await startOperator();
  });
  afterEach(function () {
    if (this.currentTest?.state !== 'failed') return;
    for (const o of outputs) {
      const lines = o.logs.filter((l) => l.level !== 'debug').slice(-15);
      console.log(lines.map((l) => JSON.stringify(l)).join('\n'));
    }
  });
  after(async () => {
    await receiver.close();
    for (const o of outputs) expect(o.output()).to.not.match(/[A-Za-z0-9+/]{80,}={0,2}/);
    // The webhook URLs are credentials: never in the operator's output.
    for (const o of outputs) expect(o.output()).to.not.include(receiver.url);
  });

  const signingSecret = aSigningSecret();
  /** The receivers' Secret, allowing JwtRotation api to use it, with the generic webhook's signing key. */
  const hooksSecret = async (namespace: string, urls: Record<string, string>): Promise<void> => {
    await c.core.createNamespacedSecret({
      namespace,
      body: {
        metadata: { name: 'hooks', annotations: { 'jwtrotation.io/allow-references': 'api' } },
        stringData: { ...urls, secret: signingSecret },
      },
    });
  };
  const spec = (extra: Partial<JwtRotationSpec> = {}): JwtRotationSpec => ({
    secretName: 'api-jwt',
    targets: [],
    tokenTTL: '15m',
    refreshTokenTTL: '1h',
    rollout: { signingDelay: '2s', pollInterval: '500ms' },
    monitoring: { minDuration: '2s', maxDuration: '1m', requireOldTokenExpiry: false },
    ...extra,
  });
  const reasons = async (namespace: string): Promise<Map<string, number>> => {
    const counts = new Map<string, number>();
    for (const e of await eventsOf(c, namespace)) {
      counts.set(e.reason ?? '', (counts.get(e.reason ?? '') ?? 0) + (e.count ?? 1));
    }
    return counts;
  };
  /** Pokes the JwtRotation and waits for the operator's pass over it; returns that pass. */
  const poke = async (operator: OperatorProcess, namespace: string, value: string, wroteNothing = false) => {
    const rv = await annotate(c, namespace, 'api', { 'test.jwtrotation.io/poke': value });
    return operator.lookedAt(namespace, 'api', rv, { wroteNothing });
  };

  it('sends T-7 and T-1 once each, as Events and to Slack, Teams and a webhook, also across a restart', async () => {
    setNow(Date.now());
    const ns = await cluster.newNamespace('notices');
    await hooksSecret(ns, {
      slack: `${receiver.url}/${ns}/slack`,
      teams: `${receiver.url}/${ns}/teams`,
      url: `${receiver.url}/${ns}/hook`,
    });
    await createJwtRotation(
      c,
      ns,
      'api',
      spec({
        schedule: { interval: '240h' },
        notifications: {
          receivers: [
            { name: 'slack', type: 'Slack', urlSecretRef: { name: 'hooks', key: 'slack' } },
            { name: 'teams', type: 'Teams', urlSecretRef: { name: 'hooks', key: 'teams' } },
            {
              name: 'hook',
              type: 'Webhook',
              urlSecretRef: { name: 'hooks' },
              signingSecretRef: { name: 'hooks' },
            },
          ],
        },
      }),
    );
    const idle = await waitForPhase(c, ns, 'api', 'Idle', (r) => r.status?.nextRotationAt !== undefined);
    const next = Date.parse(idle.status?.nextRotationAt ?? '');
    const posts = (kind: string) => receiver.received.filter((r) => r.path.startsWith(`/${ns}/${kind}`));
    expect(receiver.received.filter((r) => r.path.startsWith(`/${ns}/`))).to.have.length(0);
    expect((await reasons(ns)).get('RotationUpcoming')).to.equal(undefined);

    // T-7: 7 days (and a minute) before the rotation.
    setNow(next - 7 * DAY + 60_000);
    let operator = suite.operator;
    await poke(operator, ns, 't-7');
    await waitFor(
      'the T-7 notice at every receiver',
      async () =>
        ['slack', 'teams', 'hook'].every((k) => posts(k).length === 1) &&
        (await reasons(ns)).get('RotationUpcoming') === 1,
    );
    const noticed = await waitFor(
      'NotificationsDelivered=True and the notice recorded Delivered',
      async () => {
        const r = await getJwtRotation(c, ns, 'api');
        return (
          r.status?.conditions?.some((x) => x.type === 'NotificationsDelivered' && x.status === 'True') &&
          r.status.notices?.[0]?.state === 'Delivered' &&
          r
        );
      },
    );
    expect(noticed.status?.notices).to.deep.equal([
      {
        notice: 'Upcoming',
        rotation: idle.status?.nextRotationAt,
        decidedAt: noticed.status?.notices?.[0]?.decidedAt,
        state: 'Delivered',
        settledAt: noticed.status?.notices?.[0]?.settledAt,
      },
    ]);
    const hook = posts('hook')[0]?.body;
    expect(hook).to.deep.include({
      version: 'jwtrotation.io/v1',
      notice: 'Upcoming',
      severity: 'Normal',
      reason: 'RotationUpcoming',
      jwtRotation: { namespace: ns, name: 'api' },
      rotation: idle.status?.nextRotationAt,
    });
    expect((hook?.fingerprints as { current?: string }).current).to.equal(idle.status?.currentKeyFingerprint);

    // Looked at again, and after a restart: nothing is sent twice.
    await poke(operator, ns, 't-7-again', true);
    await operator.stop('SIGKILL');
    operator = await startOperator();
    await poke(operator, ns, 't-7-restarted', true);
    expect(posts('slack')).to.have.length(1);
    expect((await reasons(ns)).get('RotationUpcoming')).to.equal(1);

    // T-1.
    setNow(next - DAY + 60_000);
    await poke(operator, ns, 't-1');
    await waitFor(
      'the T-1 notice at every receiver',
      async () =>
        ['slack', 'teams', 'hook'].every((k) => posts(k).length === 2) &&
        (await reasons(ns)).get('RotationFinalReminder') === 1,
    );
    // Stopped once the delivery is recorded: a stop before that would deliver it again (at least once,
    // with the same webhook-id; tenant-safety.test.ts stops the operator there on purpose).
    await waitFor('the T-1 notice recorded Delivered', async () => {
      const r = await getJwtRotation(c, ns, 'api');
      return r.status?.notices?.[0]?.notice === 'FinalReminder' && r.status.notices[0].state === 'Delivered';
    });
    await operator.stop('SIGTERM');
    operator = await startOperator();
    await poke(operator, ns, 't-1-restarted', true);
    expect(posts('hook').map((p) => p.body.notice)).to.deep.equal(['Upcoming', 'FinalReminder']);
    const counts = await reasons(ns);
    expect([counts.get('RotationUpcoming'), counts.get('RotationFinalReminder')]).to.deep.equal([1, 1]);

    // Slack: text plus blocks; Teams: an Adaptive Card. Both name the JwtRotation and the key fingerprint.
    const slack = posts('slack')[1]?.body ?? {};
    expect(slack.text).to.be.a('string').and.include(`JWT key rotation tomorrow: ${ns}/api`);
    expect((slack.blocks as { type: string }[]).map((b) => b.type)).to.deep.equal([
      'header',
      'section',
      'section',
    ]);
    expect(JSON.stringify(slack.blocks)).to.include(idle.status?.currentKeyFingerprint ?? 'missing');
    const teams = posts('teams')[1]?.body ?? {};
    expect(teams.type).to.equal('message');
    expect(JSON.stringify(teams.attachments)).to.include('application/vnd.microsoft.card.adaptive');
    expect(JSON.stringify(teams.attachments)).to.include(`JWT key rotation tomorrow: ${ns}/api`);
    expect(JSON.stringify(teams.attachments)).to.include(idle.status?.currentKeyFingerprint ?? 'missing');
    expect(receiver.received.every((r) => r.contentType === 'application/json')).to.equal(true);
    setNow(Date.now());
  });

  it('does not let a receiver that refuses, fails or hangs stop a rotation; the condition and an Event say so', async () => {
    setNow(Date.now());
    const ns = await cluster.newNamespace('notify-down');
    const refused = await startWebhookReceiver();
    const refusedUrl = refused.url;
    await refused.close();
    const hanging = await startWebhookReceiver();
    hanging.answer = 'hang';
    const failing = await startWebhookReceiver();
    failing.answer = 500;
    await hooksSecret(ns, { refused: refusedUrl, failing: failing.url, hanging: hanging.url });
    await createJwtRotation(
      c,
      ns,
      'api',
      spec({
        notifications: {
          // Long enough that a refused connection is told as refused on a loaded machine, not as a timeout.
          timeout: '2s',
          retries: 1,
          receivers: [
            { name: 'refused', type: 'Slack', urlSecretRef: { name: 'hooks', key: 'refused' } },
            { name: 'failing', type: 'Teams', urlSecretRef: { name: 'hooks', key: 'failing' } },
            {
              name: 'hanging',
              type: 'Webhook',
              urlSecretRef: { name: 'hooks', key: 'hanging' },
              signingSecretRef: { name: 'hooks' },
            },
          ],
        },
      }),
    );
    const idle = await waitForPhase(c, ns, 'api', 'Idle');
    await annotate(c, ns, 'api', { 'jwtrotation.io/rotate': 'down-1' });
    const done = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r: JwtRotation) => r.status?.lastRotation?.outcome === 'Completed',
    );
    expect(done.status?.currentKeyFingerprint).to.not.equal(idle.status?.currentKeyFingerprint);
    const failed = await waitFor('NotificationsDelivered=False', async () => {
      const r = await getJwtRotation(c, ns, 'api');
      return r.status?.conditions?.find((x) => x.type === 'NotificationsDelivered' && x.status === 'False');
    });
    expect(failed.reason).to.equal('NotificationFailed');
    expect(failed.message).to.include('refused: ').and.include('ECONNREFUSED');
    expect(failed.message).to.include('failing: ').and.include('HTTP 500 after 2 attempts');
    expect(failed.message).to.include('hanging: ').and.include('no answer within 2000ms');
    expect(failed.message).to.not.include('127.0.0.1');
    const warning = await waitFor('a NotificationFailed Event', async () =>
      (await eventsOf(c, ns)).find((e) => e.reason === 'NotificationFailed' && e.type === 'Warning'),
    );
    expect(warning.message).to.not.include('127.0.0.1');
    expect(failing.received.length).to.be.greaterThan(0);
    expect(hanging.received.length).to.be.greaterThan(0);
    await hanging.close();
    await failing.close();
  });

  it("records who asked in history and Events: the annotation's field manager, the emergency audit entry, historyLimit", async () => {
    setNow(Date.now());
    const ns = await cluster.newNamespace('audit');
    await createJwtRotation(c, ns, 'api', spec({ historyLimit: 1 }));
    await waitForPhase(c, ns, 'api', 'Idle');
    const set = async (manager: string, annotation: string): Promise<void> => {
      const result = await cluster.kubectl(
        ['annotate', 'jwtrotation', 'api', '--overwrite', `--field-manager=${manager}`, annotation],
        { namespace: ns },
      );
      expect(result.code, result.stderr).to.equal(0);
    };

    await set('alice', 'jwtrotation.io/rotate=who-1');
    const rotated = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.request === 'rotate=who-1',
    );
    const record = rotated.status?.lastRotation;
    // No requester-identity policy here: the field manager, marked unverified (tenant-safety.test.ts has the policy).
    expect(record).to.deep.include({
      trigger: 'Manual',
      outcome: 'Completed',
      requestedBy: 'alice',
      requestedByVerified: false,
    });
    expect(Date.parse(record?.requestedAt ?? '')).to.be.closeTo(Date.parse(record?.startedAt ?? ''), 60_000);
    const started = (await eventsOf(c, ns)).find((e) => e.reason === 'RotationStarted');
    expect(started?.message).to.include('(requested by field manager alice, unverified at ');

    const compromised = rotated.status?.currentKeyFingerprint;
    await set('security-bot', 'jwtrotation.io/emergency-rotate=leak-1');
    const replaced = await waitForPhase(
      c,
      ns,
      'api',
      'Idle',
      (r) => r.status?.lastRotation?.request === 'emergencyRotate=leak-1',
    );
    expect(replaced.status?.lastRotation).to.deep.include({
      trigger: 'Emergency',
      requestedBy: 'security-bot',
      compromisedKeyFingerprint: compromised,
    });
    // historyLimit: 1 keeps the newest only.
    expect(replaced.status?.history).to.deep.equal([replaced.status?.lastRotation]);
    const audit = await waitFor('the CompromisedKey Warning', async () =>
      (await eventsOf(c, ns)).find((e) => e.reason === 'CompromisedKey' && e.type === 'Warning'),
    );
    expect(audit.message).to.include(`key ${compromised ?? 'missing'} is compromised`);
    expect(audit.message).to.include('requested by field manager security-bot, unverified');
    expect(audit.message).to.include('audit recent token usage');
  });
});
