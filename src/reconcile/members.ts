/**
 * The hub's shell for spec.clusters (docs/multi-cluster.md): reads each member through a client made
 * from its kubeconfig Secret (the managed Secret as fingerprints, the targets and their pods, live),
 * writes the hub's Secret into a member before rolling its targets there, and catches up a member
 * whose Secret is behind the hub's. The decisions are ../rotation/hub.ts and ../rotation/members.ts.
 */
import { GROUP, POD_TEMPLATE_REVISION_ANNOTATION } from '../api/constants.ts';
import type { JwtRotation, MemberCluster, MemberClusterStatus } from '../api/types.ts';
import type { MemberReach, MemberView, MembersInput } from '../rotation/members.ts';
import { splitMemberTarget } from '../rotation/hub.ts';
import type { KeySlot, PodView, SecretView } from '../rotation/model.ts';
import { secretRevision } from '../rotation/revision.ts';
import { viewTarget } from '../rotation/rollout.ts';
import { resolveSpec } from '../rotation/spec.ts';
import { parseInstant } from '../rotation/time.ts';
import type { MemberApi, ReconcilerDeps, SecretRecord, Workloads } from './ports.ts';
import { refusedUrl } from '../platform/outbound.ts';
import { readReference } from './references.ts';
import { keyScheme, viewSecret } from './secret-data.ts';

/** What one pass read of the members. */
export interface MembersRead {
  input: MembersInput;
  /** The members reached on this pass, by name. */
  apis: ReadonlyMap<string, MemberApi>;
  /** spec.rollout.pollInterval: how often a pass waiting on members looks again (no watch reaches them). */
  pollIntervalMs: number;
}

/** The kubeconfig Secret of a member: as spec.clusters names it, else Cluster API's `<name>-kubeconfig`. */
export function kubeconfigRef(cluster: MemberCluster): { name: string; key: string } {
  const ref = cluster.kubeconfigSecretRef;
  return { name: ref?.name ?? `${cluster.name}-kubeconfig`, key: ref?.key ?? 'value' };
}

/**
 * The member's client, through a kubeconfig Secret that allows this JwtRotation (the rule of every
 * Secret a JwtRotation names, ./references.ts: who may create a JwtRotation but not read that Secret
 * cannot make the operator use its credentials).
 */
async function connect(
  resource: JwtRotation,
  cluster: MemberCluster,
  deps: ReconcilerDeps,
): Promise<MemberApi> {
  const namespace = resource.metadata.namespace ?? '';
  const referrer = { name: resource.metadata.name ?? '', secretName: resource.spec.secretName };
  const ref = kubeconfigRef(cluster);
  let record: SecretRecord | undefined;
  const secrets = {
    get: async (ns: string, name: string) => (record = await deps.secrets.get(ns, name)),
  };
  const read = await readReference(secrets, namespace, referrer, ref, `cluster ${cluster.name}'s kubeconfig`);
  if (!read.ok) throw new Error(read.message);
  if (read.value === undefined || record === undefined)
    throw new Error(
      `Secret ${ref.name} has no key ${ref.key} with the kubeconfig of cluster ${cluster.name}`,
    );
  if (deps.members === undefined) throw new Error('this operator has no client for member clusters');
  // The member's API server is somewhere the operator sends requests, as Prometheus is: OUTBOUND_HOSTS.
  const refused = (server: string): string | undefined => refusedUrl(deps.outbound, server, 'member', true);
  return deps.members.client(`${namespace}/${ref.name}`, record.resourceVersion, read.value, refused);
}

/** One member, reached: its Secret and its targets with their pods, listed live. */
async function readMember(
  resource: JwtRotation,
  name: string,
  api: MemberApi,
): Promise<Omit<MemberView, 'reach'>> {
  const namespace = resource.metadata.namespace ?? '';
  const { spec } = resource;
  const [record, targets] = await Promise.all([
    api.secrets.get(namespace, spec.secretName),
    Promise.all(
      (spec.targets ?? []).map(async (t) => {
        const workload = await api.workloads.get(namespace, t.kind, t.name);
        const pods: PodView[] | undefined =
          workload === undefined
            ? undefined
            : await api.workloads.listPods(namespace, workload, POD_TEMPLATE_REVISION_ANNOTATION);
        return { ...viewTarget(t.kind, t.name, workload, spec.secretName), pods };
      }),
    ),
  ]);
  const secret = record === undefined ? undefined : viewSecret(record, keyScheme(spec));
  return { name, secret, targets };
}

/**
 * The Secret of a member not reached, as last read: the keys status.members recorded (for the keys
 * published and status); slots in order, since only the fingerprints are read from it.
 */
function lastRead(previous: MemberClusterStatus | undefined): SecretView | undefined {
  const keys = previous?.keys;
  if (keys === undefined) return undefined;
  const slots: KeySlot[] = ['JWT_SECRET', 'JWT_SECRET_CURRENT', 'JWT_SECRET_NEW'];
  const fingerprints: SecretView['fingerprints'] = {};
  keys.slice(0, slots.length).forEach((key, i) => {
    const slot = slots[i];
    if (slot !== undefined) fingerprints[slot] = key;
  });
  return { resourceVersion: '', fingerprints, annotations: {} };
}

function unreachable(previous: MemberClusterStatus | undefined, now: number, error: string): MemberReach {
  const since = previous?.phase === 'Unreachable' ? parseInstant(previous.unreachableSince) : undefined;
  return { reachable: false, since: since ?? now, error };
}

/** Every member of spec.clusters, read on this pass (in parallel); an error makes it unreachable. */
export async function gatherMembers(
  resource: JwtRotation,
  deps: ReconcilerDeps,
  now: number,
): Promise<MembersRead> {
  const apis = new Map<string, MemberApi>();
  const describe = (error: unknown): string =>
    deps.members?.describe(error) ?? (error instanceof Error ? error.message : String(error));
  const members = await Promise.all(
    (resource.spec.clusters ?? []).map(async (cluster): Promise<MemberView> => {
      const previous = resource.status?.members?.find((m) => m.name === cluster.name);
      try {
        const api = await connect(resource, cluster, deps);
        const view = await readMember(resource, cluster.name, api);
        apis.set(cluster.name, api);
        return { ...view, reach: { reachable: true } };
      } catch (error) {
        const reach = unreachable(previous, now, describe(error));
        return { name: cluster.name, reach, secret: lastRead(previous), targets: [] };
      }
    }),
  );
  const resolved = resolveSpec(resource.spec);
  return {
    input: { now, secretName: resource.spec.secretName, members },
    apis,
    pollIntervalMs: resolved.ok ? resolved.spec.pollIntervalMs : 5000,
  };
}

/** The operator's own annotations of the hub's Secret (operation, trigger, …), which a member's copy carries too. */
function operatorAnnotations(annotations: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(annotations).filter(
      ([k]) => k.startsWith(`${GROUP}/`) && k !== `${GROUP}/allow-references`,
    ),
  );
}

function sameValues(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  return Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
}

/**
 * Writes the hub's Secret, as it is now, into the member (same name, same values), unless the member
 * already holds those values. The member's Secret must exist: the hub's Role there cannot create one.
 */
export async function publishToMember(
  resource: JwtRotation,
  member: string,
  api: MemberApi,
  deps: ReconcilerDeps,
): Promise<void> {
  const namespace = resource.metadata.namespace ?? '';
  const name = resource.spec.secretName;
  const hub = await (deps.live?.secrets ?? deps.secrets).get(namespace, name);
  if (hub === undefined)
    throw new Error(`the hub's Secret ${name} is missing; nothing to write to ${member}`);
  const there = await api.secrets.get(namespace, name);
  if (there === undefined) throw new Error(`member ${member} has no Secret ${name} to write`);
  if (sameValues(hub.values, there.values)) return;
  await api.secrets.replace(there, {
    values: { ...hub.values },
    annotations: operatorAnnotations(hub.annotations),
  });
}

/**
 * The workloads the executor rolls through: a member's target (`<member>/<name>`) is rolled in that
 * member, after the hub's Secret is written there, once per member and pass however many of its
 * targets roll; a member not reached on this pass is skipped (it is rolled when it returns, as its
 * revision then differs). Everything else goes to the hub's own workloads.
 */
export function memberWorkloads(
  resource: JwtRotation,
  hub: Workloads,
  members: MembersRead,
  deps: ReconcilerDeps,
): Workloads {
  const published = new Map<string, Promise<void>>();
  return {
    ...hub,
    get: (...args) => hub.get(...args),
    listReferencing: (...args) => hub.listReferencing(...args),
    listPods: (...args) => hub.listPods(...args),
    evictPod: (...args) => hub.evictPod(...args),
    setTemplateAnnotation: async (namespace, kind, name, key, value) => {
      const target = splitMemberTarget(name);
      if (target === undefined) return hub.setTemplateAnnotation(namespace, kind, name, key, value);
      const api = members.apis.get(target.member);
      if (api === undefined) return;
      let write = published.get(target.member);
      if (write === undefined) {
        write = publishToMember(resource, target.member, api, deps);
        published.set(target.member, write);
      }
      await write;
      await api.workloads.setTemplateAnnotation(namespace, kind, target.name, key, value);
    },
  };
}

/**
 * A quiet pass (no action decided) in Idle catches up each member reached whose Secret is not the hub's: the
 * hub's Secret is written there and the member's targets not on its revision are rolled. This is how a
 * member first gets the key (the core does not roll a target that never carried a revision) and how
 * one that was edited by hand gets it back. Returns the members written.
 */
export async function catchUpMembers(
  resource: JwtRotation,
  hubSecret: SecretView | undefined,
  members: MembersRead,
  deps: ReconcilerDeps,
): Promise<string[]> {
  // Only in Idle: mid-rotation, the core rolls every member target itself (through memberWorkloads),
  // under its windows and budget, which a catch-up here would bypass.
  if (hubSecret === undefined || (resource.status?.phase ?? 'Idle') !== 'Idle') return [];
  const revision = secretRevision(hubSecret);
  const behind = members.input.members.filter(
    (m) =>
      m.reach.reachable &&
      m.secret !== undefined &&
      (secretRevision(m.secret) !== revision || m.targets.some((t) => t.found && t.revision !== revision)),
  );
  const namespace = resource.metadata.namespace ?? '';
  await Promise.all(
    behind.map(async (m) => {
      const api = members.apis.get(m.name);
      if (api === undefined) return;
      await publishToMember(resource, m.name, api, deps);
      const stale = m.targets.filter((t) => t.found && t.revision !== revision);
      for (const t of stale)
        await api.workloads.setTemplateAnnotation(
          namespace,
          t.kind,
          t.name,
          POD_TEMPLATE_REVISION_ANNOTATION,
          revision,
        );
    }),
  );
  return behind.map((m) => m.name);
}
