/**
 * A fault switch for crash tests, off unless its variable is set: the operator exits right after a
 * write, as if killed at that instant, so a test can restart it and check that it resumes.
 *
 *   JWTR_FAULT_EXIT_AFTER_WRITES=<n>        exit after the n-th write of any kind
 *   JWTR_FAULT_EXIT_AFTER_WRITES=<n>:<kind> exit after the n-th write of that kind: secret-create,
 *                                           secret-update, secret-delete, backup-create,
 *                                           backup-update, backup-delete, workload-patch, status, event,
 *                                           configmap-create, configmap-update (the JWKS),
 *                                           keyset-create, keyset-update (the issuer's PublishedKeySet),
 *                                           notice-recorded (a status write that recorded new
 *                                           notices, before any is delivered: the crash between
 *                                           deciding a notice and sending it)
 *
 * It exits with code 86 and first prints one JSON line (`fault injected`) naming the write. The
 * object's name is printed, never its contents. Never set it in production.
 *
 * A second switch, for conflict tests, holds a write back instead:
 *
 *   JWTR_FAULT_DELAY_FIRST_WRITE=<ms>:<kind> the first write of that kind to each object waits <ms>
 *                                           before it is sent, so that another writer can change the
 *                                           object meanwhile and the write meets a 409 Conflict
 *
 * Only the first, so that the retry after the 409 goes out at once and the rotation goes on.
 */

import { BACKUP_SECRET_SUFFIX } from '../../src/api/constants.ts';

export const FAULT_EXIT_CODE = 86;
export const FAULT_ENV = 'JWTR_FAULT_EXIT_AFTER_WRITES';
export const FAULT_DELAY_ENV = 'JWTR_FAULT_DELAY_FIRST_WRITE';

const WRITE_KINDS = [
  'secret-create',
  'secret-update',
  'secret-delete',
  'backup-create',
  'backup-update',
  'backup-delete',
  'workload-patch',
  'status',
  'event',
  'configmap-create',
  'configmap-update',
  'keyset-create',
  'keyset-update',
  'notice-recorded',
] as const;

export interface FaultSwitch {
  /** Called by every adapter after a write succeeded. */
  afterWrite(kind: string, namespace: string, name: string): void;
}

/** The kind a write counts as: a Secret write on a backup Secret is a backup write. */
export function writeKind(kind: string, name: string): string {
  return kind.startsWith('secret-') && name.endsWith(BACKUP_SECRET_SUFFIX)
    ? kind.replace('secret-', 'backup-')
    : kind;
}

export function faultSwitchFromEnv(
  env: NodeJS.ProcessEnv,
  exit: (code: number) => void = (code) => process.exit(code),
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): FaultSwitch | undefined {
  const raw = env[FAULT_ENV];
  if (raw === undefined || raw === '') return undefined;
  const match = /^(\d+)(?::([a-z-]+))?$/.exec(raw);
  if (
    match === null ||
    Number(match[1]) < 1 ||
    (match[2] !== undefined && !(WRITE_KINDS as readonly string[]).includes(match[2]))
  ) {
    throw new Error(`${FAULT_ENV} must be <n> or <n>:<kind> with n >= 1; got "${raw}"`);
  }
  const after = Number(match[1]);
  const only = match[2];
  let seen = 0;
  return {
    afterWrite(kind, namespace, name) {
      const counted = writeKind(kind, name);
      if (only !== undefined && counted !== only) return;
      seen += 1;
      if (seen < after) return;
      print(
        JSON.stringify({
          level: 'warn',
          message: 'fault injected',
          kind: counted,
          namespace,
          name,
          write: seen,
          timestamp: new Date().toISOString(),
        }),
      );
      exit(FAULT_EXIT_CODE);
    },
  };
}

export interface FaultDelay {
  /** Called before every request of a pass; resolves after the delay when it is the write held back. */
  beforeRequest(method: string, url: string): Promise<void>;
}

/** The write a request makes, in the fault switch's kinds, or undefined for a read or another write. */
export function requestWrite(
  method: string,
  url: string,
): { kind: string; namespace: string; name: string } | undefined {
  const segments = new URL(url, 'https://api.invalid').pathname.split('/').filter((s) => s !== '');
  const at = segments.indexOf('namespaces');
  if (at < 0) return undefined;
  const [namespace = '', resource = '', name = '', subresource] = segments.slice(at + 1);
  const verb = method.toUpperCase();
  const changes = verb === 'PUT' || verb === 'PATCH';
  let kind: string | undefined;
  if (resource === 'secrets')
    kind =
      verb === 'POST'
        ? 'secret-create'
        : changes
          ? 'secret-update'
          : verb === 'DELETE'
            ? 'secret-delete'
            : undefined;
  else if (resource === 'configmaps')
    kind = verb === 'POST' ? 'configmap-create' : changes ? 'configmap-update' : undefined;
  else if (resource === 'publishedkeysets')
    kind =
      verb === 'POST' ? 'keyset-create' : changes && subresource === undefined ? 'keyset-update' : undefined;
  else if (resource === 'events') kind = verb === 'POST' || changes ? 'event' : undefined;
  else if (resource === 'jwtrotations') kind = changes && subresource === 'status' ? 'status' : undefined;
  else if (['deployments', 'statefulsets', 'daemonsets'].includes(resource))
    kind = verb === 'PATCH' && subresource === undefined ? 'workload-patch' : undefined;
  return kind === undefined ? undefined : { kind: writeKind(kind, name), namespace, name };
}

export function faultDelayFromEnv(
  env: NodeJS.ProcessEnv,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): FaultDelay | undefined {
  const raw = env[FAULT_DELAY_ENV];
  if (raw === undefined || raw === '') return undefined;
  const match = /^(\d+):([a-z-]+)$/.exec(raw);
  if (
    match === null ||
    Number(match[1]) < 1 ||
    !(WRITE_KINDS as readonly string[]).includes(match[2] ?? '')
  ) {
    throw new Error(`${FAULT_DELAY_ENV} must be <ms>:<kind> with ms >= 1 and a write kind; got "${raw}"`);
  }
  const ms = Number(match[1]);
  const only = match[2];
  const held = new Set<string>();
  return {
    async beforeRequest(method, url) {
      const write = requestWrite(method, url);
      if (write === undefined || write.kind !== only) return;
      const object = `${write.namespace}/${write.name}`;
      if (held.has(object)) return;
      held.add(object);
      print(
        JSON.stringify({
          level: 'warn',
          message: 'fault delay: write held back',
          kind: write.kind,
          namespace: write.namespace,
          name: write.name,
          ms,
          timestamp: new Date().toISOString(),
        }),
      );
      await sleep(ms);
    },
  };
}
