/**
 * Carries out the decision's actions, in order. This is the only place key material is handled:
 * values are resolved from their sources here (src/reconcile/secret-data.ts) and go straight
 * into Secrets through the SecretStore port, which builds the Kubernetes objects.
 *
 * Two halves: `plannedWrites` turns actions into writes without I/O (the unit tests' simulated
 * world runs it too), and `execute` performs each write through the ports before planning the
 * next, so a crash between two writes leaves exactly the writes before it.
 */
import { JWKS_DATA_KEY, POD_TEMPLATE_REVISION_ANNOTATION, backupSecretName } from '../api/constants.ts';
import type { JwtRotation, TargetKind } from '../api/types.ts';
import { isAsymmetric } from '../platform/keys.ts';
import type { MembersInput } from '../rotation/members.ts';
import { SECRET_AS_WRITTEN, type Action } from '../rotation/model.ts';
import { EventReasons } from '../rotation/reasons.ts';
import { secretRevision } from '../rotation/revision.ts';
import {
  applyToSecret,
  backupContent,
  jwksConfigMapName,
  jwksOf,
  jwksText,
  heldKeys,
  jwksUnion,
  keyScheme,
  memberKeys,
  parseJwks,
  type MemberKeys,
  type KeyScheme,
  viewSecret,
} from './secret-data.ts';
import { KeySetPublisher } from './issuer-data.ts';
import { parseDuration } from '../rotation/duration.ts';
import {
  ConflictError,
  type ConfigMapRecord,
  type KeySetRecord,
  type KeySetSpec,
  type KeyFactory,
  type Owner,
  type ReconcilerDeps,
  type SecretContent,
  type SecretRecord,
} from './ports.ts';

/** One write to the cluster; each action is one write. */
export type Write =
  | { type: 'CreateSecret'; namespace: string; name: string; content: SecretContent }
  | { type: 'ReplaceSecret'; current: SecretRecord; content: SecretContent }
  | {
      type: 'WriteBackup';
      owner: Owner;
      namespace: string;
      name: string;
      content: SecretContent;
      existing: SecretRecord | undefined;
    }
  | { type: 'DeleteSecret'; namespace: string; name: string }
  /** Publish the public keys (asymmetric algorithms): the JWKS ConfigMap's jwks.json. */
  | { type: 'WriteJwks'; namespace: string; name: string; data: Record<string, string>; managedBy: string }
  /** Evict a pod of an OnDelete target (spec.rollout.replaceOnDeletePods); a PDB may refuse it. */
  | { type: 'EvictPod'; namespace: string; pod: string; target: { kind: TargetKind; name: string } }
  /** Publish the public keys to the issuer (spec.issuer): the PublishedKeySet's spec. */
  | { type: 'WriteKeySet'; namespace: string; name: string; spec: KeySetSpec; managedBy: string }
  | {
      type: 'RollTargets';
      namespace: string;
      targets: { kind: TargetKind; name: string }[];
      annotation: string;
      revision: string;
    };

/**
 * The Secrets a pass read: the workload Secret and the backup Secret, when they exist, and for an
 * asymmetric algorithm the JWKS ConfigMap.
 */
export interface ReadSecrets {
  secret: SecretRecord | undefined;
  backup: SecretRecord | undefined;
  jwks?: ConfigMapRecord | undefined;
  /** With spec.issuer: the PublishedKeySet. */
  keySet?: KeySetRecord | undefined;
  /**
   * With spec.clusters: the members as read on this pass (an unreachable one's Secret as last read),
   * fingerprints only; the published keys keep what they hold (./secret-data.ts, MemberKeys).
   */
  members?: MembersInput | undefined;
}

/**
 * Keeps the JWKS ConfigMap in step with the Secret's private keys (asymmetric algorithms only), so
 * that no pod can sign with a key the JWKS does not list, whatever write a crash interrupts:
 * - at the start of a pass, the JWKS is made to list exactly the Secret's keys (this repairs a pass
 *   killed between a Secret write and the JWKS write that follows it);
 * - before a Secret write, the JWKS lists the keys it already lists plus the keys the Secret is
 *   about to hold (a new key is published before anything can read it from the Secret);
 * - after the Secret write, exactly the Secret's keys (a replaced key, e.g. a compromised one on an
 *   emergency rotation, leaves at once), and, for a hub (spec.clusters), the keys it served that a
 *   member's Secret still holds (MemberKeys: a member's pods may still sign with them), less an
 *   emergency's compromised key.
 * Targets are rolled after that, so a pod started from a new revision reads a JWKS that has its keys.
 */
class JwksPublisher {
  private published: string | undefined;

  constructor(
    private readonly scheme: KeyScheme,
    private readonly namespace: string,
    private readonly name: string,
    private readonly owner: string,
    read: ConfigMapRecord | undefined,
    private readonly forMembers: MemberKeys,
  ) {
    this.published = read?.data[JWKS_DATA_KEY];
  }

  /**
   * The write that makes the JWKS list exactly the keys of these Secret values (and those kept for
   * the members), if it does not.
   */
  exactly(
    values: Readonly<Record<string, string>>,
    annotations: Readonly<Record<string, string>>,
  ): Write | undefined {
    const own = jwksOf(values, this.scheme).keys;
    const held = heldKeys(own, parseJwks(this.published).keys, this.forMembers, annotations);
    return this.publish(jwksText({ keys: held }));
  }

  /** The write that adds the keys of these Secret values to the JWKS, if it lacks any. */
  adding(values: Readonly<Record<string, string>>): Write | undefined {
    return this.publish(jwksText(jwksUnion(parseJwks(this.published), jwksOf(values, this.scheme))));
  }

  private publish(text: string): Write | undefined {
    if (text === this.published) return undefined;
    this.published = text;
    return {
      type: 'WriteJwks',
      namespace: this.namespace,
      name: this.name,
      data: { [JWKS_DATA_KEY]: text },
      managedBy: this.owner,
    };
  }
}

/**
 * The writes that carry out `actions`, planned one at a time: each is computed when the previous
 * one has been performed, and later actions of the pass see the values earlier ones wrote.
 */
export function* plannedWrites(
  actions: readonly Action[],
  resource: JwtRotation,
  read: ReadSecrets,
  newKey: KeyFactory,
  /** Epoch ms: when a key that leaves the issuer's set starts retiring. */
  now: number,
): Generator<Write, void, undefined> {
  const namespace = resource.metadata.namespace ?? '';
  const name = resource.metadata.name ?? '';
  let secret: SecretContent | undefined = read.secret && {
    values: { ...read.secret.values },
    annotations: { ...read.secret.annotations },
  };
  let backup: Readonly<Record<string, string>> = read.backup?.values ?? {};
  const scheme = keyScheme(resource.spec);
  const forMembers = memberKeys(read.members);
  const jwks = isAsymmetric(scheme.algorithm)
    ? new JwksPublisher(scheme, namespace, jwksConfigMapName(resource.spec), name, read.jwks, forMembers)
    : undefined;
  const issuer = resource.spec.issuer;
  const keySet =
    issuer !== undefined && isAsymmetric(scheme.algorithm)
      ? new KeySetPublisher(
          resource,
          scheme,
          issuer.url,
          maxAgeSeconds(issuer.maxAge),
          now,
          read.keySet,
          forMembers,
        )
      : undefined;
  /** The JWKS and key set writes around a Secret write of `content`: `before` it, or `after` it. */
  function* publish(when: 'before' | 'after', content: SecretContent): Generator<Write> {
    const write =
      when === 'before' ? jwks?.adding(content.values) : jwks?.exactly(content.values, content.annotations);
    if (write !== undefined) yield write;
    const set =
      when === 'before'
        ? keySet?.adding(content.values, content.annotations)
        : keySet?.exactly(content.values, content.annotations);
    if (set !== undefined) yield { type: 'WriteKeySet', namespace, name, spec: set, managedBy: name };
  }

  if (secret !== undefined) yield* publish('after', secret);

  for (const action of actions) {
    switch (action.type) {
      case 'CreateSecret': {
        const content = applyToSecret(undefined, action, { backup, newKey, scheme });
        yield* publish('before', content);
        yield { type: 'CreateSecret', namespace, name: resource.spec.secretName, content };
        secret = content;
        yield* publish('after', content);
        break;
      }
      case 'UpdateSecret': {
        const current = read.secret;
        if (
          current === undefined ||
          secret === undefined ||
          current.resourceVersion !== action.resourceVersion
        ) {
          throw new ConflictError('the Secret changed between gather and execute');
        }
        const content = applyToSecret(secret, action, { backup, newKey, scheme });
        yield* publish('before', content);
        yield { type: 'ReplaceSecret', current, content };
        secret = content;
        yield* publish('after', content);
        break;
      }
      case 'SaveOriginal': {
        const content = backupContent(secret?.values ?? {}, action, name, scheme);
        backup = content.values;
        // Already saved (a pass that was killed right after saving it): writing it again would be
        // the only write each restarted pass makes, and the rotation would never start.
        if (read.backup !== undefined && holds(read.backup, content)) break;
        yield {
          type: 'WriteBackup',
          owner: {
            apiVersion: resource.apiVersion,
            kind: resource.kind,
            name,
            uid: resource.metadata.uid ?? '',
          },
          namespace,
          name: backupSecretName(name),
          content,
          existing: read.backup,
        };
        break;
      }
      case 'DeleteBackup':
        yield { type: 'DeleteSecret', namespace, name: backupSecretName(name) };
        break;
      case 'EvictPod':
        yield { type: 'EvictPod', namespace, pod: action.pod, target: action.target };
        break;
      case 'RollTargets': {
        let revision = action.revision;
        if (revision === SECRET_AS_WRITTEN) {
          if (secret === undefined)
            throw new Error('RollTargets to the written Secret, but no Secret was written');
          revision = secretRevision(viewSecret({ resourceVersion: '', ...secret }, scheme));
        }
        yield {
          type: 'RollTargets',
          namespace,
          targets: action.targets,
          annotation: POD_TEMPLATE_REVISION_ANNOTATION,
          revision,
        };
        break;
      }
    }
  }
}

export async function execute(
  actions: readonly Action[],
  resource: JwtRotation,
  read: ReadSecrets,
  deps: ReconcilerDeps,
): Promise<void> {
  for (const write of plannedWrites(actions, resource, read, deps.newKey, deps.clock.now()))
    await perform(write, resource, deps);
}

/** A refused eviction is told in an Event on the JwtRotation (repeats are counted, not multiplied). */
async function refusedEviction(
  write: Extract<Write, { type: 'EvictPod' }>,
  refusal: string,
  resource: JwtRotation,
  deps: ReconcilerDeps,
): Promise<void> {
  const message = `Eviction of pod ${write.pod} of ${write.target.kind} ${write.target.name} refused: ${refusal}; trying again later`;
  await deps.events.record(resource, 'Warning', EventReasons.EvictionRefused, message).catch(() => undefined);
}

async function perform(write: Write, resource: JwtRotation, deps: ReconcilerDeps): Promise<void> {
  switch (write.type) {
    case 'CreateSecret':
      return deps.secrets.create(write.namespace, write.name, write.content);
    case 'ReplaceSecret':
      return deps.secrets.replace(write.current, write.content);
    case 'WriteBackup':
      return deps.secrets.writeOwned(write.owner, write.namespace, write.name, write.content, write.existing);
    case 'DeleteSecret':
      return deps.secrets.delete(write.namespace, write.name);
    case 'WriteJwks':
      return deps.configMaps.write(write.namespace, write.name, write.data, write.managedBy);
    case 'EvictPod': {
      const refused = await deps.workloads.evictPod(write.namespace, write.pod);
      // Not an error: the PodDisruptionBudget allows no disruption now; the next pass tries again.
      if (refused !== undefined) await refusedEviction(write, refused, resource, deps);
      return;
    }
    case 'WriteKeySet':
      if (deps.keySets === undefined)
        throw new Error('spec.issuer is set, but this operator has no PublishedKeySet store');
      return deps.keySets.write(write.namespace, write.name, write.spec, write.managedBy);
    case 'RollTargets':
      await Promise.all(
        write.targets.map((t) =>
          deps.workloads.setTemplateAnnotation(
            write.namespace,
            t.kind,
            t.name,
            write.annotation,
            write.revision,
          ),
        ),
      );
  }
}

/** The Secret already has exactly these values, and these annotations among its own. */
function holds(secret: SecretRecord, content: SecretContent): boolean {
  const same = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean =>
    Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);
  return (
    same(content.values, secret.values) &&
    Object.entries(content.annotations).every(([k, v]) => secret.annotations[k] === v)
  );
}

/** spec.issuer.maxAge in whole seconds (the CRD's default when absent or unreadable). */
function maxAgeSeconds(maxAge: string | undefined): number {
  try {
    return Math.round(parseDuration(maxAge ?? '5m') / 1000);
  } catch {
    return 300;
  }
}
