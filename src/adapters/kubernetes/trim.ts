/**
 * What the watch caches keep of workloads and JwtRotations (issue 27, "Memory"): only the fields a
 * pass, the wake index or the own-write tracking reads, as client-go's informer transforms and the
 * prometheus-operator's metadata-only caches do. The informer keeps the very object it hands to its
 * callbacks (./informers.ts `trim`), so what is dropped here is gone from memory.
 *
 * Each function rewrites the object in place and must keep every field that the code reading the
 * cache uses: src/rotation/rollout.ts `WorkloadLike` (rollout progress, the Secret references, the
 * revision annotation, the stall cases), src/rotation/audit.ts (who set a request annotation).
 * test/unit/cache-trim.test.ts checks that a trimmed object decides as the whole one does.
 */
import { Annotations, POD_TEMPLATE_REVISION_ANNOTATION } from '../../api/constants.ts';
import type { WatchedObject } from './informers.ts';

type Json = Record<string, unknown>;

function obj(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function list(value: unknown): Json[] {
  return Array.isArray(value) ? value.flatMap((v) => (obj(v) === undefined ? [] : [v as Json])) : [];
}

/** Drops the keys whose value is undefined (an own property still costs memory). */
function defined(value: Json): Json {
  for (const key of Object.keys(value)) if (value[key] === undefined) delete value[key];
  return value;
}

function pick(value: unknown, keys: readonly string[]): Json | undefined {
  const from = obj(value);
  if (from === undefined) return undefined;
  return defined(Object.fromEntries(keys.map((k) => [k, from[k]])));
}

/** A container as rollout.ts reads it: the Secrets its env and envFrom name. */
function slimContainer(c: Json): Json {
  const env = list(c.env).flatMap((e) => {
    const name = obj(obj(obj(e.valueFrom)?.secretKeyRef))?.name;
    return name === undefined ? [] : [{ valueFrom: { secretKeyRef: { name } } }];
  });
  const envFrom = list(c.envFrom).flatMap((e) => {
    const name = obj(e.secretRef)?.name;
    return name === undefined ? [] : [{ secretRef: { name } }];
  });
  return defined({
    env: env.length > 0 ? env : undefined,
    envFrom: envFrom.length > 0 ? envFrom : undefined,
  });
}

/** A volume as rollout.ts reads it: a Secret volume's name, a projected volume's Secret sources. */
function slimVolume(v: Json): Json[] {
  const secretName = obj(v.secret)?.secretName;
  if (secretName !== undefined) return [{ secret: { secretName } }];
  const sources = list(obj(v.projected)?.sources).flatMap((s) => {
    const name = obj(s.secret)?.name;
    return name === undefined ? [] : [{ secret: { name } }];
  });
  return sources.length > 0 ? [{ projected: { sources } }] : [];
}

function slimTemplate(template: Json | undefined): Json {
  const revision = obj(obj(template?.metadata)?.annotations)?.[POD_TEMPLATE_REVISION_ANNOTATION];
  const pod = obj(template?.spec);
  return {
    metadata: { annotations: revision === undefined ? {} : { [POD_TEMPLATE_REVISION_ANNOTATION]: revision } },
    spec: {
      containers: list(pod?.containers).map(slimContainer),
      initContainers: list(pod?.initContainers).map(slimContainer),
      volumes: list(pod?.volumes).flatMap(slimVolume),
    },
  };
}

const WORKLOAD_STATUS = [
  'observedGeneration',
  'replicas',
  'updatedReplicas',
  'availableReplicas',
  'readyReplicas',
  'currentRevision',
  'updateRevision',
  'desiredNumberScheduled',
  'updatedNumberScheduled',
  'numberAvailable',
] as const;

/**
 * A Deployment, StatefulSet or DaemonSet, reduced to what rollout.ts reads: its identity and
 * generation, replicas, paused, update strategy, selector, the revision annotation, the Secrets its
 * pod template reads, and the rollout status (of the conditions, only a progress deadline).
 */
export function trimWorkload(object: WatchedObject): void {
  const w = object as Json;
  w.metadata = pick(w.metadata, ['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'labels']);
  const spec = obj(w.spec);
  w.spec = defined({
    replicas: spec?.replicas,
    paused: spec?.paused,
    updateStrategy: spec?.updateStrategy,
    selector: spec?.selector,
    template: slimTemplate(obj(spec?.template)),
  });
  const status = obj(w.status);
  if (status === undefined) return;
  const deadline = list(status.conditions)
    .filter((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')
    .map((c) => pick(c, ['type', 'status', 'reason', 'message']));
  w.status = defined({
    ...pick(status, WORKLOAD_STATUS),
    conditions: deadline.length > 0 ? deadline : undefined,
  });
}

const REQUEST_ANNOTATIONS = Object.values(Annotations).map((a) => `f:${a}`);

/**
 * A JwtRotation without what no reader needs of metadata.managedFields: every entry but those that
 * own a request annotation, and of those only the request annotations' part (audit.ts reads who
 * set a request, and when). Everything else of the object is read (spec, status, annotations).
 */
export function trimJwtRotation(object: WatchedObject): void {
  const metadata = obj((object as Json).metadata);
  if (metadata === undefined || metadata.managedFields === undefined) return;
  const kept = list(metadata.managedFields).flatMap((entry) => {
    const annotations = obj(obj(obj(entry.fieldsV1)?.['f:metadata'])?.['f:annotations']);
    const owned = REQUEST_ANNOTATIONS.filter((a) => annotations?.[a] !== undefined);
    if (owned.length === 0) return [];
    return [
      defined({
        manager: entry.manager,
        operation: entry.operation,
        time: entry.time,
        fieldsType: entry.fieldsType,
        subresource: entry.subresource,
        fieldsV1: { 'f:metadata': { 'f:annotations': Object.fromEntries(owned.map((a) => [a, {}])) } },
      }),
    ];
  });
  if (kept.length > 0) metadata.managedFields = kept;
  else delete metadata.managedFields;
}
