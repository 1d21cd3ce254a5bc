/** What one phase handler decides, before it becomes status, conditions and a Decision (./status.ts). */
import type { JwtRotationStatus, Phase } from '../api/types.ts';
import type { Action, EventSpec } from './model.ts';
import type { StalledReason } from './reasons.ts';
import type { Request } from './requests.ts';
import type { RolloutClaim } from './rollout-budget.ts';

/** A status under construction: any field may be set to undefined, which removes it. */
export type StatusDraft = { [K in keyof JwtRotationStatus]?: JwtRotationStatus[K] | undefined };

/** Why no progress can be made without a human or a change in the cluster. */
export interface Stall {
  reason: StalledReason;
  message: string;
}

export interface PhaseResult {
  phase: Phase;
  actions?: Action[];
  events?: EventSpec[];
  requeueAfterMs?: number;
  /** Fields that differ from the status rebuilt from the cluster; undefined removes a field. */
  status?: StatusDraft;
  /** Requests this pass answered (acted on, or refused with an Event). */
  handled?: Request[];
  stalled?: Stall | undefined;
  /** What the rotation is doing now, for the Ready and Reconciling messages. */
  progress?: string;
  /** See Decision.restsOnPods. */
  restsOnPods?: true;
  /** This pass starts a rolling step subject to the rollout budget, or waits for it (queued). */
  claim?: RolloutClaim;
  /** Waiting in the rollout budget's queue (./rollout-budget.ts). */
  queued?: true;
}
