import { expect } from 'chai';
import { slackPayload, teamsPayload, webhookPayload } from '../../src/adapters/notify/payloads.ts';
import { WebhookNotifier, type Delivery } from '../../src/adapters/notify/webhook-notifier.ts';
import type { Notice } from '../../src/rotation/model.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

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
const subject = { namespace: 'prod', name: 'api' };

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

  it('Teams: a MessageCard with summary, title, text, colour and facts', () => {
    const body = teamsPayload(notice, subject);
    expect(body['@type']).to.equal('MessageCard');
    expect(body['@context']).to.equal('https://schema.org/extensions');
    expect(body.summary).to.equal('JWT key rotation in 7 days: prod/api');
    expect(body.title).to.equal(body.summary);
    expect(body.text).to.equal(notice.message);
    expect(body.themeColor).to.match(/^[0-9A-F]{6}$/);
    expect(teamsPayload({ ...notice, type: 'Warning' }, subject).themeColor).to.not.equal(body.themeColor);
    const facts = (body.sections as { facts: { name: string; value: string }[] }[])[0]?.facts;
    expect(facts).to.deep.include({ name: 'Current key', value: '0123456789ab' });
    expect(facts).to.deep.include({ name: 'Scheduled for', value: '2026-01-11T00:00:00Z' });
  });

  it('Webhook: the documented body', () => {
    expect(webhookPayload(notice, subject)).to.deep.equal({
      version: 'jwtrotation.io/v1',
      notice: 'Upcoming',
      severity: 'Normal',
      reason: 'RotationUpcoming',
      title: 'JWT key rotation in 7 days: prod/api',
      message: notice.message,
      jwtRotation: { namespace: 'prod', name: 'api' },
      rotation: '2026-01-11T00:00:00Z',
      trigger: null,
      fingerprints: { current: '0123456789ab', new: null, original: null },
      sentAt: '2026-01-04T00:00:00Z',
    });
  });

  it('carry nothing longer than a fingerprint that looks like key material', () => {
    for (const body of [slackPayload, teamsPayload, webhookPayload].map((f) => f(notice, subject))) {
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
    expect(receiver.at('/teams')[0]?.body['@type']).to.equal('MessageCard');
    expect(receiver.at('/hook')[0]?.body.notice).to.equal('Upcoming');
    expect(receiver.received.every((r) => r.contentType === 'application/json')).to.equal(true);
    expect(notifier.outcome('prod', 'api')).to.deep.include({ ok: true });
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
    expect(outcome).to.deep.equal({
      ok: false,
      message: 'hook: Upcoming not delivered (HTTP 500 after 3 attempts)',
    });
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
    expect(notifier.outcome('prod', 'api')).to.deep.equal({
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
    expect(notifier.outcome('prod', 'api')).to.deep.equal({
      ok: false,
      message: 'bad: the URL in its Secret is not an http(s) URL',
    });
  });
});
