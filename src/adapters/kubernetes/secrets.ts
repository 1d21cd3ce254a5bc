/**
 * Reads and writes Secrets, and builds them: labels, type, owner references and base64 are this
 * adapter's business; the shell deals in decoded values. Values are handed out only to the shell,
 * which gives them only to the executor.
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import {
  GROUP,
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  WATCH_LABEL,
  WATCH_LABEL_VALUE,
} from '../../api/constants.ts';
import { canonical } from '../../platform/canonical.ts';
import { ConflictError } from '../../platform/conflict.ts';
import { isConflict, isNotFound } from './errors.ts';
import type { WriteListener } from './write-listener.ts';

/** A Secret as read (the shape of SecretRecord in src/reconcile/ports.ts). */
interface ReadSecret {
  readonly resourceVersion: string;
  readonly type?: string | undefined;
  readonly values: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

interface Content {
  values: Record<string, string>;
  annotations: Record<string, string>;
}

export class KubernetesSecretStore {
  /**
   * The object behind each record handed out, so a replace keeps every field the operator does
   * not own (labels, type, owner references, finalizers) exactly as it read them.
   */
  private readonly objects = new WeakMap<ReadSecret, V1Secret>();

  constructor(
    private readonly core: CoreV1Api,
    private readonly fieldManager: string,
    private readonly onWrite: WriteListener,
    private readonly onConflict: (kind: string) => void = () => undefined,
  ) {}

  async get(namespace: string, name: string): Promise<ReadSecret | undefined> {
    let secret: V1Secret;
    try {
      secret = await this.core.readNamespacedSecret({ namespace, name });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    return this.record(secret);
  }

  /** A record for a Secret read elsewhere (the informer cache), usable for replace(). */
  record(secret: V1Secret): ReadSecret {
    const record: ReadSecret = {
      resourceVersion: secret.metadata?.resourceVersion ?? '',
      type: secret.type,
      values: decodeData(secret),
      annotations: { ...secret.metadata?.annotations },
    };
    this.objects.set(record, secret);
    return record;
  }

  async create(namespace: string, name: string, content: Content): Promise<void> {
    await this.createObject(managedSecret(namespace, name, content));
  }

  /**
   * Replaces the Secret; ConflictError if it changed since it was read (resourceVersion).
   *
   * When the 409 comes from a change to what the operator does not own (another writer's labels or
   * annotations, not the values, the type or the operator's own jwtrotation.io/ annotations), the
   * decision that led here still holds: the write is made again on the fresh object, keeping the
   * other writer's change. Up to MERGE_RETRIES times; anything else is the caller's conflict.
   */
  async replace(current: ReadSecret, content: Content): Promise<void> {
    let read = this.objects.get(current);
    if (read === undefined) throw new Error('replace needs a Secret read through this store');
    const first = read;
    for (let attempt = 0; ; attempt++) {
      const next: V1Secret = {
        ...read,
        // The watch label brings a Secret the operator did not create (adopted) into its cache.
        metadata: {
          ...read.metadata,
          labels: { ...read.metadata?.labels, [WATCH_LABEL]: WATCH_LABEL_VALUE },
          annotations:
            read === first
              ? content.annotations
              : { ...othersOf(read.metadata?.annotations), ...ownOf(content.annotations) },
        },
        data: encodeData(content.values),
      };
      delete next.stringData;
      try {
        await this.replaceObject(next);
        return;
      } catch (error) {
        if (!(error instanceof ConflictError) || attempt >= MERGE_RETRIES) throw error;
        const namespace = read.metadata?.namespace ?? '';
        const fresh = await this.core.readNamespacedSecret({ namespace, name: read.metadata?.name ?? '' });
        if (!onlyOthersChanged(first, fresh)) throw error;
        this.onConflict('secret');
        read = fresh;
      }
    }
  }

  /**
   * Writes a Secret that is garbage-collected with its owner (the backup Secret with its
   * JwtRotation). A workload Secret never gets an owner: deleting a JwtRotation must not delete
   * the key that workloads run on.
   */
  async writeOwned(
    owner: { apiVersion: string; kind: string; name: string; uid: string },
    namespace: string,
    name: string,
    content: Content,
    existing: ReadSecret | undefined,
  ): Promise<void> {
    const secret = managedSecret(namespace, name, content);
    secret.metadata = {
      ...secret.metadata,
      ownerReferences: [
        {
          apiVersion: owner.apiVersion,
          kind: owner.kind,
          name: owner.name,
          uid: owner.uid,
          controller: true,
          blockOwnerDeletion: false,
        },
      ],
      ...(existing?.resourceVersion ? { resourceVersion: existing.resourceVersion } : {}),
    };
    if (existing) await this.replaceObject(secret);
    else await this.createObject(secret);
  }

  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({ namespace, name });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.onWrite('secret-delete', namespace, name, { kind: 'Secret', resourceVersion: null });
  }

  private async createObject(secret: V1Secret): Promise<void> {
    const namespace = secret.metadata?.namespace ?? '';
    let created: V1Secret;
    try {
      created = await this.core.createNamespacedSecret({
        namespace,
        body: secret,
        fieldManager: this.fieldManager,
      });
    } catch (error) {
      if (isConflict(error))
        throw new ConflictError(`Secret ${secret.metadata?.name ?? ''} appeared meanwhile`);
      throw error;
    }
    this.onWrite('secret-create', namespace, secret.metadata?.name ?? '', {
      kind: 'Secret',
      resourceVersion: created.metadata?.resourceVersion ?? '',
    });
  }

  private async replaceObject(secret: V1Secret): Promise<void> {
    const namespace = secret.metadata?.namespace ?? '';
    const name = secret.metadata?.name ?? '';
    let replaced: V1Secret;
    try {
      replaced = await this.core.replaceNamespacedSecret({
        namespace,
        name,
        body: secret,
        fieldManager: this.fieldManager,
      });
    } catch (error) {
      if (isConflict(error)) throw new ConflictError(`Secret ${name} changed since it was read`);
      throw error;
    }
    this.onWrite('secret-update', namespace, name, {
      kind: 'Secret',
      resourceVersion: replaced.metadata?.resourceVersion ?? '',
    });
  }
}

/** Retries of a replace whose 409 came from another writer's labels or annotations only. */
const MERGE_RETRIES = 5;
const OWN_PREFIX = `${GROUP}/`;

function ownOf(annotations: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => k.startsWith(OWN_PREFIX)));
}

function othersOf(annotations: Readonly<Record<string, string>> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => !k.startsWith(OWN_PREFIX)));
}

/** Whether only what the operator does not own changed between two reads of a Secret. */
function onlyOthersChanged(before: V1Secret, after: V1Secret): boolean {
  return (
    after.metadata?.deletionTimestamp === undefined &&
    after.metadata?.uid === before.metadata?.uid &&
    after.type === before.type &&
    canonical(decodeData(after)) === canonical(decodeData(before)) &&
    canonical(ownOf(after.metadata?.annotations)) === canonical(ownOf(before.metadata?.annotations))
  );
}

/** The decoded string values of a Secret. */
function decodeData(secret: V1Secret): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret.data ?? {}))
    out[key] = Buffer.from(value, 'base64').toString('utf8');
  for (const [key, value] of Object.entries(secret.stringData ?? {})) out[key] = value;
  return out;
}

function encodeData(values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) out[key] = Buffer.from(value, 'utf8').toString('base64');
  return out;
}

/** A Secret as the operator makes it: Opaque, labelled as managed, values base64-encoded. */
function managedSecret(namespace: string, name: string, content: Content): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name,
      namespace,
      labels: { [MANAGED_LABEL]: MANAGED_LABEL_VALUE, [WATCH_LABEL]: WATCH_LABEL_VALUE },
      annotations: content.annotations,
    },
    data: encodeData(content.values),
  };
}
