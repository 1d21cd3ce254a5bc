/** `emergency NAME`: a new key at once, without a dual-key phase, after a confirmation. */
import { Annotations } from '../../api/constants.ts';
import type { Command } from '../api.ts';
import { request, type RequestKind } from '../request.ts';

const kind: RequestKind = {
  command: 'emergency',
  annotation: Annotations.emergencyRotate,
  handled: 'emergencyRotate',
  expected: 'Completed',
  destructive:
    'This replaces the key at once: every token signed with the current key stops validating, users sign in again, and the replaced key is not kept (no rollback).',
};

export const emergency: Command = {
  summary: `Replace the key at once, without a dual-key phase: every session signed
                    with the current key ends (asks for confirmation).`,
  help: `Replace the key at once, without a dual-key phase (the runbook's emergency rotation): sets
the annotation ${Annotations.emergencyRotate} to a fresh value. Every token signed with the
current key stops validating and users sign in again; the replaced key is not kept, so this
cannot be rolled back. Asks for confirmation unless --yes.

Usage:
  kubectl jwtrotation emergency NAME [-n NAMESPACE] [-y] [--wait [--timeout 15m]] [-o json|yaml]`,
  needsName: true,
  run: (api, name = '', o) => request(api, kind, name, o),
};
