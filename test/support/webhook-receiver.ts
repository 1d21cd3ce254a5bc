/**
 * A webhook receiver on loopback for tests: records every POST (path and JSON body) and answers as
 * told: 200, a status such as 500, or never (a receiver that hangs past the sender's timeout).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerTeardown } from './teardown.ts';

export interface ReceivedPost {
  path: string;
  contentType: string | undefined;
  body: Record<string, unknown>;
}

export interface WebhookReceiver {
  /** http://127.0.0.1:<port> */
  url: string;
  received: ReceivedPost[];
  /** How it answers from now on: a status code, or 'hang' (never answers). */
  answer: number | 'hang';
  /** Received POSTs to this path. */
  at(path: string): ReceivedPost[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const hanging = new Set<ServerResponse>();
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    answer: 200,
    at: (path) => receiver.received.filter((r) => r.path === path),
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
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = { unparsed: text };
      }
      receiver.received.push({ path: req.url ?? '', contentType: req.headers['content-type'], body });
      if (receiver.answer === 'hang') {
        hanging.add(res);
        return;
      }
      res.writeHead(receiver.answer, { 'content-type': 'text/plain' });
      res.end(receiver.answer < 300 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${String((server.address() as AddressInfo).port)}`;
  registerTeardown('webhook receiver', () => receiver.close());
  return receiver;
}
