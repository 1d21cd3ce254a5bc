/**
 * From a changed object (a Secret, a workload, a pod) to the JwtRotations that wait on it, so a
 * watch event wakes the owning JwtRotation's key at once instead of its next poll.
 * - A Secret: the JwtRotation whose `spec.secretName` it is, or whose backup it is.
 * - A workload: the JwtRotations that list it as a target, and those in its namespace whose
 *   Secret its pod template reads (unlisted consumers).
 * - A pod: the JwtRotations in its namespace that are rotating (not Idle) and have a target whose
 *   selector selects the pod.
 * It also tells a user's change to a JwtRotation (its spec or annotations) from the operator's own
 * status writes, so that change can be served first (`WorkQueue.enqueue`'s `urgent`).
 * No I/O: the workload lookup for pods comes in as a function.
 */
import { backupSecretName } from '../api/constants.ts';
import { TARGET_KINDS, type JwtRotation, type TargetKind } from '../api/types.ts';
import { referencesSecret, type WorkloadLike } from '../rotation/rollout.ts';
import { objectRef, type ObjectRef } from './own-writes.ts';

interface Entry {
  key: string;
  namespace: string;
  secretName: string;
  targets: { kind: TargetKind; name: string }[];
  rotating: boolean;
  /** What a user changes: the generation (the spec) and the annotations (requests). */
  userPart: string;
}

type Selector = NonNullable<WorkloadLike['spec']>['selector'];

export class WakeIndex {
  private readonly entries = new Map<string, Entry>();
  /** `Kind/namespace/name` → keys. */
  private readonly byRef = new Map<string, Set<string>>();
  private readonly byNamespace = new Map<string, Set<string>>();

  constructor(
    private readonly selects: (selector: Selector, labels: Record<string, string> | undefined) => boolean,
    private readonly workload: (
      kind: TargetKind,
      namespace: string,
      name: string,
    ) => WorkloadLike | undefined,
  ) {}

  /**
   * Records (or updates) what a JwtRotation waits on. True when a user changed it since it was last
   * recorded: its spec (generation) or its annotations (a request to rotate, roll back, pause). Not on
   * first sight, and not for a change of status alone (the operator's own writes).
   */
  set(resource: JwtRotation): boolean {
    const namespace = resource.metadata.namespace ?? '';
    const name = resource.metadata.name ?? '';
    const key = `${namespace}/${name}`;
    const before = this.entries.get(key)?.userPart;
    const userPart = JSON.stringify([
      resource.metadata.generation ?? 0,
      Object.entries(resource.metadata.annotations ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ]);
    this.remove(key);
    const entry: Entry = {
      key,
      namespace,
      secretName: resource.spec.secretName,
      targets: (resource.spec.targets ?? []).map((t) => ({ kind: t.kind, name: t.name })),
      rotating: (resource.status?.phase ?? 'Idle') !== 'Idle',
      userPart,
    };
    this.entries.set(key, entry);
    for (const ref of refs(entry, name)) add(this.byRef, ref, key);
    add(this.byNamespace, namespace, key);
    return before !== undefined && before !== userPart;
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    const name = key.slice(entry.namespace.length + 1);
    for (const ref of refs(entry, name)) drop(this.byRef, ref, key);
    drop(this.byNamespace, entry.namespace, key);
  }

  /** The keys of the JwtRotations that wait on this object. */
  keysFor(
    kind: 'Secret' | 'Pod' | TargetKind,
    namespace: string,
    name: string,
    object: { metadata?: { labels?: Record<string, string> | undefined } | undefined },
  ): string[] {
    const found = new Set(this.byRef.get(objectRef(kind, namespace, name)));
    if (kind === 'Secret') return [...found];
    const inNamespace = [...(this.byNamespace.get(namespace) ?? [])].flatMap((k) => {
      const e = this.entries.get(k);
      return e === undefined ? [] : [e];
    });
    if (kind === 'Pod') {
      for (const e of inNamespace) {
        if (!e.rotating || found.has(e.key)) continue;
        const labels = object.metadata?.labels;
        if (
          e.targets.some((t) =>
            this.selects(this.workload(t.kind, namespace, t.name)?.spec?.selector, labels),
          )
        )
          found.add(e.key);
      }
      return [...found];
    }
    for (const e of inNamespace) {
      if (!found.has(e.key) && referencesSecret(object as WorkloadLike, e.secretName)) found.add(e.key);
    }
    return [...found];
  }

  get size(): number {
    return this.entries.size;
  }
}

function refs(entry: Pick<Entry, 'namespace' | 'secretName' | 'targets'>, name: string): ObjectRef[] {
  return [
    objectRef('Secret', entry.namespace, entry.secretName),
    objectRef('Secret', entry.namespace, backupSecretName(name)),
    ...entry.targets
      .filter((t) => TARGET_KINDS.includes(t.kind))
      .map((t) => objectRef(t.kind, entry.namespace, t.name)),
  ];
}

/** The objects a pass over this JwtRotation reads from the watch caches, itself included. */
export function readRefs(resource: JwtRotation): ObjectRef[] {
  const namespace = resource.metadata.namespace ?? '';
  const name = resource.metadata.name ?? '';
  return [
    objectRef('JwtRotation', namespace, name),
    ...refs({ namespace, secretName: resource.spec.secretName, targets: resource.spec.targets ?? [] }, name),
  ];
}

function add(map: Map<string, Set<string>>, ref: string, key: string): void {
  let set = map.get(ref);
  if (set === undefined) map.set(ref, (set = new Set()));
  set.add(key);
}

function drop(map: Map<string, Set<string>>, ref: string, key: string): void {
  const set = map.get(ref);
  set?.delete(key);
  if (set?.size === 0) map.delete(ref);
}
