/**
 * Whether a workload's rollout has finished, by the rules `kubectl rollout status` uses.
 * Works on plain objects (structurally typed) so it stays pure and testable.
 */
import { POD_TEMPLATE_REVISION_ANNOTATION } from '../api/constants.ts';
import type { TargetKind } from '../api/types.ts';
import type { TargetView } from './model.ts';
import { ConditionReasons } from './reasons.ts';

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
        /** Deployment: a paused Deployment does not roll out a new template. */
        paused?: boolean | undefined;
        /** StatefulSet and DaemonSet: OnDelete replaces a pod only when it is deleted; a partition holds pods back. */
        updateStrategy?:
          | { type?: string | undefined; rollingUpdate?: { partition?: number | undefined } | undefined }
          | undefined;
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

type Progress = Pick<TargetView, 'rollout' | 'message' | 'stall' | 'updateOnDelete'>;

/** The workload's kind and name, as kubectl names it: deployment/api. */
function ref(kind: string, w: WorkloadLike): string {
  return `${kind.toLowerCase()}/${w.metadata?.name ?? ''}`;
}

/** A rollout that cannot finish without a human, or the operator when spec.rollout.replaceOnDeletePods allows. */
function onDeleteStall(kind: 'StatefulSet' | 'DaemonSet', w: WorkloadLike, progress: string): Progress {
  return {
    rollout: 'Stalled',
    updateOnDelete: true,
    message: `${progress}; ${kind} ${w.metadata?.name ?? ''} has updateStrategy OnDelete: its pods take the new template only when they are deleted`,
    stall: {
      reason: ConditionReasons.TargetUpdateOnDelete,
      fix: `delete its pods that run the earlier revision, one at a time, waiting for each replacement to be ready (kubectl delete pod NAME), or set spec.rollout.replaceOnDeletePods: true to let the operator evict them one at a time within their PodDisruptionBudgets`,
    },
  };
}

function deploymentProgress(w: WorkloadLike): Progress {
  const want = w.spec?.replicas ?? 1;
  const s = w.status ?? {};
  const deadline = s.conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  if (deadline)
    return {
      rollout: 'Stalled',
      message: `progress deadline exceeded: ${deadline.message ?? ''}`.trim(),
      stall: {
        reason: ConditionReasons.RolloutStalled,
        fix: `find why its new pods do not become available (kubectl describe ${ref('Deployment', w)}; kubectl get pods) and fix that; the rotation goes on when the rollout completes (or roll back with the jwtrotation.io/rollback annotation)`,
      },
    };
  const updated = s.updatedReplicas ?? 0;
  if (w.spec?.paused === true && (updated < want || (s.replicas ?? 0) > updated)) {
    return {
      rollout: 'Stalled',
      message: `${updated} of ${want} replicas updated; the Deployment is paused (spec.paused: true) and does not roll out its new template`,
      stall: {
        reason: ConditionReasons.TargetPaused,
        fix: `resume it (kubectl rollout resume ${ref('Deployment', w)})`,
      },
    };
  }
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
  // OnDelete: the controller never moves currentRevision on (it completes only rolling updates), so
  // a StatefulSet whose pods were all made again from the new template counts by its updated pods.
  if (w.spec?.updateStrategy?.type === 'OnDelete' && s.updateRevision !== undefined && updated < want) {
    return onDeleteStall('StatefulSet', w, `${updated} of ${want} pods updated`);
  }
  if (
    w.spec?.updateStrategy?.type !== 'OnDelete' &&
    s.updateRevision !== undefined &&
    s.currentRevision !== s.updateRevision
  ) {
    const progress = `${updated} of ${want} pods updated`;
    const partition = w.spec?.updateStrategy?.rollingUpdate?.partition ?? 0;
    if (partition > 0) {
      return {
        rollout: 'Stalled',
        message: `${progress}; updateStrategy.rollingUpdate.partition is ${partition}: pods with an ordinal below ${partition} keep the earlier template`,
        stall: {
          reason: ConditionReasons.TargetPartitioned,
          fix: `lower the partition to 0 (kubectl patch ${ref('StatefulSet', w)} -p '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')`,
        },
      };
    }
    return { rollout: 'Progressing', message: progress };
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
    const progress = `${s.updatedNumberScheduled ?? 0} of ${want} pods updated`;
    if (w.spec?.updateStrategy?.type === 'OnDelete') return onDeleteStall('DaemonSet', w, progress);
    return { rollout: 'Progressing', message: progress };
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
    desiredPods:
      kind === 'DaemonSet' ? (workload.status?.desiredNumberScheduled ?? 0) : (workload.spec?.replicas ?? 1),
    referencesSecret: referencesSecret(workload, secretName),
  };
}
