/**
 * Carries out the decision's actions, in order. This is the only place key material is handled:
 * values are resolved from their sources here (src/reconcile/secret-data.ts) and go straight
 * into Secrets through the SecretStore port, which builds the Kubernetes objects.
 *
 * Two halves: `plannedWrites` turns actions into writes without I/O (the unit tests' simulated
 * world runs it too), and `execute` performs each write through the ports before planning the
 * next, so a crash between two writes leaves exactly the writes before it.
 */
import { POD_TEMPLATE_REVISION_ANNOTATION, backupSecretName } from '../api/constants.ts';
import type { JwtRotation, TargetKind } from '../api/types.ts';
import type { Action } from '../rotation/model.ts';
import { applyToSecret, backupContent } from './secret-data.ts';
import {
  ConflictError,
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
  | {
      type: 'RollTargets';
      namespace: string;
      targets: { kind: TargetKind; name: string }[];
      annotation: string;
      revision: string;
    };

/** The Secrets a pass read: the workload Secret and the backup Secret, when they exist. */
export interface ReadSecrets {
  secret: SecretRecord | undefined;
  backup: SecretRecord | undefined;
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
): Generator<Write, void, undefined> {
  const namespace = resource.metadata.namespace ?? '';
  const name = resource.metadata.name ?? '';
  let secret: SecretContent | undefined = read.secret && {
    values: { ...read.secret.values },
    annotations: { ...read.secret.annotations },
  };
  let backup: Readonly<Record<string, string>> = read.backup?.values ?? {};

  for (const action of actions) {
    switch (action.type) {
      case 'CreateSecret': {
        const content = applyToSecret(undefined, action, { backup, newKey });
        yield { type: 'CreateSecret', namespace, name: resource.spec.secretName, content };
        secret = content;
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
        const content = applyToSecret(secret, action, { backup, newKey });
        yield { type: 'ReplaceSecret', current, content };
        secret = content;
        break;
      }
      case 'SaveOriginal': {
        const content = backupContent(secret?.values ?? {}, action, name);
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
      case 'RollTargets':
        yield {
          type: 'RollTargets',
          namespace,
          targets: action.targets,
          annotation: POD_TEMPLATE_REVISION_ANNOTATION,
          revision: action.revision,
        };
        break;
    }
  }
}

export async function execute(
  actions: readonly Action[],
  resource: JwtRotation,
  read: ReadSecrets,
  deps: ReconcilerDeps,
): Promise<void> {
  for (const write of plannedWrites(actions, resource, read, deps.newKey)) await perform(write, deps);
}

async function perform(write: Write, deps: ReconcilerDeps): Promise<void> {
  switch (write.type) {
    case 'CreateSecret':
      return deps.secrets.create(write.namespace, write.name, write.content);
    case 'ReplaceSecret':
      return deps.secrets.replace(write.current, write.content);
    case 'WriteBackup':
      return deps.secrets.writeOwned(write.owner, write.namespace, write.name, write.content, write.existing);
    case 'DeleteSecret':
      return deps.secrets.delete(write.namespace, write.name);
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
