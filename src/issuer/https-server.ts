/**
 * The issuer port: node:https with the certificate of TLS_DIR, answering from the prepared documents
 * (routes.ts). A request does a path split, two Map reads, an If-None-Match comparison and one write;
 * the fetch of a JWKS is recorded after the answer is written.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CertificatePair } from './certificate.ts';
import type { IssuerIndex, IssuerEntry } from './issuer-index.ts';
import type { IssuerMetrics } from './metrics.ts';
import { answer } from './routes.ts';

export interface IssuerServerDeps {
  index: IssuerIndex;
  metrics: IssuerMetrics;
  onFetch: (
    entry: IssuerEntry,
    version: string,
    remoteAddress: string | undefined,
    userAgent: string | undefined,
  ) => void;
}

/**
 * Keep-alive connections stay open this long between requests: longer than the usual load
 * balancer idle timeout (60 s), so a proxy never sends a request on a connection this end is closing.
 */
const KEEP_ALIVE_MS = 65_000;

export function handler(deps: IssuerServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const result = answer(deps.index, {
      method: req.method,
      host: req.headers.host,
      url: req.url,
      ifNoneMatch: req.headers['if-none-match'],
    });
    const { prepared } = result;
    res.writeHead(prepared.status, prepared.headers);
    res.end(req.method === 'HEAD' ? undefined : prepared.body);
    deps.metrics.request(result.route, prepared.status);
    if (result.fetch !== undefined) {
      deps.onFetch(
        result.fetch.entry,
        result.fetch.version,
        req.socket.remoteAddress,
        req.headers['user-agent'],
      );
    }
  };
}

export async function startIssuerServer(
  deps: IssuerServerDeps,
  pair: CertificatePair,
  options: { host: string; port: number },
): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' }, handler(deps));
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  // Whole requests are small: a slow or stuck client is cut off instead of holding a socket.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : options.port };
}
