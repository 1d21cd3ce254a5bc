/**
 * A fault switch for crash tests, off unless its variable is set: the operator exits right after a
 * write, as if killed at that instant, so a test can restart it and check that it resumes.
 *
 *   JWTR_FAULT_EXIT_AFTER_WRITES=<n>        exit after the n-th write of any kind
 *   JWTR_FAULT_EXIT_AFTER_WRITES=<n>:<kind> exit after the n-th write of that kind: secret-create,
 *                                           secret-update, secret-delete, backup-create,
 *                                           backup-update, backup-delete, workload-patch, status, event,
 *                                           configmap-create, configmap-update (the JWKS)
 *
 * It exits with code 86 and first prints one JSON line (`fault injected`) naming the write. The
 * object's name is printed, never its contents. Never set it in production.
 */

import { BACKUP_SECRET_SUFFIX } from '../api/constants.ts';

export const FAULT_EXIT_CODE = 86;
export const FAULT_ENV = 'JWTR_FAULT_EXIT_AFTER_WRITES';

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
  if (match === null || Number(match[1]) < 1) {
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
