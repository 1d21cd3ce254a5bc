/**
 * What rotate, rollback and emergency share: set a request annotation to a value never used
 * before (asking first when the request ends sessions), and with --wait, follow the operation
 * until the operator has handled that value and the JwtRotation settled or needs a human.
 */
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline/promises';

import type { HandledRequests, JwtRotation } from '../api/types.ts';
import { CliError, EXIT, annotate, getOne, type Api, type Options } from './api.ts';
import { condition, note, print, printStructured, trouble } from './output.ts';

export interface RequestKind {
  /** The command's name: rotate, rollback or emergency. */
  command: string;
  annotation: string;
  /** Where status.handledRequests records the value once the operator acted on it. */
  handled: keyof HandledRequests;
  /** The outcome (status.lastRotation.outcome) that means success. */
  expected: 'Completed' | 'RolledBack';
  /** What the request ends, said before asking to confirm; undefined: no confirmation. */
  destructive?: string;
}

export async function request(api: Api, kind: RequestKind, name: string, o: Options): Promise<number> {
  const before = await getOne(api, name);
  if (kind.destructive !== undefined && !o.yes) await confirmOrThrow(kind, api, name);
  const value = freshValue();
  await annotate(api, name, kind.annotation, value);
  note(`jwtrotation.jwtrotation.io/${name} annotated ${kind.annotation}=${value}`);
  if (o.wait) return waitForRequest(api, name, kind, value, before, o);
  if (o.output !== undefined)
    printStructured({ name, namespace: api.namespace, annotation: kind.annotation, value }, o.output);
  return EXIT.ok;
}

async function confirmOrThrow(kind: RequestKind, api: Api, name: string): Promise<void> {
  const warning = kind.destructive ?? '';
  if (!process.stdin.isTTY) {
    throw new CliError(
      `${warning}\nRefusing without a terminal to confirm on: pass --yes.`,
      EXIT.notConfirmed,
    );
  }
  note(warning);
  if (!(await confirm(`${kind.command} jwtrotation ${api.namespace}/${name}?`))) {
    throw new CliError('not confirmed; nothing changed', EXIT.notConfirmed);
  }
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

/** A value that has never been used: the time (for people reading it) and a random suffix. */
function freshValue(): string {
  const time = new Date()
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/:/g, '-');
  return `${time}-${randomBytes(3).toString('hex')}`;
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
  const deadline = Date.now() + o.timeoutMs;
  const ended = endedSince(before);
  let lastPhase = before.status?.phase;
  for (;;) {
    const r = await getOne(api, name);
    const s = r.status;
    if (s?.phase !== lastPhase) note(`${new Date().toISOString()} phase ${s?.phase ?? '-'}`);
    lastPhase = s?.phase;
    const handled = s?.handledRequests?.[kind.handled] === value;
    const problem = trouble(r);
    if (handled && problem !== undefined) note(`${name}: ${problem}`);
    const settled = s?.phase === 'Idle' && s.observedGeneration === r.metadata.generation;
    if ((handled && problem !== undefined) || (handled && settled && (ended(r) || isReady(r))))
      return report(r, name, kind, o);
    if (Date.now() > deadline) {
      note(
        `timed out after ${o.timeoutMs / 1000}s waiting for the ${kind.command} of ${api.namespace}/${name} (phase ${s?.phase ?? '-'})`,
      );
      return EXIT.timeout;
    }
    await sleep(1000);
  }
}

/** Whether an operation has finished since `before`: a new lastRotation or history entry. */
function endedSince(before: JwtRotation): (r: JwtRotation) => boolean {
  const historyBefore = before.status?.history?.length ?? 0;
  const lastBefore = JSON.stringify(before.status?.lastRotation ?? null);
  return (r) =>
    JSON.stringify(r.status?.lastRotation ?? null) !== lastBefore ||
    (r.status?.history?.length ?? 0) !== historyBefore;
}

const isReady = (r: JwtRotation): boolean => condition(r, 'Ready')?.status === 'True';

function report(r: JwtRotation, name: string, kind: RequestKind, o: Options): number {
  const last = r.status?.lastRotation;
  if (o.output !== undefined) printStructured(r, o.output);
  else
    print(
      `${name}: ${last?.trigger ?? '?'} ${last?.outcome ?? '?'} (${last?.reason ?? ''}), key ${r.status?.currentKeyFingerprint ?? '-'}`,
    );
  return trouble(r) === undefined && last?.outcome === kind.expected ? EXIT.ok : EXIT.failed;
}
