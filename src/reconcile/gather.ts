/**
 * Gather: read what the cluster shows (and, when due, the metrics gate) and reduce it to the
 * decision core's input. Key material stays in `read`, for the executor only.
 */
import { backupSecretName } from '../api/constants.ts';
import type { JwtRotation } from '../api/types.ts';
import { gateDue } from '../rotation/decide.ts';
import type { DecideInput, GateObservation } from '../rotation/model.ts';
import { viewTarget, type WorkloadLike } from '../rotation/rollout.ts';
import type { PrometheusSettings } from '../rotation/spec.ts';
import type { ReadSecrets } from './execute.ts';
import type { ReconcilerDeps } from './ports.ts';
import { viewBackup, viewSecret } from './secret-data.ts';

interface Gathered {
  input: DecideInput;
  read: ReadSecrets;
}

/** What one pass read, reduced to the core's input. No I/O: the simulated world runs it too. */
export function decideInput(
  resource: JwtRotation,
  now: number,
  read: ReadSecrets,
  workloads: readonly (WorkloadLike | undefined)[],
  gate: GateObservation | undefined,
): DecideInput {
  const spec = resource.spec;
  return {
    now,
    resource: { metadata: resource.metadata, spec, status: resource.status },
    secret: read.secret ? viewSecret(read.secret) : undefined,
    backup: read.backup ? viewBackup(read.backup) : undefined,
    targets: (spec.targets ?? []).map((t, i) => viewTarget(t.kind, t.name, workloads[i], spec.secretName)),
    gate,
  };
}

export async function gather(resource: JwtRotation, deps: ReconcilerDeps): Promise<Gathered> {
  const namespace = resource.metadata.namespace ?? '';
  const name = resource.metadata.name ?? '';
  const spec = resource.spec;
  const now = deps.clock.now();
  const [secret, backup, workloads] = await Promise.all([
    deps.secrets.get(namespace, spec.secretName),
    deps.secrets.get(namespace, backupSecretName(name)),
    Promise.all((spec.targets ?? []).map((t) => deps.workloads.get(namespace, t.kind, t.name))),
  ]);
  const settings = gateDue({ now, resource });
  const gate = settings === undefined ? undefined : await readGate(resource, settings, deps);
  const read = { secret, backup };
  return { input: decideInput(resource, now, read, workloads, gate), read };
}

async function readGate(
  resource: JwtRotation,
  settings: PrometheusSettings,
  deps: ReconcilerDeps,
): Promise<GateObservation> {
  let token: string | undefined;
  const ref = settings.bearerTokenSecretRef;
  if (ref !== undefined) {
    const secret = await deps.secrets.get(resource.metadata.namespace ?? '', ref.name);
    token = secret?.values[ref.key];
    if (token === undefined) {
      return {
        ok: false,
        reason: 'BearerTokenMissing',
        message: `Secret ${ref.name} has no key ${ref.key} for the Prometheus bearer token`,
      };
    }
  }
  return deps.gate.read(settings, token);
}
