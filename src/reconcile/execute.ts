/**
 * Carries out the decision's actions, in order. This is the only place key material is
 * handled: values are resolved from their sources here and go straight into Secrets.
 */
import type { V1Secret } from '@kubernetes/client-node';
import {
  BACKUP_ORIGINAL_KEY,
  MANAGED_LABEL,
  MANAGED_LABEL_VALUE,
  POD_TEMPLATE_REVISION_ANNOTATION,
  SecretAnnotations,
  backupSecretName,
} from '../api/constants.ts';
import type { JwtRotation } from '../api/types.ts';
import { decodeData, encodeData } from '../adapters/kubernetes/secrets.ts';
import { fingerprint } from '../platform/fingerprint.ts';
import type { Action, ValueSource } from '../rotation/model.ts';
import type { Gathered } from './gather.ts';
import type { ReconcilerDeps } from './ports.ts';

export async function execute(
  actions: readonly Action[],
  resource: JwtRotation,
  gathered: Gathered,
  deps: ReconcilerDeps,
): Promise<void> {
  const namespace = resource.metadata.namespace ?? '';
  const secretValues = decodeData(gathered.raw.secret);
  const backupValues = decodeData(gathered.raw.backup);

  const resolve = (source: ValueSource): string => {
    if ('literal' in source) return source.literal;
    if ('generate' in source) return deps.newKey(source.generate);
    if ('copy' in source) {
      const value = secretValues[source.copy];
      if (!value) throw new Error(`cannot copy ${source.copy}: it is not in the Secret`);
      return value;
    }
    const original = backupValues[BACKUP_ORIGINAL_KEY];
    if (!original) throw new Error('the original key is not in the backup Secret');
    return original;
  };

  for (const action of actions) {
    switch (action.type) {
      case 'CreateSecret': {
        const values = Object.fromEntries(Object.entries(action.data).map(([k, v]) => [k, resolve(v)]));
        await deps.secrets.create({
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name: resource.spec.secretName,
            namespace,
            labels: { [MANAGED_LABEL]: MANAGED_LABEL_VALUE },
            annotations: action.annotations,
          },
          data: encodeData(values),
        });
        break;
      }
      case 'UpdateSecret': {
        const current = gathered.raw.secret;
        if (current?.metadata?.resourceVersion !== action.resourceVersion) {
          throw new Error('the Secret changed between gather and execute');
        }
        const values = { ...secretValues };
        // Resolve every value before removing any, so a copy can read a key being removed.
        const set = Object.entries(action.set).map(([k, v]) => [k, resolve(v)] as const);
        for (const key of action.remove) delete values[key];
        for (const [key, value] of set) values[key] = value;
        const annotations = { ...current.metadata.annotations };
        for (const [key, value] of Object.entries(action.annotations)) {
          if (value === null) delete annotations[key];
          else annotations[key] = value;
        }
        const next: V1Secret = {
          ...current,
          metadata: { ...current.metadata, annotations },
          data: encodeData(values),
        };
        delete next.stringData;
        await deps.secrets.replace(next);
        // Later actions in this pass see what was written.
        for (const key of Object.keys(secretValues)) delete secretValues[key];
        Object.assign(secretValues, values);
        break;
      }
      case 'SaveOriginal': {
        const key = secretValues.JWT_SECRET;
        if (!key || fingerprint(key) !== action.fingerprint) {
          throw new Error(`JWT_SECRET no longer has fingerprint ${action.fingerprint}`);
        }
        const existing = gathered.raw.backup;
        const backup: V1Secret = {
          apiVersion: 'v1',
          kind: 'Secret',
          type: 'Opaque',
          metadata: {
            name: backupSecretName(resource.metadata.name ?? ''),
            namespace,
            labels: { [MANAGED_LABEL]: MANAGED_LABEL_VALUE },
            annotations: {
              [SecretAnnotations.keyCreatedAt]: action.keyCreatedAt,
              [SecretAnnotations.managedBy]: resource.metadata.name ?? '',
            },
            // Garbage-collected with its JwtRotation. The workload Secret never gets an owner:
            // deleting a JwtRotation must not delete the key that workloads run on.
            ownerReferences: [
              {
                apiVersion: resource.apiVersion,
                kind: resource.kind,
                name: resource.metadata.name ?? '',
                uid: resource.metadata.uid ?? '',
                controller: true,
                blockOwnerDeletion: false,
              },
            ],
            ...(existing?.metadata?.resourceVersion
              ? { resourceVersion: existing.metadata.resourceVersion }
              : {}),
          },
          data: encodeData({ [BACKUP_ORIGINAL_KEY]: key }),
        };
        if (existing) await deps.secrets.replace(backup);
        else await deps.secrets.create(backup);
        backupValues[BACKUP_ORIGINAL_KEY] = key;
        break;
      }
      case 'DeleteBackup':
        await deps.secrets.delete(namespace, backupSecretName(resource.metadata.name ?? ''));
        break;
      case 'RollTargets':
        await Promise.all(
          action.targets.map((t) =>
            deps.workloads.setTemplateAnnotation(
              namespace,
              t.kind,
              t.name,
              POD_TEMPLATE_REVISION_ANNOTATION,
              action.revision,
            ),
          ),
        );
        break;
    }
  }
}
