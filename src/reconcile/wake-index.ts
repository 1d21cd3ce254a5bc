/**
 * From a changed object (a Secret, a workload, a pod) to the JwtRotations that wait on it, so a
 * watch event wakes the owning JwtRotation's key at once instead of its next poll.
 * - A Secret: the JwtRotation whose `spec.secretName` it is, or whose backup it is.
 * - A workload: the JwtRotations that list it as a target, and those in its namespace whose
 *   Secret its pod template reads (unlisted consumers).
 * - A pod: the JwtRotations in its namespace that are rotating (not Idle) and have a target whose
 *   selector selects the pod.
 * Each lookup costs what the object touches, not the number of JwtRotations in its namespace: a
 * workload's Secrets are looked up by name, and a rotating JwtRotation is filed under one label pair
 * of each target's `matchLabels` (a pod without that pair is not selected), so a pod event checks only
 * the JwtRotations filed under its own labels. One whose target is not cached yet, or selects by
 * `matchExpressions` alone, is filed for every pod of its namespace. At 5,000 JwtRotations rotating in
 * one namespace, the scan of the namespace on every pod and workload event was half the operator's CPU.
 * It also tells a user's change to a JwtRotation (its spec or annotations) from the operator's own
 * status writes, so that change can be served first (`WorkQueue.enqueue`'s `urgent`).
 * No I/O: the workload lookup for pods comes in as a function.
 */
import { backupSecretName } from '../api/constants.ts';
import { TARGET_KINDS, type JwtRotation, type TargetKind } from '../api/types.ts';
import { secretsReferenced, type WorkloadLike } from '../rotation/rollout.ts';
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
  /** `namespace/secretName` → keys, for the workloads that read the Secret without being listed. */
  private readonly bySecret = new Map<string, Set<string>>();
  /**
   * Rotating keys by where their pods are looked up: `namespace\0key=value` (a label pair of a
   * target's selector), or `namespace\0` for those checked against every pod of the namespace.
   */
  private readonly rotatingBy = new Map<string, Set<string>>();
  /** Where each rotating key is filed in `rotatingBy`. */
  private readonly filed = new Map<string, string[]>();

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
    add(this.bySecret, `${namespace}/${entry.secretName}`, key);
    this.file(entry);
    return before !== undefined && before !== userPart;
  }

  remove(key: string): void {
    const entry = this.entries.get(key);
    if (entry === undefined) return;
    this.entries.delete(key);
    const name = key.slice(entry.namespace.length + 1);
    for (const ref of refs(entry, name)) drop(this.byRef, ref, key);
    drop(this.bySecret, `${entry.namespace}/${entry.secretName}`, key);
    this.unfile(key);
  }

  /**
   * Files a rotating JwtRotation for pod lookups: under one label pair of each target's selector (the
   * pair with the fewest keys filed under it, so a pair many selectors share is passed over), or for
   * the whole namespace when a target is not cached or has no `matchLabels`. Where it is filed decides
   * only how many keys a pod event checks; each is checked against the whole selector.
   */
  private file(entry: Entry): void {
    this.unfile(entry.key);
    if (!entry.rotating) return;
    const places = new Set<string>();
    for (const t of entry.targets) {
      const pairs = Object.entries(
        this.workload(t.kind, entry.namespace, t.name)?.spec?.selector?.matchLabels ?? {},
      )
        .map(([k, v]) => `${entry.namespace}\0${k}=${v}`)
        .sort();
      const rarest = pairs.reduce<string | undefined>(
        (best, p) =>
          best === undefined || (this.rotatingBy.get(p)?.size ?? 0) < (this.rotatingBy.get(best)?.size ?? 0)
            ? p
            : best,
        undefined,
      );
      places.add(rarest ?? `${entry.namespace}\0`);
    }
    for (const place of places) add(this.rotatingBy, place, entry.key);
    this.filed.set(entry.key, [...places]);
  }

  private unfile(key: string): void {
    for (const place of this.filed.get(key) ?? []) drop(this.rotatingBy, place, key);
    this.filed.delete(key);
  }

  /** The keys of the JwtRotations that wait on this object. */
  keysFor(
    kind: 'Secret' | 'Pod' | TargetKind,
    namespace: string,
    name: string,
    object: { metadata?: { labels?: Record<string, string> | undefined } | undefined },
  ): string[] {
    if (kind === 'Pod') return this.keysForPod(namespace, object.metadata?.labels);
    const found = new Set(this.byRef.get(objectRef(kind, namespace, name)));
    if (kind === 'Secret') return [...found];
    // A listed target changed (appeared, went, or was replaced): its selector files its JwtRotations.
    for (const key of found) {
      const e = this.entries.get(key);
      if (e !== undefined) this.file(e);
    }
    for (const secret of secretsReferenced(object as WorkloadLike))
      for (const key of this.bySecret.get(`${namespace}/${secret}`) ?? []) found.add(key);
    return [...found];
  }

  /** The rotating JwtRotations filed under one of the pod's label pairs, or for its whole namespace, that select it. */
  private keysForPod(namespace: string, labels: Record<string, string> | undefined): string[] {
    const scan = `${namespace}\0`;
    const candidates = new Set(this.rotatingBy.get(scan));
    for (const [k, v] of Object.entries(labels ?? {}))
      for (const key of this.rotatingBy.get(`${scan}${k}=${v}`) ?? []) candidates.add(key);
    return [...candidates].filter((key) => {
      const e = this.entries.get(key);
      if (e === undefined) return false;
      // One filed for the whole namespace while its targets were not cached is filed anew.
      if (this.filed.get(key)?.includes(scan) === true) this.file(e);
      return e.targets.some((t) =>
        this.selects(this.workload(t.kind, namespace, t.name)?.spec?.selector, labels),
      );
    });
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
