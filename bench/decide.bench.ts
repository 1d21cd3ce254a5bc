/**
 * How fast the decision core is. Prints figures; asserts nothing.
 *
 *   npx tsx bench/decide.bench.ts
 *
 * Each scenario is a realistic DecideInput (taken from a SimulatedWorld driven to that state),
 * handed to decide() over and over. See bench/README.md for what each figure means.
 */
import { cpus } from 'node:os';
import type { JwtRotationSpec } from '../src/api/types.ts';
import { decide } from '../src/rotation/decide.ts';
import type { DecideInput, GateObservation } from '../src/rotation/model.ts';
import { T0 } from '../test/support/builders.ts';
import { SimulatedWorld } from '../test/support/simulated-world.ts';

const WARMUP_PASSES = 2_000;
const PASSES = 20_000;
const ROTATIONS = 50;
const PASS_LIMIT_PER_ROTATION = 1_000;

const HOUR = 3_600_000;

/** The runbook's timings, with a short schedule so the world does not start rotations on its own. */
const spec: JwtRotationSpec = {
  secretName: 'api-jwt',
  targets: [
    { kind: 'Deployment', name: 'api' },
    { kind: 'Deployment', name: 'worker' },
    { kind: 'Deployment', name: 'cron' },
  ],
  rollout: { signingDelay: '10m', pollInterval: '5s' },
  monitoring: { minDuration: '48h', maxDuration: '72h' },
};
const gatedSpec: JwtRotationSpec = {
  ...spec,
  monitoring: { ...spec.monitoring, prometheus: { url: 'http://prometheus.monitoring:9090' } },
};
const TARGETS = ['api', 'worker', 'cron'];

function reading(newKeyShare: number): GateObservation {
  return {
    ok: true,
    readings: {
      newKeyShare,
      authSuccessRate: 0.999,
      validationLatencyP99Seconds: 0.012,
      errorRate: 0.0001,
      activeSessions: 1200,
      samples: 50_000,
    },
  };
}

/** The input SimulatedWorld.pass() would hand to decide(), without running a pass. */
function inputOf(world: SimulatedWorld): DecideInput {
  return world.input();
}

/** Passes until nothing is to be done now; then, if the phase is not reached, moves time to the next look. */
function driveTo(world: SimulatedWorld, phase: string): void {
  for (let i = 0; i < PASS_LIMIT_PER_ROTATION; i++) {
    const decision = world.settle();
    if (world.status?.phase === phase) return;
    world.now += decision.requeueAfterMs;
  }
  throw new Error(`phase ${phase} not reached; stuck in ${world.status?.phase ?? 'none'}`);
}

/** Checks that a scenario is what its name says: decide() keeps the phase and writes nothing. */
function steady(name: string, input: DecideInput, phase: string): DecideInput {
  const decision = decide(input);
  if (decision.status.phase !== phase || decision.actions.length > 0) {
    throw new Error(
      `scenario ${name}: expected a steady ${phase}, got ${decision.status.phase ?? 'none'} with ` +
        (decision.actions.map((a) => a.type).join(', ') || 'no actions'),
    );
  }
  // Status as the next pass would read it, so conditions and gate carry over as in the cluster.
  return { ...input, resource: { ...input.resource, status: decision.status } };
}

function idleScenario(): DecideInput {
  const world = new SimulatedWorld(spec, T0, TARGETS);
  world.settle();
  world.now += HOUR;
  return steady('Idle', inputOf(world), 'Idle');
}

function dualKeyScenario(): DecideInput {
  const world = new SimulatedWorld(spec, T0, TARGETS);
  world.settle();
  world.rolloutLooks = Number.MAX_SAFE_INTEGER; // the rollouts never finish
  world.annotations['jwtrotation.io/rotate'] = 'bench';
  world.settle();
  world.now += 30_000;
  const input = inputOf(world);
  if (input.targets.filter((t) => t.rollout === 'Progressing').length !== 3)
    throw new Error('scenario DualKey: expected 3 targets still rolling');
  return steady('DualKey', input, 'DualKey');
}

function monitoringScenario(): DecideInput {
  const world = new SimulatedWorld(gatedSpec, T0, TARGETS);
  world.settle();
  world.gate = reading(0.5);
  world.annotations['jwtrotation.io/rotate'] = 'bench';
  driveTo(world, 'Monitoring');
  world.now += HOUR;
  world.gate = reading(0.6);
  return steady('Monitoring', inputOf(world), 'Monitoring');
}

interface Figures {
  passesPerSecond: number;
  p50Us: number;
  p99Us: number;
}

/** A value every pass feeds, printed at the end, so no pass can be optimised away. */
let sink = 0;

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

function measurePasses(input: DecideInput): Figures {
  for (let i = 0; i < WARMUP_PASSES; i++) sink += decide(input).requeueAfterMs;
  const durations = new Float64Array(PASSES);
  const started = process.hrtime.bigint();
  for (let i = 0; i < PASSES; i++) {
    const t0 = process.hrtime.bigint();
    const decision = decide(input);
    durations[i] = Number(process.hrtime.bigint() - t0) / 1000;
    sink += decision.requeueAfterMs;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  durations.sort();
  return {
    passesPerSecond: PASSES / seconds,
    p50Us: percentile(durations, 0.5),
    p99Us: percentile(durations, 0.99),
  };
}

interface RotationFigures {
  rotations: number;
  passesPerRotation: number;
  msPerRotation: number;
  passesPerSecond: number;
}

/**
 * Whole rotations in a SimulatedWorld with three targets: a rotate request, then passes until the
 * rotation is recorded as completed. Time jumps to each look the core asks for, as the work queue
 * would schedule it; the core looks at least every RESYNC_MS (10m), so the 48h of monitoring
 * without a metrics gate are 288 passes.
 */
function measureRotations(): RotationFigures {
  const world = new SimulatedWorld(spec, T0, TARGETS);
  world.rolloutLooks = 2;
  world.settle();
  let passes = 0;
  const rotate = (n: number): void => {
    world.annotations['jwtrotation.io/rotate'] = `bench-${n}`;
    const before = world.status?.lastRotation?.startedAt;
    for (let i = 0; ; i++) {
      if (i >= PASS_LIMIT_PER_ROTATION) throw new Error(`rotation ${n} did not finish`);
      const decision = world.pass();
      passes++;
      const last = world.status?.lastRotation;
      if (world.status?.phase === 'Idle' && last?.startedAt !== before && last?.outcome === 'Completed')
        return;
      if (decision.actions.length === 0 && decision.requeueAfterMs > 0) world.now += decision.requeueAfterMs;
    }
  };
  for (let n = 0; n < 5; n++) rotate(-n - 1); // warm-up
  passes = 0;
  const started = process.hrtime.bigint();
  for (let n = 0; n < ROTATIONS; n++) rotate(n);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  sink += world.writes;
  return {
    rotations: ROTATIONS,
    passesPerRotation: passes / ROTATIONS,
    msPerRotation: ms / ROTATIONS,
    passesPerSecond: passes / (ms / 1000),
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fmt = (n: number, digits = 1): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

const scenarios: [string, DecideInput][] = [
  ['Idle (steady)', idleScenario()],
  ['DualKey, 3 targets rolling', dualKeyScenario()],
  ['Monitoring + gate reading', monitoringScenario()],
];

const cpu = cpus()[0]?.model ?? 'unknown CPU';
console.log(`decide() benchmark: node ${process.version}, ${cpus().length} × ${cpu}`);
console.log(`${fmt(PASSES, 0)} timed passes per scenario after ${fmt(WARMUP_PASSES, 0)} warm-up passes\n`);

const rows = scenarios.map(([name, input]) => {
  const f = measurePasses(input);
  return [name, fmt(f.passesPerSecond, 0), fmt(f.p50Us), fmt(f.p99Us)];
});
console.log(table(['scenario', 'passes/s', 'p50 µs', 'p99 µs'], rows));

const r = measureRotations();
console.log(
  `\nwhole rotations (SimulatedWorld, 3 targets, rotate request → Completed; ${fmt(r.rotations, 0)} rotations)\n`,
);
console.log(
  table(
    ['passes/rotation', 'ms/rotation', 'passes/s'],
    [[fmt(r.passesPerRotation), fmt(r.msPerRotation, 3), fmt(r.passesPerSecond, 0)]],
  ),
);
console.log(`\n(checksum ${sink})`);
