/**
 * What every command needs from the API server: the JwtRotation client, the namespace, the
 * errors and exit codes. client-node is loaded only once the arguments are understood, so that
 * --help and usage errors answer at once; commands reach it through `Api.k8s`.
 */
import type * as K8s from '@kubernetes/client-node';

import { GROUP, PLURAL, VERSION } from '../api/constants.ts';
import type { JwtRotation, JwtRotationList } from '../api/types.ts';
import type { OutputFormat } from './output.ts';

/** Documented in docs/kubectl-plugin.md. */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  timeout: 4,
  notConfirmed: 5,
  apiError: 6,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number,
  ) {
    super(message);
  }
}

/** The flags every command reads. */
export interface Options {
  namespace: string;
  allNamespaces: boolean;
  output: OutputFormat | undefined;
  yes: boolean;
  wait: boolean;
  timeoutMs: number;
  color: boolean;
}

export interface Api {
  k8s: typeof K8s;
  custom: K8s.CustomObjectsApi;
  namespace: string;
}

/** A command: its help text and what it does with an optional NAME. */
export interface Command {
  /** The line in the main help's command list, after the command's name. */
  summary: string;
  help: string;
  needsName: boolean;
  run(api: Api, name: string | undefined, o: Options): Promise<number>;
}

export function apiError(api: Api, error: unknown, what: string): CliError {
  if (error instanceof api.k8s.ApiException) {
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

export async function getOne(api: Api, name: string): Promise<JwtRotation> {
  try {
    return (await api.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: api.namespace,
      plural: PLURAL,
      name,
    })) as JwtRotation;
  } catch (error) {
    throw apiError(api, error, `jwtrotation "${name}" in namespace "${api.namespace}"`);
  }
}

export async function list(api: Api, all: boolean): Promise<JwtRotation[]> {
  const { custom, namespace } = api;
  try {
    const result = (
      all
        ? await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })
        : await custom.listNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace,
            plural: PLURAL,
          })
    ) as JwtRotationList;
    return result.items;
  } catch (error) {
    throw apiError(api, error, 'listing jwtrotations');
  }
}

/** Sets one annotation by merge patch, as the plugin's field manager. */
export async function annotate(api: Api, name: string, annotation: string, value: string): Promise<void> {
  const { k8s } = api;
  try {
    await api.custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: api.namespace,
        plural: PLURAL,
        name,
        body: { metadata: { annotations: { [annotation]: value } } },
        fieldManager: 'kubectl-jwtrotation',
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  } catch (error) {
    throw apiError(api, error, `annotating jwtrotation "${name}"`);
  }
}

/** The kubeconfig of --kubeconfig (else $KUBECONFIG, else ~/.kube/config), at --context if given. */
export function loadKubeConfig(
  k8s: typeof K8s,
  file: string | undefined,
  context: string | undefined,
): K8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  try {
    if (file !== undefined) kc.loadFromFile(file);
    else kc.loadFromDefault();
    if (context !== undefined) {
      if (kc.getContextObject(context) === null) throw new Error(`context "${context}" does not exist`);
      kc.setCurrentContext(context);
    }
  } catch (error) {
    throw new CliError(`kubeconfig: ${(error as Error).message}`, EXIT.usage);
  }
  return kc;
}
