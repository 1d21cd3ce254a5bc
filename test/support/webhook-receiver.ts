/**
 * A webhook receiver on loopback for tests: records every POST (path, headers, raw and JSON body) and
 * answers as told: 200, a status such as 500, or never (a receiver that hangs past the sender's
 * timeout). Given a Standard Webhooks secret, it verifies each POST with the `standardwebhooks`
 * library (an implementation independent of the operator's) and answers 400 to one that does not
 * verify, as a real receiver would; `unique` de-duplicates by webhook-id, as receivers are told to.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Webhook } from 'standardwebhooks';

import { registerTeardown } from './teardown.ts';

export interface ReceivedPost {
  path: string;
  contentType: string | undefined;
  headers: Record<string, string>;
  /** The body as sent, byte for byte (what a signature covers). */
  raw: string;
  body: Record<string, unknown>;
  /** With a secret: whether the signature verified (the POST was answered 400 if not). */
  verified?: boolean;
}

export interface WebhookReceiver {
  /** http://127.0.0.1:<port> */
  url: string;
  received: ReceivedPost[];
  /** How it answers from now on: a status code, or 'hang' (never answers). */
  answer: number | 'hang';
  /** Received POSTs to this path. */
  at(path: string): ReceivedPost[];
  /** POSTs that verified, first of each webhook-id (what a receiver that drops repeats processes). */
  unique(path?: string): ReceivedPost[];
  /** Called with each POST before it is answered (a test can stop the sender right there). */
  onPost?: ((post: ReceivedPost) => Promise<void> | void) | undefined;
  close(): Promise<void>;
}

/** A fresh Standard Webhooks secret (whsec_ and the base64 of 32 random bytes). */
export function aSigningSecret(): string {
  return `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`;
}

export async function startWebhookReceiver(options: { secret?: string } = {}): Promise<WebhookReceiver> {
  const hanging = new Set<ServerResponse>();
  const verifier = options.secret === undefined ? undefined : new Webhook(options.secret);
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answer: 200,
    at: (path) => receiver.received.filter((r) => r.path === path),
    unique: (path) => {
      const seen = new Set<string>();
      return receiver.received.filter((r) => {
        if ((path !== undefined && !r.path.startsWith(path)) || r.verified === false) return false;
        const id = r.headers['webhook-id'] ?? '';
        if (seen.has(id)) return false;
        seen.add(id);
        return true;
      });
    },
    close: async () => {
      if (!server.listening) return;
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve();
        });
      });
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => void answer());
    const answer = async (): Promise<void> => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { unparsed: text };
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]),
      );
      const post: ReceivedPost = {
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        headers,
        raw: text,
        body,
      };
      if (verifier !== undefined) post.verified = verifies(verifier, text, headers);
      receiver.received.push(post);
      await receiver.onPost?.(post);
      if (res.destroyed) return;
      if (post.verified === false) {
        res.writeHead(400, { 'content-type': 'text/plain' });
        res.end('signature does not verify');
        return;
      }
      if (receiver.answer === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(receiver.answer, { 'content-type': 'text/plain' });
      res.end(receiver.answer < 300 ? 'ok' : 'nope');
    };
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  registerTeardown('webhook receiver', () => receiver.close());
  return receiver;
}

/** Whether the library verifies this body with these headers (signature, and timestamp within 5 min). */
export function verifies(verifier: Webhook, raw: string, headers: Record<string, string>): boolean {
  try {
    verifier.verify(raw, headers);
    return true;
  } catch {
    return false;
  }
}
