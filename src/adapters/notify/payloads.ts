/**
 * The bodies each kind of receiver accepts, built from a notice. Fingerprints only: a notice never
 * carries key material, and neither do these.
 *
 * - Slack incoming webhook: `text` (the fallback shown in notifications) plus Block Kit `blocks`.
 * - Microsoft Teams incoming webhook (Office 365 connector, and Workflows' "post to a channel when a
 *   webhook request is received"): a MessageCard.
 * - Webhook: the generic JSON body documented in docs/operations.md ("Receiver formats").
 */
import type { ReceiverType } from '../../api/types.ts';
import type { Notice } from '../../rotation/model.ts';

/** The JwtRotation a notice is about. */
export interface NoticeSubject {
  namespace: string;
  name: string;
}

/** Version of the generic webhook body; a change that breaks receivers bumps it. */
export const WEBHOOK_BODY_VERSION = 'jwtrotation.io/v1';

const TITLES: Record<Notice['kind'], string> = {
  Upcoming: 'JWT key rotation in 7 days',
  FinalReminder: 'JWT key rotation tomorrow',
  Started: 'JWT key rotation started',
  Completed: 'JWT key rotation completed',
  Failed: 'JWT key rotation failed',
  RollbackStarted: 'JWT key rollback started',
  RolledBack: 'JWT key rotation rolled back',
  Paused: 'JWT key rotation paused',
  Emergency: 'Emergency JWT key rotation',
};

export function title(notice: Notice, subject: NoticeSubject): string {
  return `${TITLES[notice.kind]}: ${subject.namespace}/${subject.name}`;
}

/** The facts every format shows, in order. */
export function facts(notice: Notice, subject: NoticeSubject): { name: string; value: string }[] {
  const rows: [string, string | undefined][] = [
    ['JwtRotation', `${subject.namespace}/${subject.name}`],
    [
      notice.kind === 'Upcoming' || notice.kind === 'FinalReminder' ? 'Scheduled for' : 'Operation',
      notice.rotation,
    ],
    ['Trigger', notice.trigger],
    ['Current key', notice.fingerprints.current],
    ['New key', notice.fingerprints.new],
    ['Original key', notice.fingerprints.original],
    ['Reason', notice.reason],
    ['Sent at', notice.at],
  ];
  return rows.flatMap(([name, value]) => (value === undefined || value === '' ? [] : [{ name, value }]));
}

export function slackPayload(notice: Notice, subject: NoticeSubject): Record<string, unknown> {
  const heading = title(notice, subject);
  return {
    text: `${heading}. ${notice.message}`,
    blocks: [
      // Slack caps a header at 150 characters.
      { type: 'header', text: { type: 'plain_text', text: heading.slice(0, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: notice.message } },
      {
        type: 'section',
        fields: facts(notice, subject)
          .slice(0, 10)
          .map((f) => ({ type: 'mrkdwn', text: `*${f.name}*\n${f.value}` })),
      },
    ],
  };
}

export function teamsPayload(notice: Notice, subject: NoticeSubject): Record<string, unknown> {
  const heading = title(notice, subject);
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary: heading,
    themeColor: notice.type === 'Warning' ? 'D93F0B' : '2EB67D',
    title: heading,
    text: notice.message,
    sections: [{ facts: facts(notice, subject) }],
  };
}

/** The generic webhook body (docs/operations.md, "Receiver formats"). */
export function webhookPayload(notice: Notice, subject: NoticeSubject): Record<string, unknown> {
  return {
    version: WEBHOOK_BODY_VERSION,
    notice: notice.kind,
    severity: notice.type,
    reason: notice.reason,
    title: title(notice, subject),
    message: notice.message,
    jwtRotation: { namespace: subject.namespace, name: subject.name },
    rotation: notice.rotation,
    trigger: notice.trigger ?? null,
    fingerprints: {
      current: notice.fingerprints.current ?? null,
      new: notice.fingerprints.new ?? null,
      original: notice.fingerprints.original ?? null,
    },
    sentAt: notice.at,
  };
}

export function payloadFor(
  type: ReceiverType,
  notice: Notice,
  subject: NoticeSubject,
): Record<string, unknown> {
  switch (type) {
    case 'Slack':
      return slackPayload(notice, subject);
    case 'Teams':
      return teamsPayload(notice, subject);
    case 'Webhook':
      return webhookPayload(notice, subject);
  }
}
