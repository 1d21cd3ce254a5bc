/** Reads a rotation's gate: the spec's Prometheus settings in, a GateObservation out. Never throws. */
import type { GateObservation } from '../../rotation/model.ts';
import type { PrometheusSettings } from '../../rotation/spec.ts';
import { PrometheusClient, PrometheusError, buildGateQueries, readGate } from './client.ts';

/** Implements GateReader of src/reconcile/ports.ts. */
export class PrometheusGateReader {
  constructor(private readonly fetchImpl?: typeof fetch) {}

  async read(settings: PrometheusSettings, bearerToken: string | undefined): Promise<GateObservation> {
    try {
      const client = new PrometheusClient({
        url: settings.url,
        timeoutMs: settings.timeoutMs,
        bearerToken,
        fetch: this.fetchImpl,
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
}
