/** Reads a rotation's gate: the spec's Prometheus settings in, a GateObservation out. Never throws. */
import { createHash } from 'node:crypto';

import { Agent, fetch as undiciFetch } from 'undici';

import type { GateObservation } from '../../rotation/model.ts';
import type { PrometheusSettings } from '../../rotation/spec.ts';
import { PrometheusClient, PrometheusError, buildGateQueries, readGate } from './client.ts';

/** What the shell read from Secrets for this Prometheus (GateCredentials of src/reconcile/ports.ts). */
interface Credentials {
  bearerToken?: string | undefined;
  ca?: string | undefined;
}

/** Connection pools kept per (CA bundle, server name), so a gate read does not handshake from scratch each time. */
const MAX_AGENTS = 64;

/** Implements GateReader of src/reconcile/ports.ts. */
export class PrometheusGateReader {
  readonly #agents = new Map<string, Agent>();

  constructor(private readonly fetchImpl?: typeof fetch) {}

  async read(settings: PrometheusSettings, credentials: Credentials): Promise<GateObservation> {
    try {
      const client = new PrometheusClient({
        url: settings.url,
        timeoutMs: settings.timeoutMs,
        bearerToken: credentials.bearerToken,
        fetch: this.#fetchFor(credentials.ca, settings.tls?.serverName),
      });
      const queries = buildGateQueries({
        window: settings.window,
        selector: settings.selector,
        overrides: settings.queries,
      });
      return { ok: true, readings: await readGate(client, queries) };
    } catch (error) {
      if (error instanceof PrometheusError)
        return { ok: false, reason: error.reason, message: error.message };
      return {
        ok: false,
        reason: 'GateReadFailed',
        message: error instanceof Error ? error.message : String(error),
      };
    }
  }

  /** Closes the pooled TLS connections. */
  async close(): Promise<void> {
    const agents = [...this.#agents.values()];
    this.#agents.clear();
    await Promise.all(agents.map((a) => a.close()));
  }

  /**
   * The global fetch trusts the system's CAs only. A private CA or a server name other than the url's
   * host needs a dispatcher of its own: undici's (the library Node's fetch is built on), with its
   * own fetch, so the dispatcher and the fetch come from one version.
   */
  #fetchFor(ca: string | undefined, serverName: string | undefined): typeof fetch | undefined {
    if (ca === undefined && serverName === undefined) return this.fetchImpl;
    const key = createHash('sha256')
      .update(ca ?? '')
      .update('\0')
      .update(serverName ?? '')
      .digest('hex');
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      if (this.#agents.size >= MAX_AGENTS) {
        const [oldest] = this.#agents.entries();
        if (oldest !== undefined) {
          this.#agents.delete(oldest[0]);
          void oldest[1].close();
        }
      }
      agent = new Agent({ connect: { ca, servername: serverName, rejectUnauthorized: true } });
      this.#agents.set(key, agent);
    }
    const dispatcher = agent;
    // undici's fetch has the global fetch's contract; only its TypeScript types are its own.
    return ((input: string | URL, init?: RequestInit) =>
      undiciFetch(input, {
        ...(init as Parameters<typeof undiciFetch>[1]),
        dispatcher,
      })) as unknown as typeof fetch;
  }
}
