import { expect } from 'chai';
import { Webhook } from 'standardwebhooks';

import { slackPayload, teamsPayload, webhookPayload } from '../../src/adapters/notify/payloads.ts';
import { parseSigningKey, signature, webhookId } from '../../src/adapters/notify/signature.ts';
import { WebhookNotifier, type Delivery } from '../../src/adapters/notify/webhook-notifier.ts';
import type { Notice } from '../../src/rotation/model.ts';
import {
  aSigningSecret,
  startWebhookReceiver,
  verifies,
  type WebhookReceiver,
} from '../support/webhook-receiver.ts';

const notice: Notice = {
  kind: 'Upcoming',
  rotation: '2026-01-11T00:00:00Z',
  type: 'Normal',
  reason: 'RotationUpcoming',
  message:
    'Scheduled rotation of Secret api-jwt in 7 days, at 2026-01-11T00:00:00Z: key 0123456789ab will be replaced (T-7 notice)',
  at: '2026-01-04T00:00:00Z',
  fingerprints: { current: '0123456789ab' },
};
const subject = { namespace: 'prod', name: 'api', uid: '6f1c0a52-uid' };
const ID = webhookId(subject.uid, notice);

/** Every string in a JSON value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value !== null && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

describe('notification payloads', () => {
  it('Slack: text plus header, section and fields blocks, within Slack limits', () => {
    const body = slackPayload(notice, subject);
    expect(body.text).to.be.a('string').and.include('JWT key rotation in 7 days: prod/api');
    const blocks = body.blocks as {
      type: string;
      text?: { type: string; text: string };
      fields?: unknown[];
    }[];
    expect(blocks.map((b) => b.type)).to.deep.equal(['header', 'section', 'section']);
    expect(blocks[0]?.text?.type).to.equal('plain_text');
    expect(blocks[0]?.text?.text.length).to.be.at.most(150);
    expect(blocks[1]?.text).to.deep.equal({ type: 'mrkdwn', text: notice.message });
    expect(blocks[2]?.fields?.length).to.be.within(1, 10);
    expect(JSON.stringify(blocks[2]?.fields)).to.include('0123456789ab');
  });

  it('Teams: a Workflows message with one Adaptive Card (title, message, facts), not a retired MessageCard', () => {
    const body = teamsPayload(notice, subject);
    expect(body.type).to.equal('message');
    const attachments = body.attachments as { contentType: string; content: Record<string, unknown> }[];
    expect(attachments).to.have.length(1);
    expect(attachments[0]?.contentType).to.equal('application/vnd.microsoft.card.adaptive');
    const card = attachments[0]?.content ?? {};
    expect(card).to.deep.include({ type: 'AdaptiveCard', version: '1.4' });
    const blocks = card.body as { type: string; text?: string; color?: string; facts?: unknown[] }[];
    expect(blocks.map((b) => b.type)).to.deep.equal(['TextBlock', 'TextBlock', 'FactSet']);
    expect(blocks[0]?.text).to.equal('JWT key rotation in 7 days: prod/api');
    expect(blocks[1]?.text).to.equal(notice.message);
    expect(blocks[2]?.facts).to.deep.include({ title: 'Current key', value: '0123456789ab' });
    expect(blocks[2]?.facts).to.deep.include({ title: 'Scheduled for', value: '2026-01-11T00:00:00Z' });
    const warning = teamsPayload({ ...notice, type: 'Warning' }, subject);
    expect(JSON.stringify(warning)).to.include('"color":"Attention"');
    expect(JSON.stringify(body)).to.not.include('MessageCard');
  });

  it('Webhook: the documented body, with its id and who asked', () => {
    expect(webhookPayload(notice, subject, ID)).to.deep.equal({
      version: 'jwtrotation.io/v1',
      id: ID,
      notice: 'Upcoming',
      severity: 'Normal',
      reason: 'RotationUpcoming',
      title: 'JWT key rotation in 7 days: prod/api',
      message: notice.message,
      jwtRotation: { namespace: 'prod', name: 'api' },
      rotation: '2026-01-11T00:00:00Z',
      trigger: null,
      fingerprints: { current: '0123456789ab', new: null, original: null },
      requestedBy: null,
      sentAt: '2026-01-04T00:00:00Z',
    });
    const asked: Notice = {
      ...notice,
      kind: 'Emergency',
      requestedBy: { username: 'bob', groups: ['devs', 'system:authenticated'], verified: true },
    };
    expect(webhookPayload(asked, subject, ID).requestedBy).to.deep.equal({
      username: 'bob',
      groups: ['devs', 'system:authenticated'],
      verified: true,
    });
    expect(JSON.stringify(slackPayload(asked, subject))).to.include('bob (verified)');
    const unverified = { ...asked, requestedBy: { username: 'alice', verified: false } };
    expect(JSON.stringify(teamsPayload(unverified, subject))).to.include('alice (field manager, unverified)');
  });

  it('carry nothing longer than a fingerprint that looks like key material', () => {
    for (const body of [slackPayload, teamsPayload, webhookPayload].map((f) => f(notice, subject, ID))) {
      for (const text of strings(body)) expect(text).to.not.match(/[A-Za-z0-9+/]{40,}/);
    }
  });
});

describe('WebhookNotifier', () => {
  let receiver: WebhookReceiver;
  let settled: string[];
  let notifier: WebhookNotifier;
  beforeEach(async () => {
    receiver = await startWebhookReceiver();
    settled = [];
    notifier = new WebhookNotifier({
      onSettled: (namespace, name) => settled.push(`${namespace}/${name}`),
      backoffBaseMs: 10,
      backoffMaxMs: 40,
    });
  });
  afterEach(async () => {
    await receiver.close();
  });

  const delivery = (overrides: Partial<Delivery> = {}): Delivery => ({
    subject,
    receivers: [
      { name: 'slack', type: 'Slack', url: `${receiver.url}/slack` },
      { name: 'teams', type: 'Teams', url: `${receiver.url}/teams` },
      { name: 'hook', type: 'Webhook', url: `${receiver.url}/hook` },
    ],
    notices: [notice],
    timeoutMs: 1000,
    retries: 2,
    ...overrides,
  });

  it('posts each notice to each receiver in its format, and reports success', async () => {
    notifier.send(delivery());
    await notifier.idle();
    expect(receiver.at('/slack').map((r) => r.body.text)).to.have.length(1);
    expect(receiver.at('/teams')[0]?.body.type).to.equal('message');
    expect(receiver.at('/hook')[0]?.body.notice).to.equal('Upcoming');
    expect(receiver.received.every((r) => r.contentType === 'application/json')).to.equal(true);
    expect(notifier.outcome('prod', 'api')).to.deep.include({ ok: true });
    expect(notifier.outcome('prod', 'api')?.settled).to.deep.equal([
      { kind: 'Upcoming', rotation: notice.rotation, stallReason: undefined, delivered: true },
    ]);
    expect(settled).to.deep.equal(['prod/api']);
  });

  it('retries a 500 with backoff, then reports the failure without the URL', async () => {
    receiver.answer = 500;
    notifier.send(
      delivery({ receivers: [{ name: 'hook', type: 'Webhook', url: `${receiver.url}/secret-path` }] }),
    );
    await notifier.idle();
    expect(receiver.received).to.have.length(3);
    const outcome = notifier.outcome('prod', 'api');
    expect(outcome).to.deep.include({
      ok: false,
      message: 'hook: Upcoming not delivered (HTTP 500 after 3 attempts)',
    });
    expect(outcome?.settled?.map((n) => n.delivered)).to.deep.equal([false]);
    // Every attempt carries the same id, and a fresh timestamp.
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id']))).to.deep.equal(new Set([ID]));
    expect(outcome?.message).to.not.include('secret-path');
  });

  it('succeeds on a retry once the receiver recovers', async () => {
    receiver.answer = 503;
    notifier.send(
      delivery({ retries: 5, receivers: [{ name: 'hook', type: 'Webhook', url: `${receiver.url}/h` }] }),
    );
    while (receiver.received.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    receiver.answer = 200;
    await notifier.idle();
    expect(notifier.outcome('prod', 'api')?.ok).to.equal(true);
  });

  it('gives up on a receiver that hangs past the timeout, and on one that refuses connections', async () => {
    receiver.answer = 'hang';
    await receiver.close().catch(() => undefined);
    const hanging = await startWebhookReceiver();
    hanging.answer = 'hang';
    notifier.send(
      delivery({
        timeoutMs: 200,
        retries: 1,
        receivers: [
          { name: 'slow', type: 'Slack', url: `${hanging.url}/slow` },
          { name: 'down', type: 'Teams', url: receiver.url },
          { name: 'nourl', type: 'Webhook', problem: 'Secret hooks has no key url with the webhook URL' },
        ],
      }),
    );
    await notifier.idle();
    await hanging.close();
    expect(hanging.received).to.have.length(2);
    expect(notifier.outcome('prod', 'api')).to.deep.include({
      ok: false,
      message:
        'slow: Upcoming not delivered (no answer within 200ms after 2 attempts); ' +
        'down: Upcoming not delivered (connection failed (ECONNREFUSED) after 2 attempts); ' +
        'nourl: Secret hooks has no key url with the webhook URL',
    });
  });

  it('refuses a URL that is not http(s), without echoing it', async () => {
    notifier.send(delivery({ receivers: [{ name: 'bad', type: 'Webhook', url: 'file:///etc/passwd' }] }));
    await notifier.idle();
    expect(notifier.outcome('prod', 'api')).to.deep.include({
      ok: false,
      message: 'bad: the URL in its Secret is not an http(s) URL',
    });
  });

  it('signs every delivery in the Standard Webhooks form, which the standardwebhooks library verifies', async () => {
    const secret = aSigningSecret();
    const signed = await startWebhookReceiver({ secret });
    notifier.send(
      delivery({
        notices: [notice, { ...notice, kind: 'FinalReminder', reason: 'RotationFinalReminder' }],
        receivers: [
          { name: 'hook', type: 'Webhook', url: `${signed.url}/hook`, signingKey: secret },
          { name: 'teams', type: 'Teams', url: `${signed.url}/teams`, signingKey: secret },
        ],
      }),
    );
    await notifier.idle();
    await signed.close();
    expect(signed.received).to.have.length(4);
    expect(signed.received.every((r) => r.verified === true)).to.equal(true);
    expect(signed.at('/hook').map((r) => r.headers['webhook-id'])).to.deep.equal([
      ID,
      webhookId(subject.uid, { ...notice, kind: 'FinalReminder' }),
    ]);
    const first = signed.at('/hook')[0];
    expect(first?.headers['webhook-signature']).to.match(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Math.abs(Number(first?.headers['webhook-timestamp']) - Date.now() / 1000)).to.be.below(60);
    expect(first?.body.id).to.equal(first?.headers['webhook-id']);
  });

  it('gives a tampered body, a wrong secret or a replayed old timestamp away to the verifying library', async () => {
    const secret = aSigningSecret();
    const signed = await startWebhookReceiver({ secret });
    notifier.send(
      delivery({ receivers: [{ name: 'hook', type: 'Webhook', url: signed.url, signingKey: secret }] }),
    );
    await notifier.idle();
    await signed.close();
    const post = signed.received[0];
    if (post === undefined) throw new Error('nothing received');
    const library = new Webhook(secret);
    expect(verifies(library, post.raw, post.headers)).to.equal(true);
    expect(verifies(library, post.raw.replace('Upcoming', 'Completed'), post.headers)).to.equal(false);
    expect(verifies(new Webhook(aSigningSecret()), post.raw, post.headers)).to.equal(false);
    const key = parseSigningKey(secret);
    if (key === undefined) throw new Error('no key');
    const old = Math.floor(Date.now() / 1000) - 3600;
    const replayed = {
      ...post.headers,
      'webhook-timestamp': String(old),
      'webhook-signature': signature(key, ID, old, post.raw),
    };
    expect(verifies(library, post.raw, replayed)).to.equal(false);
  });

  it('sends a notice once per process however often it is handed over, and forgets it once recorded', async () => {
    notifier.send(delivery());
    notifier.send(delivery());
    await notifier.idle();
    notifier.send(delivery());
    await notifier.idle();
    expect(receiver.received).to.have.length(3);
    // The status recorded it (no longer Pending): forgotten, so the outcome no longer lists it.
    notifier.send(delivery({ notices: [] }));
    expect(notifier.outcome('prod', 'api')?.settled).to.deep.equal([]);
  });

  it('gives one notice the same webhook id in every process, and different ids to different notices', () => {
    expect(webhookId(subject.uid, notice)).to.equal(ID);
    expect(ID).to.match(/^msg_[0-9a-f]{32}$/);
    const others = [
      webhookId('another-uid', notice),
      webhookId(subject.uid, { ...notice, kind: 'FinalReminder' }),
      webhookId(subject.uid, { ...notice, rotation: '2026-04-11T00:00:00Z' }),
      webhookId(subject.uid, { ...notice, stallReason: 'TargetNotFound' }),
    ];
    expect(new Set([ID, ...others]).size).to.equal(5);
  });

  it('sends nothing, unsigned or otherwise, to a receiver whose signing key is not a Standard Webhooks secret', async () => {
    for (const bad of ['not-base64!', `whsec_${Buffer.alloc(8).toString('base64')}`, '']) {
      expect(parseSigningKey(bad), bad).to.equal(undefined);
    }
    notifier.send(
      delivery({
        receivers: [{ name: 'hook', type: 'Webhook', url: receiver.url, signingKey: 'whsec_short' }],
      }),
    );
    await notifier.idle();
    expect(receiver.received).to.have.length(0);
    expect(notifier.outcome('prod', 'api')?.message).to.include('not a Standard Webhooks secret');
    expect(notifier.outcome('prod', 'api')?.message).to.not.include('whsec_short');
  });

  it("reports a receiver's own problem reason (a Secret without consent), and marks the notice not delivered", async () => {
    notifier.send(
      delivery({
        receivers: [
          { name: 'ok', type: 'Slack', url: `${receiver.url}/ok` },
          {
            name: 'hook',
            type: 'Webhook',
            problem: 'Secret db does not allow it',
            problemReason: 'ReferenceNotAllowed',
          },
        ],
      }),
    );
    await notifier.idle();
    expect(receiver.at('/ok')).to.have.length(1);
    expect(notifier.outcome('prod', 'api')).to.deep.include({ ok: false, reason: 'ReferenceNotAllowed' });
    expect(notifier.outcome('prod', 'api')?.settled?.[0]?.delivered).to.equal(false);
  });
});
