#!/usr/bin/env node
/**
 * kubectl-jwtrotation: a kubectl plugin for JwtRotations (`kubectl jwtrotation ...` once this
 * executable is on PATH under that name). It reads and annotates JwtRotations through the API,
 * never Secrets: everything it shows is a fingerprint.
 *
 * Exit codes (documented in docs/kubectl-plugin.md): 0 success; 1 the operation or the
 * JwtRotation ended badly (Failed, Stalled, Paused, or an outcome other than the one asked for);
 * 2 usage error; 3 not found; 4 --wait timed out; 5 not confirmed; 6 API error.
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';

import type * as K8s from '@kubernetes/client-node';
import { stringify } from 'yaml';

import { Annotations, GROUP, PLURAL, VERSION } from '../api/constants.ts';
import type { Condition, JwtRotation, JwtRotationList, RotationRecord } from '../api/types.ts';

export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  timeout: 4,
  notConfirmed: 5,
  apiError: 6,
} as const;

const FIELD_MANAGER = 'kubectl-jwtrotation';

// Loaded after the arguments are parsed, so that --help and usage errors answer at once.
let k8s: typeof K8s;

const HELP: Record<string, string> = {
  main: `kubectl jwtrotation: look at and drive JwtRotations (jwt-rotation-operator).

Usage:
  kubectl jwtrotation <command> [NAME] [flags]

Commands:
  status [NAME]     Phase, targets' rollouts, gate readings against thresholds, fingerprints,
                    and what the rotation waits for. Without NAME: one line per JwtRotation.
  rotate NAME       Start a rotation now (or resume a Paused one).
  rollback NAME     Restore the original key and roll the targets (asks for confirmation).
  emergency NAME    Replace the key at once, without a dual-key phase: every session signed
                    with the current key ends (asks for confirmation).
  history NAME      The last finished operations, newest first.

Flags:
  -n, --namespace string    Namespace (default: the kubeconfig context's, else "default")
  -A, --all-namespaces      status: every namespace
      --context string      kubeconfig context to use
      --kubeconfig string   kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  -o, --output string       json or yaml (machine-readable output)
  -y, --yes                 Do not ask for confirmation
      --wait                rotate, rollback, emergency: wait until the operation ends
      --timeout duration    With --wait: give up after this long (default 15m; e.g. 90s, 10m, 2h)
      --no-color            No colour even on a terminal (also: NO_COLOR set)
  -h, --help                Help for a command

Exit codes: 0 success, 1 the operation or the JwtRotation ended badly (Failed, Stalled, Paused,
rolled back), 2 usage error, 3 not found, 4 --wait timed out, 5 not confirmed, 6 API error.`,
  status: `Show a JwtRotation's state: phase, conditions, each target's rollout, the gate's readings
against their thresholds, key fingerprints and what it waits for.

Usage:
  kubectl jwtrotation status [NAME] [-n NAMESPACE | -A] [-o json|yaml]

Without NAME, prints one line per JwtRotation. Exits 1 when a named JwtRotation is Failed,
Paused or Stalled.`,
  rotate: `Start a rotation now: sets the annotation ${Annotations.rotate} to a fresh value.
On a Paused JwtRotation, resumes it.

Usage:
  kubectl jwtrotation rotate NAME [-n NAMESPACE] [--wait [--timeout 15m]] [-o json|yaml]

With --wait, returns when the rotation has completed (exit 0) or ended otherwise (exit 1).`,
  rollback: `Restore the original key and roll the targets: sets the annotation ${Annotations.rollback}
to a fresh value. Tokens signed with the new key stop validating. Asks for confirmation unless --yes.

Usage:
  kubectl jwtrotation rollback NAME [-n NAMESPACE] [-y] [--wait [--timeout 15m]] [-o json|yaml]`,
  emergency: `Replace the key at once, without a dual-key phase (the runbook's emergency rotation): sets
the annotation ${Annotations.emergencyRotate} to a fresh value. Every token signed with the
current key stops validating and users sign in again; the replaced key is not kept, so this
cannot be rolled back. Asks for confirmation unless --yes.

Usage:
  kubectl jwtrotation emergency NAME [-n NAMESPACE] [-y] [--wait [--timeout 15m]] [-o json|yaml]`,
  history: `The last finished operations of a JwtRotation, newest first (status.history).

Usage:
  kubectl jwtrotation history NAME [-n NAMESPACE] [-o json|yaml]`,
};

class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

interface Options {
  namespace: string;
  allNamespaces: boolean;
  output: 'json' | 'yaml' | undefined;
  yes: boolean;
  wait: boolean;
  timeoutMs: number;
  color: boolean;
}

// --- output helpers ---------------------------------------------------------------------------

interface Painter {
  bold(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  dim(s: string): string;
}

function painter(color: boolean): Painter {
  const wrap =
    (code: string) =>
    (s: string): string =>
      color ? `\u001b[${code}m${s}\u001b[0m` : s;
  return { bold: wrap('1'), green: wrap('32'), yellow: wrap('33'), red: wrap('31'), dim: wrap('2') };
}

const ANSI_CODE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Columns padded to their widest cell; ANSI codes do not count towards the width. */
function table(rows: string[][]): string {
  const visible = (s: string): number => s.replace(ANSI_CODE, '').length;
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, visible(cell))));
  return rows
    .map((row) =>
      row
        .map((cell, i) =>
          i === row.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visible(cell) + 3),
        )
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

function ago(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now - t) / 1000);
  const abs = Math.abs(s);
  const text =
    abs < 120
      ? `${abs}s`
      : abs < 7200
        ? `${Math.round(abs / 60)}m`
        : abs < 172_800
          ? `${Math.round(abs / 3600)}h`
          : `${Math.round(abs / 86_400)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

const condition = (r: JwtRotation, type: string): Condition | undefined =>
  r.status?.conditions?.find((c) => c.type === type);

/** Why a JwtRotation needs a human, or undefined. */
function trouble(r: JwtRotation): string | undefined {
  const stalled = condition(r, 'Stalled');
  if (stalled?.status === 'True') return `Stalled: ${stalled.reason}: ${stalled.message}`;
  if (r.status?.phase === 'Failed' || r.status?.phase === 'Paused') return r.status.phase;
  return undefined;
}

function printStructured(value: unknown, output: 'json' | 'yaml'): void {
  process.stdout.write(
    output === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 }),
  );
}

// --- API --------------------------------------------------------------------------------------

interface Api {
  custom: K8s.CustomObjectsApi;
  namespace: string;
}

function apiError(error: unknown, what: string): CliError {
  if (error instanceof k8s.ApiException) {
    const code = error.code;
    let message = '';
    try {
      message = (JSON.parse(String(error.body)) as { message?: string }).message ?? '';
    } catch {
      message = String(error.body);
    }
    if (code === 404) return new CliError(`${what} not found`, EXIT.notFound);
    return new CliError(`${what}: ${message || `HTTP ${code}`}`, EXIT.apiError);
  }
  return new CliError(`${what}: ${error instanceof Error ? error.message : String(error)}`, EXIT.apiError);
}

async function getOne(api: Api, name: string): Promise<JwtRotation> {
  try {
    return (await api.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: api.namespace,
      plural: PLURAL,
      name,
    })) as JwtRotation;
  } catch (error) {
    throw apiError(error, `jwtrotation "${name}" in namespace "${api.namespace}"`);
  }
}

async function list(api: Api, all: boolean): Promise<JwtRotation[]> {
  try {
    const result = (
      all
        ? await api.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
        : await api.custom.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: api.namespace,
            plural: PLURAL,
          })
    ) as JwtRotationList;
    return result.items;
  } catch (error) {
    throw apiError(error, 'listing jwtrotations');
  }
}

// --- status -----------------------------------------------------------------------------------

const THRESHOLD_DEFAULTS = {
  minNewKeyShare: 0.95,
  minAuthSuccessRate: 0.995,
  maxValidationLatencyP99Seconds: 0.05,
  maxErrorRate: 0.001,
  maxActiveSessionDrop: 0.2,
  minSamples: 100,
};

function gateRows(r: JwtRotation, p: Painter): string[][] {
  const readings = r.status?.gate?.readings ?? {};
  const t = { ...THRESHOLD_DEFAULTS, ...(r.spec.monitoring?.prometheus?.thresholds ?? {}) };
  const fmt = (v: number | undefined, digits = 4): string =>
    v === undefined ? 'no data' : String(Number(v.toFixed(digits)));
  const verdict = (ok: boolean | undefined): string =>
    ok === undefined ? p.yellow('no data') : ok ? p.green('ok') : p.red('breached');
  const rows: string[][] = [['READING', 'VALUE', 'THRESHOLD', '']];
  const add = (
    name: string,
    value: number | undefined,
    op: '>=' | '<=',
    limit: number,
    digits?: number,
  ): void => {
    rows.push([
      name,
      fmt(value, digits),
      `${op} ${limit}`,
      verdict(value === undefined ? undefined : op === '>=' ? value >= limit : value <= limit),
    ]);
  };
  add('newKeyShare (completion)', readings.newKeyShare, '>=', t.minNewKeyShare);
  add('authSuccessRate', readings.authSuccessRate, '>=', t.minAuthSuccessRate);
  add(
    'validationLatencyP99Seconds',
    readings.validationLatencyP99Seconds,
    '<=',
    t.maxValidationLatencyP99Seconds,
  );
  add('errorRate', readings.errorRate, '<=', t.maxErrorRate);
  const { activeSessions, activeSessionsBaseline } = readings;
  const drop =
    activeSessions !== undefined && activeSessionsBaseline !== undefined && activeSessionsBaseline > 0
      ? Math.max(0, (activeSessionsBaseline - activeSessions) / activeSessionsBaseline)
      : undefined;
  add(
    `activeSessions drop (${fmt(activeSessions, 0)} of ${fmt(activeSessionsBaseline, 0)})`,
    drop,
    '<=',
    t.maxActiveSessionDrop,
  );
  add('samples', readings.samples, '>=', t.minSamples, 0);
  return rows;
}

function describe(r: JwtRotation, p: Painter): string {
  const s = r.status ?? {};
  const lines: string[] = [];
  const ns = r.metadata.namespace ?? '';
  const name = r.metadata.name ?? '';
  lines.push(`${p.bold('JwtRotation')} ${ns}/${name}   Secret: ${r.spec.secretName}`);
  if (r.status === undefined) {
    lines.push(p.yellow('No status yet: the operator has not reconciled this JwtRotation (is it running?).'));
    return lines.join('\n');
  }
  const ready = condition(r, 'Ready');
  const problem = trouble(r);
  const phaseText =
    problem !== undefined
      ? p.red(s.phase ?? '?')
      : s.phase === 'Idle'
        ? p.green('Idle')
        : p.yellow(s.phase ?? '?');
  lines.push(
    `Phase:        ${phaseText}${s.trigger !== undefined && s.phase !== 'Idle' ? ` (trigger ${s.trigger}, started ${ago(s.rotationStartedAt)})` : ''}`,
  );
  const generation = r.metadata.generation;
  if (generation !== undefined && s.observedGeneration !== generation) {
    lines.push(
      p.yellow(
        `Not observed: generation ${generation} is not reconciled yet (observed ${s.observedGeneration ?? 'none'}).`,
      ),
    );
  }
  if (problem !== undefined) lines.push(`${p.red('Needs you:')}   ${problem}`);
  else if (ready !== undefined)
    lines.push(
      `${ready.status === 'True' ? 'Ready:       ' : 'Waiting for: '} ${ready.reason}: ${ready.message}`,
    );
  lines.push('');
  lines.push('Conditions:');
  lines.push(
    table([
      ['  TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
      ...(s.conditions ?? []).map((c) => [
        `  ${c.type}`,
        c.status,
        c.reason,
        ago(c.lastTransitionTime),
        c.message,
      ]),
    ]),
  );
  lines.push('');
  lines.push('Keys (fingerprints):');
  lines.push(
    table([
      ['  current', s.currentKeyFingerprint ?? '-'],
      ...(s.newKeyFingerprint !== undefined ? [['  new', s.newKeyFingerprint]] : []),
      ...(s.originalKeyFingerprint !== undefined
        ? [
            [
              '  original',
              `${s.originalKeyFingerprint}${s.originalKeyRetainedUntil !== undefined ? ` (kept until ${s.originalKeyRetainedUntil})` : ''}`,
            ],
          ]
        : []),
    ]),
  );
  if (s.rotationDate !== undefined && s.phase !== 'Idle')
    lines.push(`  signing with the new key from ${s.rotationDate} (${ago(s.rotationDate)})`);
  lines.push('');
  lines.push('Targets:');
  const targets = s.targets ?? [];
  lines.push(
    targets.length === 0
      ? '  (none)'
      : table([
          ['  KIND', 'NAME', 'ROLLED OUT', 'REVISION', 'MESSAGE'],
          ...targets.map((t) => [
            `  ${t.kind}`,
            t.name,
            t.ready === true ? p.green('yes') : p.yellow('no'),
            t.revision ?? '-',
            t.message ?? '',
          ]),
        ]),
  );
  if (r.spec.monitoring?.prometheus !== undefined) {
    lines.push('');
    const gate = s.gate;
    if (gate === undefined) lines.push('Gate: not read yet (it is read during rotations).');
    else {
      lines.push(
        `Gate (read ${ago(gate.checkedAt)}): health ${gate.health ?? '?'}, completion ${gate.completion ?? '?'}; ${gate.reason ?? ''}${gate.message !== undefined ? `: ${gate.message}` : ''}`,
      );
      lines.push(
        table(
          gateRows(r, p).map((row, i) =>
            i === 0 ? row.map((c, j) => (j === 0 ? `  ${c}` : c)) : [`  ${row[0] ?? ''}`, ...row.slice(1)],
          ),
        ),
      );
    }
  }
  lines.push('');
  if (s.phase === 'DualKey' || s.phase === 'Monitoring') {
    const min = r.spec.monitoring?.minDuration;
    const max = r.spec.monitoring?.maxDuration;
    if (s.monitoringStartedAt !== undefined)
      lines.push(
        `Monitoring since ${s.monitoringStartedAt} (${ago(s.monitoringStartedAt)}); minDuration ${min ?? '48h'}, maxDuration ${max ?? '72h'}`,
      );
  }
  lines.push(
    `Next rotation: ${s.nextRotationAt !== undefined ? `${s.nextRotationAt} (${ago(s.nextRotationAt)})` : r.spec.suspend === true ? 'none (suspended)' : '-'}`,
  );
  const last = s.lastRotation;
  lines.push(
    `Last operation: ${last === undefined ? '-' : `${last.trigger ?? '?'} ${last.outcome ?? '?'} (${last.reason ?? ''}) ${ago(last.finishedAt)}`}`,
  );
  return lines.join('\n');
}

function summaryRows(items: JwtRotation[], all: boolean, p: Painter): string[][] {
  return [
    [...(all ? ['NAMESPACE'] : []), 'NAME', 'PHASE', 'READY', 'WAITING FOR / PROBLEM', 'NEXT ROTATION'],
    ...items.map((r) => {
      const ready = condition(r, 'Ready');
      const problem = trouble(r);
      return [
        ...(all ? [r.metadata.namespace ?? ''] : []),
        r.metadata.name ?? '',
        problem !== undefined ? p.red(r.status?.phase ?? '-') : (r.status?.phase ?? '-'),
        ready?.status ?? '-',
        problem ??
          (ready?.status === 'True' ? '' : `${ready?.reason ?? ''} ${ready?.message ?? ''}`.trim()).slice(
            0,
            80,
          ),
        r.status?.nextRotationAt ?? '-',
      ];
    }),
  ];
}

async function status(api: Api, name: string | undefined, o: Options): Promise<number> {
  const p = painter(o.color);
  if (name === undefined) {
    const items = await list(api, o.allNamespaces);
    if (o.output !== undefined) {
      printStructured({ apiVersion: 'v1', kind: 'List', items }, o.output);
      return EXIT.ok;
    }
    if (items.length === 0) {
      process.stderr.write(
        o.allNamespaces
          ? 'No JwtRotations found.\n'
          : `No JwtRotations found in namespace ${api.namespace}.\n`,
      );
      return EXIT.ok;
    }
    process.stdout.write(`${table(summaryRows(items, o.allNamespaces, p))}\n`);
    return EXIT.ok;
  }
  const r = await getOne(api, name);
  if (o.output !== undefined) printStructured(r, o.output);
  else process.stdout.write(`${describe(r, p)}\n`);
  return trouble(r) === undefined ? EXIT.ok : EXIT.failed;
}

// --- history ----------------------------------------------------------------------------------

async function history(api: Api, name: string, o: Options): Promise<number> {
  const r = await getOne(api, name);
  const records: RotationRecord[] = r.status?.history ?? [];
  if (o.output !== undefined) {
    printStructured(records, o.output);
    return EXIT.ok;
  }
  if (records.length === 0) {
    process.stderr.write(`No finished operations yet for ${api.namespace}/${name}.\n`);
    return EXIT.ok;
  }
  const p = painter(o.color);
  process.stdout.write(
    `${table([
      ['FINISHED', 'TRIGGER', 'OUTCOME', 'REASON', 'DURATION', 'PREVIOUS KEY', 'NEW KEY'],
      ...records.map((h) => {
        const took =
          h.startedAt !== undefined && h.finishedAt !== undefined
            ? `${Math.round((Date.parse(h.finishedAt) - Date.parse(h.startedAt)) / 1000)}s`
            : '-';
        const outcome = h.outcome === 'Completed' ? p.green(h.outcome) : p.yellow(h.outcome ?? '-');
        return [
          h.finishedAt ?? '-',
          h.trigger ?? '-',
          outcome,
          h.reason ?? '-',
          took,
          h.previousKeyFingerprint ?? '-',
          h.newKeyFingerprint ?? '-',
        ];
      }),
    ])}\n`,
  );
  return EXIT.ok;
}

// --- requests ---------------------------------------------------------------------------------

type RequestKind = 'rotate' | 'rollback' | 'emergency';

const REQUESTS: Record<
  RequestKind,
  {
    annotation: string;
    handled: 'rotate' | 'rollback' | 'emergencyRotate';
    destructive?: string;
    expected: string;
  }
> = {
  rotate: { annotation: Annotations.rotate, handled: 'rotate', expected: 'Completed' },
  rollback: {
    annotation: Annotations.rollback,
    handled: 'rollback',
    expected: 'RolledBack',
    destructive: 'This restores the original key: tokens signed with the new key stop validating.',
  },
  emergency: {
    annotation: Annotations.emergencyRotate,
    handled: 'emergencyRotate',
    expected: 'Completed',
    destructive:
      'This replaces the key at once: every token signed with the current key stops validating, users sign in again, and the replaced key is not kept (no rollback).',
  },
};

/** A value that has never been used: the time (for people reading it) and a random suffix. */
function freshValue(): string {
  return `${new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-')}-${randomBytes(3).toString('hex')}`;
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

async function request(api: Api, kind: RequestKind, name: string, o: Options): Promise<number> {
  const spec = REQUESTS[kind];
  const before = await getOne(api, name);
  if (spec.destructive !== undefined && !o.yes) {
    if (!process.stdin.isTTY) {
      throw new CliError(
        `${spec.destructive}\nRefusing without a terminal to confirm on: pass --yes.`,
        EXIT.notConfirmed,
      );
    }
    process.stderr.write(`${spec.destructive}\n`);
    if (!(await confirm(`${kind} jwtrotation ${api.namespace}/${name}?`))) {
      throw new CliError('not confirmed; nothing changed', EXIT.notConfirmed);
    }
  }
  const value = freshValue();
  try {
    await api.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: api.namespace,
        plural: PLURAL,
        name,
        body: { metadata: { annotations: { [spec.annotation]: value } } },
        fieldManager: FIELD_MANAGER,
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  } catch (error) {
    throw apiError(error, `annotating jwtrotation "${name}"`);
  }
  process.stderr.write(`jwtrotation.jwtrotation.io/${name} annotated ${spec.annotation}=${value}\n`);
  if (!o.wait) {
    if (o.output !== undefined)
      printStructured({ name, namespace: api.namespace, annotation: spec.annotation, value }, o.output);
    return EXIT.ok;
  }
  return waitForRequest(api, name, kind, value, before, o);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitForRequest(
  api: Api,
  name: string,
  kind: RequestKind,
  value: string,
  before: JwtRotation,
  o: Options,
): Promise<number> {
  const spec = REQUESTS[kind];
  const deadline = Date.now() + o.timeoutMs;
  const historyBefore = before.status?.history?.length ?? 0;
  const lastBefore = JSON.stringify(before.status?.lastRotation ?? null);
  let lastPhase = before.status?.phase;
  let r = before;
  for (;;) {
    r = await getOne(api, name);
    const s = r.status;
    if (s?.phase !== lastPhase) {
      process.stderr.write(`${new Date().toISOString()} phase ${s?.phase ?? '-'}\n`);
      lastPhase = s?.phase;
    }
    const handled = s?.handledRequests?.[spec.handled] === value;
    const finished =
      JSON.stringify(s?.lastRotation ?? null) !== lastBefore || (s?.history?.length ?? 0) !== historyBefore;
    const problem = trouble(r);
    if (handled && problem !== undefined) {
      process.stderr.write(`${name}: ${problem}\n`);
      break;
    }
    const settled = s?.phase === 'Idle' && s.observedGeneration === r.metadata.generation;
    if (handled && settled && (finished || condition(r, 'Ready')?.status === 'True')) break;
    if (Date.now() > deadline) {
      process.stderr.write(
        `timed out after ${o.timeoutMs / 1000}s waiting for the ${kind} of ${api.namespace}/${name} (phase ${s?.phase ?? '-'})\n`,
      );
      return EXIT.timeout;
    }
    await sleep(1000);
  }
  const last = r.status?.lastRotation;
  if (o.output !== undefined) printStructured(r, o.output);
  else
    process.stdout.write(
      `${name}: ${last?.trigger ?? '?'} ${last?.outcome ?? '?'} (${last?.reason ?? ''}), key ${r.status?.currentKeyFingerprint ?? '-'}\n`,
    );
  return trouble(r) === undefined && last?.outcome === spec.expected ? EXIT.ok : EXIT.failed;
}

// --- main -------------------------------------------------------------------------------------

function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (match === null) throw new CliError(`invalid --timeout "${text}": use e.g. 90s, 10m or 2h`, EXIT.usage);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] ?? 1000;
  return Number(match[1]) * unit;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        'all-namespaces': { type: 'boolean', short: 'A' },
        context: { type: 'string' },
        kubeconfig: { type: 'string' },
        output: { type: 'string', short: 'o' },
        yes: { type: 'boolean', short: 'y' },
        wait: { type: 'boolean' },
        timeout: { type: 'string' },
        'no-color': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\nSee 'kubectl jwtrotation --help'.\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, name, ...extra] = positionals;
  if (command === undefined || command === 'help') {
    const topic = command === 'help' ? (name ?? 'main') : 'main';
    process.stdout.write(`${HELP[topic] ?? HELP.main ?? ''}\n`);
    return values.help === true || command === 'help' ? EXIT.ok : EXIT.usage;
  }
  if (!(command in HELP) || command === 'main') {
    process.stderr.write(`error: unknown command "${command}"\nSee 'kubectl jwtrotation --help'.\n`);
    return EXIT.usage;
  }
  if (values.help === true) {
    process.stdout.write(`${HELP[command] ?? ''}\n`);
    return EXIT.ok;
  }
  try {
    if (extra.length > 0) throw new CliError(`unexpected arguments: ${extra.join(' ')}`, EXIT.usage);
    if (values.output !== undefined && values.output !== 'json' && values.output !== 'yaml') {
      throw new CliError(`unsupported output format "${values.output}": use json or yaml`, EXIT.usage);
    }
    if (command !== 'status' && name === undefined)
      throw new CliError(`${command} needs the name of a JwtRotation`, EXIT.usage);
    if (values['all-namespaces'] === true && (command !== 'status' || name !== undefined)) {
      throw new CliError('-A/--all-namespaces works with "status" without a NAME only', EXIT.usage);
    }
    k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    try {
      if (values.kubeconfig !== undefined) kc.loadFromFile(values.kubeconfig);
      else kc.loadFromDefault();
      if (values.context !== undefined) {
        if (kc.getContextObject(values.context) === null)
          throw new Error(`context "${values.context}" does not exist`);
        kc.setCurrentContext(values.context);
      }
    } catch (error) {
      throw new CliError(`kubeconfig: ${(error as Error).message}`, EXIT.usage);
    }
    const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
    const o: Options = {
      namespace,
      allNamespaces: values['all-namespaces'] === true,
      output: values.output,
      yes: values.yes === true,
      wait: values.wait === true,
      timeoutMs: parseDuration(values.timeout ?? '15m'),
      color: process.stdout.isTTY && values['no-color'] !== true && (process.env.NO_COLOR ?? '') === '',
    };
    const api: Api = { custom: kc.makeApiClient(k8s.CustomObjectsApi), namespace };
    switch (command) {
      case 'status':
        return await status(api, name, o);
      case 'history':
        return await history(api, name ?? '', o);
      default:
        return await request(api, command as RequestKind, name ?? '', o);
    }
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.code;
    }
    process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.apiError;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`error: ${String(error)}\n`);
    process.exitCode = EXIT.apiError;
  },
);
