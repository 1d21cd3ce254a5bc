/**
 * The bodies each kind of receiver accepts, built from a notice. Fingerprints only: a notice never
 * carries key material, and neither do these.
 *
 * - Slack incoming webhook: `text` (the fallback shown in notifications) plus Block Kit `blocks`.
 * - Microsoft Teams through Workflows ("Send webhook alerts to a channel", or a flow triggered by
 *   "When a Teams webhook request is received"): a message with one Adaptive Card attachment. The
 *   Office 365 connectors that took a MessageCard are retired.
 * - Webhook: the generic JSON body documented in docs/operations.md ("Receiver formats").
 */
import type { ReceiverType } from '../../api/types.ts';
import type { Notice } from '../../rotation/model.ts';

/** The JwtRotation a notice is about. */
export interface NoticeSubject {
  namespace: string;
  name: string;
  /** Its uid: part of each notice's webhook id. */
  uid: string;
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
    ['Requested by', requesterText(notice)],
    ['Sent at', notice.at],
  ];
  return rows.flatMap(([name, value]) => (value === undefined || value === '' ? [] : [{ name, value }]));
}

/** "bob (verified)", "alice (field manager, unverified)", or undefined when nobody asked. */
function requesterText(notice: Notice): string | undefined {
  const r = notice.requestedBy;
  if (r === undefined) return undefined;
  return r.verified ? `${r.username} (verified)` : `${r.username} (field manager, unverified)`;
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

/** An Adaptive Card (schema 1.4, which Teams renders) in the message Teams Workflows post to a channel. */
export function teamsPayload(notice: Notice, subject: NoticeSubject): Record<string, unknown> {
  const heading = title(notice, subject);
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        contentUrl: null,
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          msteams: { width: 'Full' },
          body: [
            {
              type: 'TextBlock',
              text: heading,
              size: 'Large',
              weight: 'Bolder',
              wrap: true,
              color: notice.type === 'Warning' ? 'Attention' : 'Good',
            },
            { type: 'TextBlock', text: notice.message, wrap: true },
            {
              type: 'FactSet',
              facts: facts(notice, subject).map((f) => ({ title: f.name, value: f.value })),
            },
          ],
        },
      },
    ],
  };
}

/** The generic webhook body (docs/operations.md, "Receiver formats"). */
export function webhookPayload(notice: Notice, subject: NoticeSubject, id: string): Record<string, unknown> {
  return {
    version: WEBHOOK_BODY_VERSION,
    // The webhook-id header's value: the same on every delivery of this notice.
    id,
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
    requestedBy:
      notice.requestedBy === undefined
        ? null
        : {
            username: notice.requestedBy.username,
            groups: notice.requestedBy.groups ?? [],
            verified: notice.requestedBy.verified,
          },
    sentAt: notice.at,
  };
}

export function payloadFor(
  type: ReceiverType,
  notice: Notice,
  subject: NoticeSubject,
  id: string,
): Record<string, unknown> {
  switch (type) {
    case 'Slack':
      return slackPayload(notice, subject);
    case 'Teams':
      return teamsPayload(notice, subject);
    case 'Webhook':
      return webhookPayload(notice, subject, id);
  }
}
