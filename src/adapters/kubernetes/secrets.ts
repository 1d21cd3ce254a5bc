/** Reads and writes Secrets. Values are decoded here and handed out only to the executor. */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { ConflictError, isConflict, isNotFound } from './errors.ts';

export class SecretStore {
  constructor(
    private readonly core: CoreV1Api,
    private readonly fieldManager: string,
    private readonly onWrite: (kind: string, namespace: string) => void,
  ) {}

  async get(namespace: string, name: string): Promise<V1Secret | undefined> {
    try {
      return await this.core.readNamespacedSecret({ namespace, name });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async create(secret: V1Secret): Promise<void> {
    const namespace = secret.metadata?.namespace ?? '';
    try {
      await this.core.createNamespacedSecret({ namespace, body: secret, fieldManager: this.fieldManager });
    } catch (error) {
      if (isConflict(error))
        throw new ConflictError(`Secret ${secret.metadata?.name ?? ''} appeared meanwhile`);
      throw error;
    }
    this.onWrite('secret-create', namespace);
  }

  /** Replaces the Secret; fails with ConflictError if it changed since it was read (resourceVersion). */
  async replace(secret: V1Secret): Promise<void> {
    const namespace = secret.metadata?.namespace ?? '';
    const name = secret.metadata?.name ?? '';
    try {
      await this.core.replaceNamespacedSecret({
        namespace,
        name,
        body: secret,
        fieldManager: this.fieldManager,
      });
    } catch (error) {
      if (isConflict(error)) throw new ConflictError(`Secret ${name} changed since it was read`);
      throw error;
    }
    this.onWrite('secret-update', namespace);
  }

  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.core.deleteNamespacedSecret({ namespace, name });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    this.onWrite('secret-delete', namespace);
  }
}

/** The decoded string values of a Secret. */
export function decodeData(secret: V1Secret | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(secret?.data ?? {}))
    out[key] = Buffer.from(value, 'base64').toString('utf8');
  for (const [key, value] of Object.entries(secret?.stringData ?? {})) out[key] = value;
  return out;
}

export function encodeData(values: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) out[key] = Buffer.from(value, 'utf8').toString('base64');
  return out;
}
