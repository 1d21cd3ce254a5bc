/** `rollback NAME`: the original key back, after a confirmation. */
import { Annotations } from '../../api/constants.ts';
import type { Command } from '../api.ts';
import { request, type RequestKind } from '../request.ts';

const kind: RequestKind = {
  command: 'rollback',
  annotation: Annotations.rollback,
  handled: 'rollback',
  expected: 'RolledBack',
  destructive: 'This restores the original key: tokens signed with the new key stop validating.',
};

export const rollback: Command = {
  summary: 'Restore the original key and roll the targets (asks for confirmation).',
  help: `Restore the original key and roll the targets: sets the annotation ${Annotations.rollback}
to a fresh value. Tokens signed with the new key stop validating. Asks for confirmation unless --yes.

Usage:
  kubectl jwtrotation rollback NAME [-n NAMESPACE] [-y] [--wait [--timeout 15m]] [-o json|yaml]`,
  needsName: true,
  run: (api, name = '', o) => request(api, kind, name, o),
};
