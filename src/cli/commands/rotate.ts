/** `rotate NAME`: a rotation now, or the resumption of a Paused one. */
import { Annotations } from '../../api/constants.ts';
import type { Command } from '../api.ts';
import { request, type RequestKind } from '../request.ts';

const kind: RequestKind = {
  command: 'rotate',
  annotation: Annotations.rotate,
  handled: 'rotate',
  expected: 'Completed',
};

export const rotate: Command = {
  summary: 'Start a rotation now (or resume a Paused one).',
  help: `Start a rotation now: sets the annotation ${Annotations.rotate} to a fresh value.
On a Paused JwtRotation, resumes it.

Usage:
  kubectl jwtrotation rotate NAME [-n NAMESPACE] [--wait [--timeout 15m]] [-o json|yaml]

With --wait, returns when the rotation has completed (exit 0) or ended otherwise (exit 1).`,
  needsName: true,
  run: (api, name = '', o) => request(api, kind, name, o),
};
