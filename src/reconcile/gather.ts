/**
 * Gather: read what the cluster shows (and, when due, the metrics gate) and reduce it to
 * the decision core's input. Key material stays in `raw`, for the executor only.
 */
import type { V1Secret } from '@kubernetes/client-node';
import {
  BACKUP_ORIGINAL_KEY,
  POD_TEMPLATE_REVISION_ANNOTATION,
  SecretAnnotations,
  SecretKeys,
  backupSecretName,
} from '../api/constants.ts';
import { TARGET_KINDS, type JwtRotation, type TargetKind } from '../api/types.ts';
import type { Workload } from '../adapters/kubernetes/workloads.ts';
import { decodeData } from '../adapters/kubernetes/secrets.ts';
import { fingerprint } from '../platform/fingerprint.ts';
import { gateDue } from '../rotation/decide.ts';
import type {
  BackupView,
  DecideInput,
  GateObservation,
  KeySlot,
  SecretView,
  TargetView,
} from '../rotation/model.ts';
import { referencesSecret, viewTarget } from '../rotation/rollout.ts';
import type { PrometheusSettings } from '../rotation/spec.ts';
import type { ReconcilerDeps } from './ports.ts';

export interface Gathered {
  input: DecideInput;
  raw: { secret: V1Secret | undefined; backup: V1Secret | undefined };
}

const KEY_SLOTS: KeySlot[] = [SecretKeys.secret, SecretKeys.current, SecretKeys.new];

export function viewSecret(secret: V1Secret): SecretView {
  const values = decodeData(secret);
  const fingerprints: Partial<Record<KeySlot, string>> = {};
  for (const slot of KEY_SLOTS) {
    const value = values[slot];
    if (value !== undefined && value !== '') fingerprints[slot] = fingerprint(value);
  }
  // An empty value is no value, for the non-secret keys as for the key slots.
  const plain = (key: string): string | undefined => values[key] || undefined;
  return {
    resourceVersion: secret.metadata?.resourceVersion ?? '',
    fingerprints,
    rotationDate: plain(SecretKeys.rotationDate),
    expiration: plain(SecretKeys.expiration),
    refreshExpiration: plain(SecretKeys.refreshExpiration),
    annotations: { ...secret.metadata?.annotations },
  };
}

export function viewBackup(backup: V1Secret): BackupView {
  const original = decodeData(backup)[BACKUP_ORIGINAL_KEY];
  return {
    originalFingerprint: original ? fingerprint(original) : undefined,
    keyCreatedAt: backup.metadata?.annotations?.[SecretAnnotations.keyCreatedAt],
  };
}

export async function gather(resource: JwtRotation, deps: ReconcilerDeps): Promise<Gathered> {
  const namespace = resource.metadata.namespace ?? '';
  const name = resource.metadata.name ?? '';
  const spec = resource.spec;
  const now = deps.clock.now();
  const listed = spec.targets ?? [];
  const [secret, backup, workloads, consumers] = await Promise.all([
    deps.secrets.get(namespace, spec.secretName),
    deps.secrets.get(namespace, backupSecretName(name)),
    Promise.all(listed.map((t) => deps.workloads.get(namespace, t.kind, t.name))),
    unlistedConsumers(namespace, spec.secretName, listed, deps),
  ]);
  const view = async (
    kind: TargetKind,
    name: string,
    workload: Workload | undefined,
  ): Promise<TargetView> => ({
    ...viewTarget(kind, name, workload, spec.secretName),
    pods:
      workload === undefined
        ? undefined
        : (await deps.workloads.listPods(namespace, workload, POD_TEMPLATE_REVISION_ANNOTATION)).map((p) => ({
            name: p.name,
            revision: p.revision,
          })),
  });
  const targets = await Promise.all(listed.map((t, i) => view(t.kind, t.name, workloads[i])));
  const consumerViews = await Promise.all(
    consumers.map((w) => view(w.kind as TargetKind, w.metadata?.name ?? '', w)),
  );
  const settings = gateDue({ now, resource });
  const gate = settings === undefined ? undefined : await readGate(resource, settings, deps);
  return {
    input: {
      now,
      resource: { metadata: resource.metadata, spec, status: resource.status },
      secret: secret ? viewSecret(secret) : undefined,
      backup: backup ? viewBackup(backup) : undefined,
      targets,
      consumers: consumerViews,
      gate,
    },
    raw: { secret, backup },
  };
}

/** Workloads in the namespace whose pod template reads the Secret and that spec.targets does not list. */
async function unlistedConsumers(
  namespace: string,
  secretName: string,
  listed: readonly { kind: TargetKind; name: string }[],
  deps: ReconcilerDeps,
): Promise<Workload[]> {
  const all = await Promise.all(
    TARGET_KINDS.map(async (kind) =>
      (await deps.workloads.list(namespace, kind)).map((w) => ({ ...w, kind })),
    ),
  );
  return all
    .flat()
    .filter((w) => referencesSecret(w, secretName))
    .filter((w) => !listed.some((t) => t.kind === w.kind && t.name === w.metadata?.name));
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
    token = decodeData(secret)[ref.key];
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
