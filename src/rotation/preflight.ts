/**
 * The runbook's pre-rotation checklist, run before a scheduled or requested rotation starts:
 * verify the current key, check the token expiration settings, make sure the targets are there and
 * available and the monitoring answers, keep a rollback copy, and respect the maintenance
 * windows. Each item lands in status.preflight; a Failed item blocks the start (Stalled, reason
 * PreflightFailed, an Event naming it when the set of failed items changes) and the operator looks
 * again later. An emergency rotation skips the checklist and records that it did.
 *
 * What the checks read is gathered by the shell: the key's shape (never the key), the targets'
 * rollouts, the backup's fingerprint, and a gate reading (gateDue asks for one while the checklist
 * waits for it or has failed).
 */
import { backupSecretName } from '../api/constants.ts';
import type { PreflightItem, PreflightResult, Trigger } from '../api/types.ts';
import type { Context } from './context.ts';
import { formatDuration } from './duration.ts';
import { normal, warning } from './events.ts';
import { saveOriginal } from './actions.ts';
import type { Action, EventSpec } from './model.ts';
import { startRotation } from './operations/start-rotation.ts';
import type { PhaseResult, StatusDraft } from './phase-result.ts';
import { ConditionReasons, EventReasons } from './reasons.ts';
import type { Request } from './requests.ts';
import { waitForBudget, type RolloutClaim } from './rollout-budget.ts';
import { currentWindow, nextRotationAt } from './schedule.ts';
import { toRfc3339 } from './time.ts';

/** The checklist's items, in the order they are reported. */
export const PREFLIGHT_ITEMS = [
  'CurrentKey',
  'TokenTTLs',
  'Targets',
  'Metrics',
  'RollbackCopy',
  'MaintenanceWindow',
] as const;
export type PreflightName = (typeof PREFLIGHT_ITEMS)[number];

function item(name: PreflightName, result: PreflightResult, message: string): PreflightItem {
  return { name, result, message };
}

function currentKey(ctx: Context): PreflightItem {
  const fp = ctx.fp.JWT_SECRET;
  if (fp === undefined) return item('CurrentKey', 'Failed', 'JWT_SECRET is missing or empty');
  const shape = ctx.secret.keyShapes?.JWT_SECRET;
  if (shape === undefined) return item('CurrentKey', 'Passed', `JWT_SECRET holds key ${fp}`);
  const described = `JWT_SECRET (key ${fp}, ${shape.bytes} bytes, ${shape.encoding})`;
  if (shape.problem !== undefined) {
    return item('CurrentKey', 'Failed', `${described}: ${shape.problem}; fix the Secret's value`);
  }
  if (shape.bytes === 0) return item('CurrentKey', 'Failed', `${described} is empty`);
  return item('CurrentKey', 'Passed', `${described} is well-formed`);
}

function tokenTtls(ctx: Context): PreflightItem {
  const { spec, secret } = ctx;
  if (secret.expiration !== spec.tokenTTL || secret.refreshExpiration !== spec.refreshTokenTTL) {
    return item(
      'TokenTTLs',
      'Failed',
      `the Secret holds JWT_EXPIRATION=${secret.expiration ?? '(none)'} and JWT_REFRESH_EXPIRATION=${secret.refreshExpiration ?? '(none)'}, ` +
        `the spec says ${spec.tokenTTL} and ${spec.refreshTokenTTL}; the operator writes them in Idle`,
    );
  }
  if (spec.tokenTtlMs > spec.refreshTokenTtlMs) {
    return item(
      'TokenTTLs',
      'Failed',
      `tokenTTL ${spec.tokenTTL} is longer than refreshTokenTTL ${spec.refreshTokenTTL}: refresh tokens would expire before the tokens they renew`,
    );
  }
  const longest = Math.max(spec.tokenTtlMs, spec.refreshTokenTtlMs);
  const monitoring = `monitoring ${formatDuration(spec.minMonitoringMs)} to ${formatDuration(spec.maxMonitoringMs)}`;
  const waits = spec.requireOldTokenExpiry || spec.onTimeout === 'CompleteAfterTokenExpiry';
  const note =
    spec.minMonitoringMs >= longest
      ? `${monitoring} outlasts every old-key token`
      : waits
        ? `${monitoring}; completion waits for old-key tokens to expire (up to ${formatDuration(longest)})`
        : `${monitoring} is shorter than the longest token lifetime (${formatDuration(longest)}): sessions of ` +
          'old-key tokens still valid at completion end then (monitoring.requireOldTokenExpiry is false)';
  return item(
    'TokenTTLs',
    'Passed',
    `tokenTTL ${spec.tokenTTL}, refreshTokenTTL ${spec.refreshTokenTTL}; ${note}`,
  );
}

function targets(ctx: Context): PreflightItem {
  if (ctx.targets.length === 0) return item('Targets', 'Passed', 'no targets to roll');
  const wrong = ctx.targets
    .filter((t) => !t.found || t.rollout !== 'Complete')
    .map((t) => `${t.kind} ${t.name}: ${t.found ? t.message : 'not found'}`);
  if (wrong.length > 0) {
    return item('Targets', 'Failed', `not every target is available: ${wrong.join('; ')}`);
  }
  return item('Targets', 'Passed', `${ctx.targets.length} target(s) exist and are fully available`);
}

function metrics(ctx: Context): PreflightItem {
  const settings = ctx.spec.prometheus;
  if (settings === undefined) return item('Metrics', 'Skipped', 'no metrics source configured');
  const observation = ctx.input.gate;
  if (observation === undefined) return item('Metrics', 'Pending', 'reading Prometheus');
  if (!observation.ok) {
    return item(
      'Metrics',
      'Failed',
      `Prometheus does not answer: ${observation.reason}: ${observation.message}`,
    );
  }
  const samples = observation.readings.samples;
  if (samples === undefined || !Number.isFinite(samples) || samples <= 0) {
    return item(
      'Metrics',
      'Failed',
      `Prometheus answers, but its queries return no data for the selector ${settings.selector || '(none)'} ` +
        `over ${settings.window}: the gate could not see a failure`,
    );
  }
  return item('Metrics', 'Passed', `Prometheus answers with ${samples} validations over ${settings.window}`);
}

/**
 * The rollback copy: before the rotation writes anything, the backup Secret must hold the key that
 * verifies the tokens issued so far (JWT_SECRET), as read back from the API. When it does not,
 * the checklist saves it in a pass of its own (only once every other item passes, so a blocked
 * checklist never replaces the copy an earlier rotation left for its retention) and checks the copy
 * on the next pass. A copy that still does not hold the key after it was saved fails the item:
 * something else writes that Secret, and the rotation waits, saving again at each retry.
 */
function rollbackCopy(ctx: Context, othersPassed: boolean): PreflightItem {
  const backup = backupSecretName(ctx.name);
  const fp = ctx.fp.JWT_SECRET ?? '';
  const stored = ctx.input.backup?.originalFingerprint;
  if (stored !== undefined && stored === fp) {
    return item('RollbackCopy', 'Passed', `backup Secret ${backup} holds the current key ${fp}`);
  }
  const holds = stored === undefined ? 'is missing' : `holds key ${stored}`;
  if (copyWasSaved(ctx)) {
    return item(
      'RollbackCopy',
      'Failed',
      `backup Secret ${backup} ${holds}, not the current key ${fp}, after the operator saved it: ` +
        'something else writes it; the copy is saved again at each retry',
    );
  }
  return item(
    'RollbackCopy',
    'Pending',
    othersPassed
      ? `saving the current key ${fp} to backup Secret ${backup}, which ${holds}`
      : `the current key ${fp} is saved to backup Secret ${backup}, which ${holds}, once the other items pass`,
  );
}

/** The items other than RollbackCopy pass, so nothing but the copy stands in the way. */
function othersPass(items: readonly PreflightItem[]): boolean {
  return items.every((i) => i.name === 'RollbackCopy' || i.result === 'Passed' || i.result === 'Skipped');
}

/** Whether the previous pass saved the copy: its checklist waited for the copy alone. */
function copyWasSaved(ctx: Context): boolean {
  const previous = ctx.prev.preflight ?? [];
  const copy = previous.find((i) => i.name === 'RollbackCopy');
  return (copy?.result === 'Pending' || copy?.result === 'Failed') && othersPass(previous);
}

/** The write that saves the copy, when the checklist waits for it alone. */
function copyToSave(ctx: Context, items: readonly PreflightItem[]): Action[] {
  const copy = items.find((i) => i.name === 'RollbackCopy');
  const fp = ctx.fp.JWT_SECRET;
  if (copy?.result === 'Passed' || !othersPass(items) || fp === undefined) return [];
  return [saveOriginal(ctx, fp)];
}

function maintenanceWindow(ctx: Context, trigger: Trigger): PreflightItem {
  if (ctx.spec.maintenanceWindows.length === 0) {
    return item('MaintenanceWindow', 'Skipped', 'no maintenance window configured');
  }
  const open = currentWindow(ctx);
  if (open !== undefined) {
    return item('MaintenanceWindow', 'Passed', `inside the maintenance window until ${toRfc3339(open.end)}`);
  }
  // Reached only by a request that does not wait (a scheduled rotation starts inside a window).
  return trigger === 'Manual'
    ? item(
        'MaintenanceWindow',
        'Skipped',
        'requested rotation outside the maintenance windows: it starts at once (spec.schedule.requestsWaitForWindow makes it wait)',
      )
    : item('MaintenanceWindow', 'Failed', 'outside the maintenance windows');
}

export function runChecklist(ctx: Context, trigger: Trigger): PreflightItem[] {
  const before = [currentKey(ctx), tokenTtls(ctx), targets(ctx), metrics(ctx)];
  const window = maintenanceWindow(ctx, trigger);
  return [...before, rollbackCopy(ctx, othersPass([...before, window])), window];
}

/** Look again this long after the checklist failed. */
export function preflightRetryMs(ctx: Context): number {
  return Math.min(60_000, Math.max(5_000, 6 * ctx.spec.pollIntervalMs));
}

const names = (items: readonly PreflightItem[] | undefined, result: PreflightResult): string[] =>
  (items ?? []).filter((i) => i.result === result).map((i) => i.name);

/**
 * Runs the checklist, then starts the rotation, prepares what it needs (the rollback copy, a gate
 * reading), or blocks. `idleStatus` is the Idle status to keep while not starting.
 */
export function startChecked(
  ctx: Context,
  trigger: Trigger,
  request: Request | undefined,
  idleStatus: StatusDraft,
): PhaseResult {
  const run: ChecklistRun = {
    ctx,
    items: runChecklist(ctx, trigger),
    what: trigger === 'Manual' ? 'requested rotation' : 'scheduled rotation',
    previouslyFailed: names(ctx.prev.preflight, 'Failed'),
    idleStatus,
  };
  const failed = run.items.filter((i) => i.result === 'Failed');
  if (failed.length > 0) return blocked(run, failed);
  const pending = run.items.filter((i) => i.result === 'Pending');
  if (pending.length > 0) return waiting(run, pending);
  const claim: RolloutClaim =
    trigger === 'Manual' ? { kind: 'Request' } : { kind: 'Scheduled', dueAt: nextRotationAt(ctx) };
  const queued = waitForBudget(ctx, claim, 'Idle', { ...idleStatus, preflight: run.items });
  if (queued) return queued;
  const started = startRotation(ctx, trigger, request);
  return {
    ...started,
    claim,
    status: { ...started.status, preflight: run.items },
    events: [...recovered(run, `the ${run.what} starts`), ...(started.events ?? [])],
  };
}

interface ChecklistRun {
  ctx: Context;
  items: PreflightItem[];
  /** "requested rotation" or "scheduled rotation", for messages. */
  what: string;
  previouslyFailed: string[];
  idleStatus: StatusDraft;
}

/** The Event that says a failed checklist fails no more, in the first pass where nothing fails. */
function recovered(run: ChecklistRun, outlook: string): EventSpec[] {
  if (run.previouslyFailed.length === 0) return [];
  return [normal(EventReasons.PreflightPassed, `Pre-rotation checklist passed: ${outlook}`)];
}

/** Nothing fails, something is under way (the rollback copy, a gate reading): look again at once. */
function waiting(run: ChecklistRun, pending: readonly PreflightItem[]): PhaseResult {
  const names = pending.map((i) => i.name).join(', ');
  return {
    phase: 'Idle',
    actions: copyToSave(run.ctx, run.items),
    status: { ...run.idleStatus, preflight: run.items },
    events: recovered(
      run,
      `the ${run.what} starts once ${names} ${pending.length === 1 ? 'is' : 'are'} done`,
    ),
    progress: `Pre-rotation checklist: ${pending.map((i) => `${i.name} (${i.message})`).join('; ')}`,
    requeueAfterMs: 0,
  };
}

/** Something fails: Stalled, an Event when what fails changes, and a retry later. */
function blocked(run: ChecklistRun, failed: readonly PreflightItem[]): PhaseResult {
  const { ctx } = run;
  const summary = failed.map((i) => `${i.name}: ${i.message}`).join('; ');
  const message = `The ${run.what} waits: pre-rotation checklist failed: ${summary}`;
  const turned = failed.map((i) => i.name).join(',') !== run.previouslyFailed.join(',');
  // The first failure is announced by the Stalled condition turning; a change in what fails, here.
  const stalledBefore = ctx.prev.conditions?.some(
    (c) => c.type === 'Stalled' && c.status === 'True' && c.reason === ConditionReasons.PreflightFailed,
  );
  return {
    phase: 'Idle',
    actions: copyToSave(ctx, run.items),
    status: { ...run.idleStatus, preflight: run.items },
    stalled: { reason: ConditionReasons.PreflightFailed, message },
    events: turned && stalledBefore === true ? [warning(EventReasons.PreflightFailed, message)] : [],
    requeueAfterMs: preflightRetryMs(ctx),
  };
}

/** An emergency rotation skips the checklist: every item Skipped, and an Event saying so. */
export function skippedChecklist(): { preflight: PreflightItem[]; event: EventSpec } {
  return {
    preflight: PREFLIGHT_ITEMS.map((name) =>
      item(name, 'Skipped', 'emergency rotation: the checklist is skipped'),
    ),
    event: warning(
      EventReasons.PreflightSkipped,
      'Emergency rotation: the pre-rotation checklist was skipped (current key, TTLs, targets, metrics, rollback copy, maintenance window)',
    ),
  };
}
