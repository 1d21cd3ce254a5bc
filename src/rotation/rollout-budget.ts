/**
 * The operator-wide budget on rotations in their rolling steps (issue 27): at most N JwtRotations
 * have targets rolling at once. The budget is state across JwtRotations, so the shell keeps it
 * (src/reconcile/rollout-budget.ts); the core decides one JwtRotation from its input, which carries
 * the shell's answer for this object:
 * - every decision says whether this JwtRotation is in a rolling step (`Decision.rolling`: it rolls
 *   targets, or waits for their rollouts in DualKey, Completing or RollingBack), which is how the
 *   shell knows who holds a place;
 * - a pass that would roll targets subject to the budget (a rotation's start, the signing switch's
 *   roll, completion) says so in `Decision.rolloutClaim`;
 * - when the budget has no room for it, the shell decides again with `DecideInput.rolloutBudget`
 *   set, and the step becomes a wait in the queue, with its place in the Ready and Reconciling
 *   conditions (reason WaitingForRolloutBudget).
 * An emergency rotation and a rollback never wait: they make no claim (the shell still counts them).
 */
import type { Phase } from '../api/types.ts';
import type { Context } from './context.ts';
import { normal } from './events.ts';
import type { PhaseResult, StatusDraft } from './phase-result.ts';
import { ConditionReasons, EventReasons } from './reasons.ts';
import { toRfc3339 } from './time.ts';

/**
 * What the claim is for, in the order the queue serves them: the next roll of a rotation in flight
 * (the signing switch, completion), a user's request, the schedule.
 */
export const CLAIM_KINDS = ['InFlight', 'Request', 'Scheduled'] as const;
export type ClaimKind = (typeof CLAIM_KINDS)[number];

/** A pass that starts (or would start) a rolling step subject to the budget. */
export interface RolloutClaim {
  kind: ClaimKind;
  /** When the step became due (a scheduled rotation's nextRotationAt); the shell orders by it. */
  dueAt?: number | undefined;
}

/** The shell's answer when the budget has no room for this JwtRotation's claim now. */
export interface RolloutBudgetObservation {
  admitted: false;
  /** Its place in the queue, from 1, as counted at `countedAt`. */
  position: number;
  /** How many waited then. */
  waiting: number;
  /** Rotations in a rolling step then, and the limit. */
  rolling: number;
  limit: number;
  /**
   * When the place was counted (epoch ms): the shell counts it again only when it has halved or
   * doubled since (src/reconcile/rollout-budget.ts), so a long queue costs few status writes.
   */
  countedAt: number;
}

/**
 * A wait in the queue instead of starting, when the shell said there is no room; undefined when
 * the step may start. A user's request is told with an Event when it starts waiting.
 */
export function waitForBudget(
  ctx: Context,
  claim: RolloutClaim,
  phase: Phase,
  status: StatusDraft | undefined,
): PhaseResult | undefined {
  const budget = ctx.input.rolloutBudget;
  if (budget === undefined) return undefined;
  const what = { InFlight: 'next roll', Request: 'requested rotation', Scheduled: 'scheduled rotation' }[
    claim.kind
  ];
  const message =
    `The ${what === 'next roll' ? `${what} of the rotation in flight` : what} waits for the rollout budget: place ${budget.position} of ${budget.waiting} in the queue ` +
    `(${budget.rolling} of at most ${budget.limit} rotations are rolling their targets; counted at ${toRfc3339(budget.countedAt)}, again when the place halves)`;
  const waitedBefore = ctx.prev.conditions?.some(
    (c) => c.type === 'Reconciling' && c.reason === ConditionReasons.WaitingForRolloutBudget,
  );
  return {
    phase,
    ...(status === undefined ? {} : { status }),
    progress: message,
    queued: true,
    claim,
    events:
      claim.kind === 'Request' && waitedBefore !== true ? [normal(EventReasons.RotationQueued, message)] : [],
    // The shell wakes the head of the queue when a rotation leaves its rolling steps; this is the backstop.
    requeueAfterMs: QUEUED_RECHECK_MS,
  };
}

/** A queued JwtRotation looks again at least this often, should a wake from the shell be missed. */
export const QUEUED_RECHECK_MS = 5 * 60_000;
