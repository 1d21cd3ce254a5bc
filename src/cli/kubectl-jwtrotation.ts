#!/usr/bin/env node
/**
 * kubectl-jwtrotation: a kubectl plugin for JwtRotations (`kubectl jwtrotation ...` once this
 * executable is on PATH under that name). It reads and annotates JwtRotations through the API,
 * never Secrets: everything it shows is a fingerprint.
 *
 * This file reads the command line and hands over to a command of ./commands; ./output.ts is
 * what they print with, ./api.ts how they reach the cluster.
 *
 * Exit codes (documented in docs/kubectl-plugin.md): 0 success; 1 the operation or the
 * JwtRotation ended badly (Failed, Stalled, Paused, or an outcome other than the one asked for);
 * 2 usage error; 3 not found; 4 --wait timed out; 5 not confirmed; 6 API error.
 */
import { parseArgs } from 'node:util';

import { parseDuration } from '../rotation/duration.ts';
import { CliError, EXIT, loadKubeConfig, type Api, type Command, type Options } from './api.ts';
import { emergency } from './commands/emergency.ts';
import { history } from './commands/history.ts';
import { rollback } from './commands/rollback.ts';
import { rotate } from './commands/rotate.ts';
import { status } from './commands/status.ts';
import { note, print } from './output.ts';

export { EXIT } from './api.ts';

const COMMANDS: Record<string, Command> = { status, rotate, rollback, emergency, history };

const MAIN_HELP = `kubectl jwtrotation: look at and drive JwtRotations (jwt-rotation-operator).

Usage:
  kubectl jwtrotation <command> [NAME] [flags]

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${`${name} ${c.needsName ? 'NAME' : '[NAME]'}`.padEnd(18)}${c.summary}`)
  .join('\n')}

Flags:
  -n, --namespace string    Namespace (default: the kubeconfig context's, else "default")
  -A, --all-namespaces      status: every namespace
      --context string      kubeconfig context to use
      --kubeconfig string   kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
  -o, --output string       json or yaml (machine-readable output)
  -y, --yes                 Do not ask for confirmation
      --wait                rotate, rollback, emergency: wait until the operation ends
      --timeout duration    With --wait: give up after this long (default 15m; e.g. 90s, 10m, 1h30m)
      --no-color            No colour even on a terminal (also: NO_COLOR set)
  -h, --help                Help for a command

Exit codes: 0 success, 1 the operation or the JwtRotation ended badly (Failed, Stalled, Paused,
rolled back), 2 usage error, 3 not found, 4 --wait timed out, 5 not confirmed, 6 API error.`;

const FLAGS = {
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
} as const;

type Parsed = ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: typeof FLAGS }>>;
type Values = Parsed['values'];

const usageHint = (message: string): number => {
  note(`error: ${message}\nSee 'kubectl jwtrotation --help'.`);
  return EXIT.usage;
};

export async function main(argv: string[]): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: FLAGS });
  } catch (error) {
    return usageHint((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [commandName, name, ...extra] = positionals;
  if (commandName === undefined || commandName === 'help') {
    const topic = commandName === 'help' && name !== undefined ? COMMANDS[name] : undefined;
    print(topic?.help ?? MAIN_HELP);
    return values.help === true || commandName === 'help' ? EXIT.ok : EXIT.usage;
  }
  const command = Object.hasOwn(COMMANDS, commandName) ? COMMANDS[commandName] : undefined;
  if (command === undefined) return usageHint(`unknown command "${commandName}"`);
  if (values.help === true) {
    print(command.help);
    return EXIT.ok;
  }
  try {
    checkUsage(commandName, command, name, extra, values);
    const { api, options } = await connect(values);
    return await command.run(api, name, options);
  } catch (error) {
    note(`error: ${error instanceof Error ? error.message : String(error)}`);
    return error instanceof CliError ? error.code : EXIT.apiError;
  }
}

function checkUsage(
  commandName: string,
  command: Command,
  name: string | undefined,
  extra: string[],
  values: Values,
): void {
  if (extra.length > 0) throw new CliError(`unexpected arguments: ${extra.join(' ')}`, EXIT.usage);
  if (values.output !== undefined && values.output !== 'json' && values.output !== 'yaml') {
    throw new CliError(`unsupported output format "${values.output}": use json or yaml`, EXIT.usage);
  }
  if (command.needsName && name === undefined)
    throw new CliError(`${commandName} needs the name of a JwtRotation`, EXIT.usage);
  if (values['all-namespaces'] === true && (commandName !== 'status' || name !== undefined)) {
    throw new CliError('-A/--all-namespaces works with "status" without a NAME only', EXIT.usage);
  }
}

/** --timeout as a Go duration, the grammar of kubectl's own --timeout flags. */
function timeoutMs(text: string): number {
  try {
    return parseDuration(text);
  } catch {
    throw new CliError(`invalid --timeout "${text}": use e.g. 90s, 10m or 1h30m`, EXIT.usage);
  }
}

async function connect(values: Values): Promise<{ api: Api; options: Options }> {
  const timeout = timeoutMs(values.timeout ?? '15m');
  // Loaded only now, so that --help and usage errors answer at once.
  const k8s = await import('@kubernetes/client-node');
  const kc = loadKubeConfig(k8s, values.kubeconfig, values.context);
  const namespace = values.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  const options: Options = {
    namespace,
    allNamespaces: values['all-namespaces'] === true,
    output: values.output as Options['output'],
    yes: values.yes === true,
    wait: values.wait === true,
    timeoutMs: timeout,
    color: process.stdout.isTTY && values['no-color'] !== true && (process.env.NO_COLOR ?? '') === '',
  };
  return { api: { k8s, custom: kc.makeApiClient(k8s.CustomObjectsApi), namespace }, options };
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
