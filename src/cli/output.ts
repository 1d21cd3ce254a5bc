/**
 * The plugin's one output module: colours, aligned tables, relative times, machine-readable output,
 * and the reading of a JwtRotation's trouble that every command shares.
 */
import { stringify } from 'yaml';

import type { Condition, JwtRotation } from '../api/types.ts';

export type OutputFormat = 'json' | 'yaml';

export interface Painter {
  bold(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  dim(s: string): string;
}

export function painter(color: boolean): Painter {
  const wrap =
    (code: string) =>
    (s: string): string =>
      color ? `\u001b[${code}m${s}\u001b[0m` : s;
  return { bold: wrap('1'), green: wrap('32'), yellow: wrap('33'), red: wrap('31'), dim: wrap('2') };
}

const ANSI_CODE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Columns padded to their widest cell; ANSI codes do not count towards the width. */
export function table(rows: string[][]): string {
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

/** A table indented by two spaces under a heading. */
export function indentedTable(rows: string[][]): string {
  return table(rows.map(([first = '', ...rest]) => [`  ${first}`, ...rest]));
}

/** "5m ago" or "in 2h", as kubectl's AGE column reads. */
export function ago(iso: string | undefined, now = Date.now()): string {
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

export const condition = (r: JwtRotation, type: string): Condition | undefined =>
  r.status?.conditions?.find((c) => c.type === type);

/** Why a JwtRotation needs a human, or undefined. */
export function trouble(r: JwtRotation): string | undefined {
  const stalled = condition(r, 'Stalled');
  if (stalled?.status === 'True') return `Stalled: ${stalled.reason}: ${stalled.message}`;
  if (r.status?.phase === 'Failed' || r.status?.phase === 'Paused') return r.status.phase;
  return undefined;
}

export function printStructured(value: unknown, output: OutputFormat): void {
  process.stdout.write(
    output === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 }),
  );
}

/** A line on stdout. */
export function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** A line on stderr: progress and notes, kept apart from what a script parses. */
export function note(text: string): void {
  process.stderr.write(`${text}\n`);
}
