/**
 * Whether a workload's rollout has finished, by the rules `kubectl rollout status` uses.
 * Works on plain objects (structurally typed) so it stays pure and testable.
 */
import { POD_TEMPLATE_REVISION_ANNOTATION } from '../api/constants.ts';
import type { TargetKind } from '../api/types.ts';
import type { TargetView } from './model.ts';

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface EnvSource {
  secretRef?: { name?: string } | undefined;
}
interface EnvVar {
  valueFrom?: { secretKeyRef?: { name?: string } | undefined } | undefined;
}
interface Container {
  env?: EnvVar[] | undefined;
  envFrom?: EnvSource[] | undefined;
}
interface Volume {
  secret?: { secretName?: string } | undefined;
  projected?: { sources?: { secret?: { name?: string } | undefined }[] | undefined } | undefined;
}

/** The fields of a Deployment, StatefulSet or DaemonSet this module reads. */
export interface WorkloadLike {
  metadata?: { name?: string | undefined; generation?: number | undefined } | undefined;
  spec?:
    | {
        replicas?: number | undefined;
        selector?:
          | {
              matchLabels?: Record<string, string> | undefined;
              matchExpressions?:
                { key: string; operator: string; values?: string[] | undefined }[] | undefined;
            }
          | undefined;
        template?:
          | {
              metadata?: { annotations?: Record<string, string> | undefined } | undefined;
              spec?:
                | {
                    containers?: Container[] | undefined;
                    initContainers?: Container[] | undefined;
                    volumes?: Volume[] | undefined;
                  }
                | undefined;
            }
          | undefined;
      }
    | undefined;
  status?:
    | {
        observedGeneration?: number | undefined;
        replicas?: number | undefined;
        updatedReplicas?: number | undefined;
        availableReplicas?: number | undefined;
        readyReplicas?: number | undefined;
        currentRevision?: string | undefined;
        updateRevision?: string | undefined;
        desiredNumberScheduled?: number | undefined;
        updatedNumberScheduled?: number | undefined;
        numberAvailable?: number | undefined;
        conditions?: Condition[] | undefined;
      }
    | undefined;
}

type Progress = Pick<TargetView, 'rollout' | 'message'>;

function deploymentProgress(w: WorkloadLike): Progress {
  const want = w.spec?.replicas ?? 1;
  const s = w.status ?? {};
  const deadline = s.conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  if (deadline)
    return { rollout: 'Stalled', message: `progress deadline exceeded: ${deadline.message ?? ''}`.trim() };
  const updated = s.updatedReplicas ?? 0;
  if (updated < want) return { rollout: 'Progressing', message: `${updated} of ${want} replicas updated` };
  if ((s.replicas ?? 0) > updated) {
    return {
      rollout: 'Progressing',
      message: `${(s.replicas ?? 0) - updated} old replicas pending termination`,
    };
  }
  if ((s.availableReplicas ?? 0) < updated) {
    return {
      rollout: 'Progressing',
      message: `${s.availableReplicas ?? 0} of ${updated} updated replicas available`,
    };
  }
  return { rollout: 'Complete', message: `${updated} of ${want} replicas updated and available` };
}

function statefulSetProgress(w: WorkloadLike): Progress {
  const want = w.spec?.replicas ?? 1;
  const s = w.status ?? {};
  const updated = s.updatedReplicas ?? 0;
  if (s.updateRevision !== undefined && s.currentRevision !== s.updateRevision) {
    return { rollout: 'Progressing', message: `${updated} of ${want} pods updated` };
  }
  if ((s.readyReplicas ?? 0) < want) {
    return { rollout: 'Progressing', message: `${s.readyReplicas ?? 0} of ${want} pods ready` };
  }
  return { rollout: 'Complete', message: `${want} pods updated and ready` };
}

function daemonSetProgress(w: WorkloadLike): Progress {
  const s = w.status ?? {};
  const want = s.desiredNumberScheduled ?? 0;
  if ((s.updatedNumberScheduled ?? 0) < want) {
    return { rollout: 'Progressing', message: `${s.updatedNumberScheduled ?? 0} of ${want} pods updated` };
  }
  if ((s.numberAvailable ?? 0) < want) {
    return { rollout: 'Progressing', message: `${s.numberAvailable ?? 0} of ${want} pods available` };
  }
  return { rollout: 'Complete', message: `${want} pods updated and available` };
}

const progressByKind: Record<TargetKind, (w: WorkloadLike) => Progress> = {
  Deployment: deploymentProgress,
  StatefulSet: statefulSetProgress,
  DaemonSet: daemonSetProgress,
};

/** Whether any container, init container or volume of the pod template reads the named Secret. */
export function referencesSecret(w: WorkloadLike, secretName: string): boolean {
  return secretsReferenced(w).includes(secretName);
}

/** Every Secret a workload's pod template reads: envFrom, env, secret volumes and projected sources. */
export function secretsReferenced(w: WorkloadLike): string[] {
  const pod = w.spec?.template?.spec;
  const names = new Set<string>();
  const add = (name: string | undefined): void => {
    if (name !== undefined && name !== '') names.add(name);
  };
  for (const c of [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])]) {
    for (const e of c.envFrom ?? []) add(e.secretRef?.name);
    for (const e of c.env ?? []) add(e.valueFrom?.secretKeyRef?.name);
  }
  for (const v of pod?.volumes ?? []) {
    add(v.secret?.secretName);
    for (const source of v.projected?.sources ?? []) add(source.secret?.name);
  }
  return [...names];
}

/** The TargetView of a workload read from the cluster, or of one that was not found. */
export function viewTarget(
  kind: TargetKind,
  name: string,
  workload: WorkloadLike | undefined,
  secretName: string,
): TargetView {
  if (workload === undefined) {
    return {
      kind,
      name,
      found: false,
      rollout: 'Progressing',
      message: `${kind} ${name} not found`,
      referencesSecret: false,
    };
  }
  const observed = workload.status?.observedGeneration ?? 0;
  const generation = workload.metadata?.generation ?? 0;
  const progress: Progress =
    observed < generation
      ? { rollout: 'Progressing', message: 'waiting for the controller to observe the new template' }
      : progressByKind[kind](workload);
  return {
    kind,
    name,
    found: true,
    revision: workload.spec?.template?.metadata?.annotations?.[POD_TEMPLATE_REVISION_ANNOTATION],
    ...progress,
    referencesSecret: referencesSecret(workload, secretName),
  };
}
