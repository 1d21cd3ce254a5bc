/**
 * In-memory implementations of the ports of src/reconcile/ports.ts, for running the real
 * Reconciler (gather, decide, execute, status, events) in unit tests. Pure logic over maps:
 * resourceVersions are checked as the API server checks them; no API server is faked.
 */
import type { JwtRotation, JwtRotationStatus, TargetKind } from '../../src/api/types.ts';
import { ManualClock } from './test-clocks.ts';
import { createLogger } from '../../src/platform/logger.ts';
import { OperatorMetrics } from '../../src/platform/metrics.ts';
import { ALLOW_ALL_OUTBOUND } from '../../src/platform/outbound.ts';
import {
  ConflictError,
  type ConfigMapRecord,
  type ConfigMapStore,
  type EventRecorder,
  type GateCredentials,
  type GateReader,
  type JwtRotationStore,
  type Owner,
  type ReconcilerDeps,
  type SecretContent,
  type SecretRecord,
  type SecretStore,
  type Workloads,
} from '../../src/reconcile/ports.ts';
import type { GateObservation } from '../../src/rotation/model.ts';
import type { PodView } from '../../src/rotation/model.ts';
import type { WorkloadLike } from '../../src/rotation/rollout.ts';
import type { PrometheusSettings } from '../../src/rotation/spec.ts';

interface Stored extends SecretRecord {
  values: Record<string, string>;
  annotations: Record<string, string>;
  owner?: Owner | undefined;
}

export class MemorySecrets implements SecretStore {
  readonly byKey = new Map<string, Stored>();
  private version = 0;

  put(namespace: string, name: string, values: Record<string, string>, annotations = {}): void {
    this.byKey.set(`${namespace}/${name}`, { resourceVersion: this.nextVersion(), values, annotations });
  }

  values(namespace: string, name: string): Record<string, string> | undefined {
    return this.byKey.get(`${namespace}/${name}`)?.values;
  }

  get(namespace: string, name: string): Promise<SecretRecord | undefined> {
    const stored = this.byKey.get(`${namespace}/${name}`);
    return Promise.resolve(stored && structuredClone(stored));
  }

  create(namespace: string, name: string, content: SecretContent): Promise<void> {
    const key = `${namespace}/${name}`;
    if (this.byKey.has(key)) return Promise.reject(new ConflictError(`Secret ${name} exists`));
    this.byKey.set(key, { resourceVersion: this.nextVersion(), ...structuredClone(content) });
    return Promise.resolve();
  }

  replace(current: SecretRecord, content: SecretContent): Promise<void> {
    const entry = [...this.byKey.entries()].find(([, s]) => s.resourceVersion === current.resourceVersion);
    if (entry === undefined) return Promise.reject(new ConflictError('Secret changed since it was read'));
    this.byKey.set(entry[0], {
      ...entry[1],
      resourceVersion: this.nextVersion(),
      ...structuredClone(content),
    });
    return Promise.resolve();
  }

  writeOwned(
    owner: Owner,
    namespace: string,
    name: string,
    content: SecretContent,
    existing: SecretRecord | undefined,
  ): Promise<void> {
    const key = `${namespace}/${name}`;
    if (this.byKey.get(key)?.resourceVersion !== existing?.resourceVersion)
      return Promise.reject(new ConflictError(`Secret ${name} changed since it was read`));
    this.byKey.set(key, { resourceVersion: this.nextVersion(), ...structuredClone(content), owner });
    return Promise.resolve();
  }

  delete(namespace: string, name: string): Promise<void> {
    this.byKey.delete(`${namespace}/${name}`);
    return Promise.resolve();
  }

  private nextVersion(): string {
    return String(++this.version);
  }
}

/** Deployments that read the Secret through envFrom and finish every rollout at once. */
export class MemoryWorkloads implements Workloads {
  readonly revisions = new Map<string, string>();
  constructor(private readonly secretName: string) {}

  get(_namespace: string, _kind: TargetKind, name: string): Promise<WorkloadLike | undefined> {
    const revision = this.revisions.get(name);
    return Promise.resolve({
      metadata: { name, generation: 1 },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: {
            annotations: revision === undefined ? {} : { 'jwtrotation.io/secret-revision': revision },
          },
          spec: { containers: [{ envFrom: [{ secretRef: { name: this.secretName } }] }] },
        },
      },
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 },
    });
  }

  /** Only the listed targets exist: nothing else in the namespace reads the Secret. */
  listReferencing(): Promise<WorkloadLike[]> {
    return Promise.resolve([]);
  }

  /** One pod, started from the template's current revision (every rollout finishes at once). */
  listPods(_namespace: string, workload: WorkloadLike): Promise<PodView[]> {
    const name = workload.metadata?.name ?? '';
    return Promise.resolve([{ name: `${name}-0`, revision: this.revisions.get(name) }]);
  }

  /** Every rollout finishes at once: nothing waits to be evicted. */
  evictPod(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  setTemplateAnnotation(
    _namespace: string,
    _kind: TargetKind,
    name: string,
    _key: string,
    value: string,
  ): Promise<void> {
    this.revisions.set(name, value);
    return Promise.resolve();
  }
}

export class MemoryEvents implements EventRecorder {
  readonly recorded: { type: string; reason: string; message: string }[] = [];
  record(_resource: JwtRotation, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    this.recorded.push({ type, reason, message });
    return Promise.resolve();
  }
}

/** A gate reader that answers what the test sets and remembers the tokens it was given. */
export class ScriptedGate implements GateReader {
  answer: GateObservation = { ok: false, reason: 'PrometheusUnreachable', message: 'not scripted' };
  readonly tokens: (string | undefined)[] = [];
  readonly cas: (string | undefined)[] = [];
  read(_settings: PrometheusSettings, credentials: GateCredentials): Promise<GateObservation> {
    this.tokens.push(credentials.bearerToken);
    this.cas.push(credentials.ca);
    return Promise.resolve(this.answer);
  }
}

export class MemoryResources implements JwtRotationStore {
  readonly byKey = new Map<string, JwtRotation>();
  statusWrites = 0;

  get(namespace: string, name: string): Promise<JwtRotation | undefined> {
    const found = this.byKey.get(`${namespace}/${name}`);
    return Promise.resolve(found && structuredClone(found));
  }

  writeStatus(resource: JwtRotation, status: JwtRotationStatus): Promise<void> {
    const key = `${resource.metadata.namespace ?? ''}/${resource.metadata.name ?? ''}`;
    const stored = this.byKey.get(key);
    if (stored === undefined) return Promise.reject(new Error('not found'));
    this.statusWrites++;
    this.byKey.set(key, { ...stored, status: structuredClone(status) });
    return Promise.resolve();
  }
}

/** ConfigMaps in memory, by namespace/name (the JWKS). */
export class MemoryConfigMaps implements ConfigMapStore {
  private readonly byKey = new Map<string, ConfigMapRecord>();
  private version = 0;

  get(namespace: string, name: string): Promise<ConfigMapRecord | undefined> {
    return Promise.resolve(this.byKey.get(`${namespace}/${name}`));
  }

  write(namespace: string, name: string, data: Record<string, string>): Promise<void> {
    const key = `${namespace}/${name}`;
    const data0 = this.byKey.get(key)?.data ?? {};
    this.byKey.set(key, { resourceVersion: String(++this.version), data: { ...data0, ...data } });
    return Promise.resolve();
  }

  /** The data of a ConfigMap, for assertions. */
  data(namespace: string, name: string): Readonly<Record<string, string>> | undefined {
    return this.byKey.get(`${namespace}/${name}`)?.data;
  }
}

/** Every port in memory, with a manual clock and a silent logger. */
export function memoryDeps(secretName: string, start: number) {
  let keys = 0;
  const deps = {
    clock: new ManualClock(start),
    logger: createLogger({ level: 'error', silent: true }),
    metrics: new OperatorMetrics({ defaultMetrics: false }),
    resources: new MemoryResources(),
    secrets: new MemorySecrets(),
    workloads: new MemoryWorkloads(secretName),
    events: new MemoryEvents(),
    gate: new ScriptedGate(),
    newKey: (bytes: number) => `key-${++keys}-${'k'.repeat(bytes)}`,
    configMaps: new MemoryConfigMaps(),
    // Tests of the allowlist build their own; these are about everything else.
    outbound: ALLOW_ALL_OUTBOUND,
  } satisfies ReconcilerDeps;
  return deps;
}
