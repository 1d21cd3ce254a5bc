/**
 * The requests one rotation needs by design, counted rather than assumed: one manual rotation of one
 * JwtRotation with one target, driven through the production decision core and executor by the
 * unit tests' simulated world (test/support/simulated-world.ts), in which every rollout is seen
 * finished at the first look after it started. What it counts is what the design asks of the API
 * server when nothing is observed twice: each Secret write, template patch, status write and Event,
 * and the one read the design makes on purpose (the pods listed from the API server before the
 * signing switch, per target). Anything a real run makes beyond it is the shell's cost.
 */
import type { JwtRotationSpec } from '../src/api/types.ts';
import { canonical } from '../src/platform/canonical.ts';
import { SimulatedWorld } from '../test/support/simulated-world.ts';

export interface DesignMinimum {
  secretWrites: number;
  backupWrites: number;
  templatePatches: number;
  statusWrites: number;
  events: number;
  /** Pod lists from the API server (Decision.restsOnPods), one per target. */
  podListsAtSwitch: number;
  /** The Event reasons, in order, to show the count. */
  eventReasons: string[];
  total: number;
}

export function designMinimum(
  spec: JwtRotationSpec,
  start = Date.parse('2026-01-01T00:00:00Z'),
): DesignMinimum {
  const names = (spec.targets ?? []).map((t) => t.name);
  const w = new SimulatedWorld(spec, start, names);
  w.rolloutLooks = 1;
  w.settle();
  const counts = {
    secretWrites: 0,
    backupWrites: 0,
    templatePatches: 0,
    statusWrites: 0,
    podListsAtSwitch: 0,
  };
  w.afterWrite = (write) => {
    if (write.type === 'ReplaceSecret' || write.type === 'CreateSecret') counts.secretWrites++;
    else if (write.type === 'WriteBackup' || write.type === 'DeleteSecret') counts.backupWrites++;
    else if (write.type === 'RollTargets') counts.templatePatches += write.targets.length;
  };
  const eventsBefore = w.events.length;
  w.annotations['jwtrotation.io/rotate'] = 'bench';
  for (let i = 0; i < 10_000; i++) {
    const before = canonical(w.status ?? {});
    const decision = w.pass();
    if (decision.restsOnPods) counts.podListsAtSwitch += names.length;
    if (canonical(w.status ?? {}) !== before) counts.statusWrites++;
    if (w.status?.phase === 'Idle' && w.status.lastRotation?.outcome === 'Completed' && i > 0) break;
    w.now += 1000;
  }
  if (w.status?.lastRotation?.outcome !== 'Completed')
    throw new Error('the simulated rotation did not complete');
  const eventReasons = w.events.slice(eventsBefore).map((e) => e.reason);
  const total =
    counts.secretWrites +
    counts.backupWrites +
    counts.templatePatches +
    counts.statusWrites +
    eventReasons.length +
    counts.podListsAtSwitch;
  return { ...counts, events: eventReasons.length, eventReasons, total };
}
