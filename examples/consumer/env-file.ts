/**
 * `--env-file`: KEY=VALUE lines, re-read by the kit like a mounted Secret; lets tests simulate a rollout
 * without Kubernetes.
 */
import { readFile } from 'node:fs/promises';

import type { Vars } from './config.ts';

/**
 * Blank lines and `#` comments are skipped, `export ` is allowed. The value is everything after the first
 * `=`, untrimmed (a key is its exact text), without quotes processing.
 */
export async function readEnvFile(path: string): Promise<Vars> {
  const vars: Record<string, string> = {};
  for (const rawLine of (await readFile(path, 'utf8')).split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 1) continue;
    vars[
      line
        .slice(0, eq)
        .replace(/^\s*export\s+/, '')
        .trim()
    ] = line.slice(eq + 1);
  }
  return vars;
}
