/** `status [NAME]`: one JwtRotation in detail, or a line per JwtRotation. */
import { SPEC_DEFAULTS, type JwtRotation, type JwtRotationStatus } from '../../api/types.ts';
import { EXIT, getOne, list, type Api, type Command, type Options } from '../api.ts';
import {
  ago,
  condition,
  indentedTable,
  note,
  painter,
  print,
  printStructured,
  table,
  trouble,
  type Painter,
} from '../output.ts';

export const status: Command = {
  summary: `Phase, targets' rollouts, gate readings against thresholds, fingerprints,
                    and what the rotation waits for. Without NAME: one line per JwtRotation.`,
  help: `Show a JwtRotation's state: phase, conditions, each target's rollout, the gate's readings
against their thresholds, key fingerprints and what it waits for.

Usage:
  kubectl jwtrotation status [NAME] [-n NAMESPACE | -A] [-o json|yaml]

Without NAME, prints one line per JwtRotation. Exits 1 when a named JwtRotation is Failed,
Paused or Stalled.`,
  needsName: false,
  run: (api, name, o) => (name === undefined ? summary(api, o) : one(api, name, o)),
};

async function one(api: Api, name: string, o: Options): Promise<number> {
  const r = await getOne(api, name);
  if (o.output !== undefined) printStructured(r, o.output);
  else print(describe(r, painter(o.color)));
  return trouble(r) === undefined ? EXIT.ok : EXIT.failed;
}

async function summary(api: Api, o: Options): Promise<number> {
  const items = await list(api, o.allNamespaces);
  if (o.output !== undefined) printStructured({ apiVersion: 'v1', kind: 'List', items }, o.output);
  else if (items.length === 0)
    note(o.allNamespaces ? 'No JwtRotations found.' : `No JwtRotations found in namespace ${api.namespace}.`);
  else print(table(summaryRows(items, o.allNamespaces, painter(o.color))));
  return EXIT.ok;
}

function summaryRows(items: JwtRotation[], all: boolean, p: Painter): string[][] {
  return [
    [...(all ? ['NAMESPACE'] : []), 'NAME', 'PHASE', 'READY', 'WAITING FOR / PROBLEM', 'NEXT ROTATION'],
    ...items.map((r) => {
      const ready = condition(r, 'Ready');
      const problem = trouble(r);
      const waiting = ready?.status === 'True' ? '' : `${ready?.reason ?? ''} ${ready?.message ?? ''}`.trim();
      return [
        ...(all ? [r.metadata.namespace ?? ''] : []),
        r.metadata.name ?? '',
        problem !== undefined ? p.red(r.status?.phase ?? '-') : (r.status?.phase ?? '-'),
        ready?.status ?? '-',
        problem ?? waiting.slice(0, 80),
        r.status?.nextRotationAt ?? '-',
      ];
    }),
  ];
}

/** The whole picture of one JwtRotation, section by section. */
export function describe(r: JwtRotation, p: Painter): string {
  const title = `${p.bold('JwtRotation')} ${r.metadata.namespace ?? ''}/${r.metadata.name ?? ''}   Secret: ${r.spec.secretName}`;
  const s = r.status;
  if (s === undefined) {
    return [
      title,
      p.yellow('No status yet: the operator has not reconciled this JwtRotation (is it running?).'),
    ].join('\n');
  }
  return [
    title,
    ...phaseLines(r, s, p),
    '',
    ...conditionLines(s),
    '',
    ...keyLines(s),
    '',
    ...targetLines(s, p),
    ...memberLines(s, p),
    ...gateLines(r, s, p),
    ...issuerLines(r, s, p),
    '',
    ...scheduleLines(r, s),
  ].join('\n');
}

function phaseLines(r: JwtRotation, s: JwtRotationStatus, p: Painter): string[] {
  const problem = trouble(r);
  const phase = s.phase ?? '?';
  const phaseText =
    problem !== undefined ? p.red(phase) : phase === 'Idle' ? p.green('Idle') : p.yellow(phase);
  const trigger =
    s.trigger !== undefined && s.phase !== 'Idle'
      ? ` (trigger ${s.trigger}, started ${ago(s.rotationStartedAt)})`
      : '';
  const lines = [`Phase:        ${phaseText}${trigger}`];
  const generation = r.metadata.generation;
  if (generation !== undefined && s.observedGeneration !== generation) {
    lines.push(
      p.yellow(
        `Not observed: generation ${generation} is not reconciled yet (observed ${s.observedGeneration ?? 'none'}).`,
      ),
    );
  }
  const ready = condition(r, 'Ready');
  if (problem !== undefined) lines.push(`${p.red('Needs you:')}   ${problem}`);
  else if (ready !== undefined)
    lines.push(
      `${ready.status === 'True' ? 'Ready:       ' : 'Waiting for: '} ${ready.reason}: ${ready.message}`,
    );
  return lines;
}

function conditionLines(s: JwtRotationStatus): string[] {
  return [
    'Conditions:',
    indentedTable([
      ['TYPE', 'STATUS', 'REASON', 'SINCE', 'MESSAGE'],
      ...(s.conditions ?? []).map((c) => [c.type, c.status, c.reason, ago(c.lastTransitionTime), c.message]),
    ]),
  ];
}

function keyLines(s: JwtRotationStatus): string[] {
  const rows = [['current', s.currentKeyFingerprint ?? '-']];
  if (s.newKeyFingerprint !== undefined) rows.push(['new', s.newKeyFingerprint]);
  if (s.originalKeyFingerprint !== undefined) {
    const kept =
      s.originalKeyRetainedUntil !== undefined ? ` (kept until ${s.originalKeyRetainedUntil})` : '';
    rows.push(['original', `${s.originalKeyFingerprint}${kept}`]);
  }
  const lines = ['Keys (fingerprints):', indentedTable(rows)];
  if (s.rotationDate !== undefined && s.phase !== 'Idle')
    lines.push(`  signing with the new key from ${s.rotationDate} (${ago(s.rotationDate)})`);
  return lines;
}

function targetLines(s: JwtRotationStatus, p: Painter): string[] {
  const targets = s.targets ?? [];
  if (targets.length === 0) return ['Targets:', '  (none)'];
  return [
    'Targets:',
    indentedTable([
      ['KIND', 'NAME', 'ROLLED OUT', 'REVISION', 'MESSAGE'],
      ...targets.map((t) => [
        t.kind,
        t.name,
        t.ready === true ? p.green('yes') : p.yellow('no'),
        t.revision ?? '-',
        t.message ?? '',
      ]),
    ]),
  ];
}

/** spec.clusters: each member's phase, the keys its Secret holds and its pods by key. */
function memberLines(s: JwtRotationStatus, p: Painter): string[] {
  const members = s.members ?? [];
  if (members.length === 0) return [];
  const phase = (m: (typeof members)[number]): string =>
    m.phase === 'Rolled' ? p.green(m.phase) : m.phase === 'Rolling' ? p.yellow(m.phase) : p.red(m.phase);
  const pods = (m: (typeof members)[number]): string =>
    (m.podsByKey ?? []).map((k) => `${k.key}: ${k.verifying} verify, ${k.signing} sign`).join('; ') || '-';
  return [
    'Members:',
    indentedTable([
      ['NAME', 'PHASE', 'KEYS', 'PODS BY KEY', 'MESSAGE'],
      ...members.map((m) => [
        m.name,
        phase(m),
        (m.keys ?? []).join(',') || '-',
        pods(m),
        m.phase === 'Unreachable'
          ? `since ${m.unreachableSince ?? '?'}: ${m.message ?? ''}`
          : (m.message ?? ''),
      ]),
    ]),
  ];
}

function gateLines(r: JwtRotation, s: JwtRotationStatus, p: Painter): string[] {
  if (r.spec.monitoring?.prometheus === undefined) return [];
  const gate = s.gate;
  if (gate === undefined) return ['', 'Gate: not read yet (it is read during rotations).'];
  const message = gate.message !== undefined ? `: ${gate.message}` : '';
  return [
    '',
    `Gate (read ${ago(gate.checkedAt)}): health ${gate.health ?? '?'}, completion ${gate.completion ?? '?'}; ${gate.reason ?? ''}${message}`,
    indentedTable(gateRows(r, p)),
  ];
}

const fixed = (v: number | undefined, digits = 4): string =>
  v === undefined ? 'no data' : String(Number(v.toFixed(digits)));

function gateRows(r: JwtRotation, p: Painter): string[][] {
  const readings = r.status?.gate?.readings ?? {};
  const t = {
    ...SPEC_DEFAULTS.monitoring.prometheus.thresholds,
    ...(r.spec.monitoring?.prometheus?.thresholds ?? {}),
  };
  const verdict = (ok: boolean | undefined): string =>
    ok === undefined ? p.yellow('no data') : ok ? p.green('ok') : p.red('breached');
  const row = (name: string, value: number | undefined, op: '>=' | '<=', limit: number, digits?: number) => [
    name,
    fixed(value, digits),
    `${op} ${limit}`,
    verdict(value === undefined ? undefined : op === '>=' ? value >= limit : value <= limit),
  ];
  const { activeSessions, activeSessionsBaseline } = readings;
  const drop =
    activeSessions !== undefined && activeSessionsBaseline !== undefined && activeSessionsBaseline > 0
      ? Math.max(0, (activeSessionsBaseline - activeSessions) / activeSessionsBaseline)
      : undefined;
  const sessions = `activeSessions drop (${fixed(activeSessions, 0)} of ${fixed(activeSessionsBaseline, 0)})`;
  return [
    ['READING', 'VALUE', 'THRESHOLD', ''],
    row('newKeyShare (completion)', readings.newKeyShare, '>=', t.minNewKeyShare),
    row('authSuccessRate', readings.authSuccessRate, '>=', t.minAuthSuccessRate),
    row(
      'validationLatencyP99Seconds',
      readings.validationLatencyP99Seconds,
      '<=',
      t.maxValidationLatencyP99Seconds,
    ),
    row('errorRate', readings.errorRate, '<=', t.maxErrorRate),
    row(sessions, drop, '<=', t.maxActiveSessionDrop),
    row('samples', readings.samples, '>=', t.minSamples, 0),
  ];
}

/** With spec.issuer: what the server replicas serve, the switch's earliest time, and each relying party. */
function issuerLines(r: JwtRotation, s: JwtRotationStatus, p: Painter): string[] {
  const issuer = s.issuer;
  if (r.spec.issuer === undefined || issuer === undefined) return [];
  const servers = `${issuer.serversServingLatest ?? 0} of ${issuer.servers ?? 0} server replica(s) serve key set ${issuer.version ?? '-'}`;
  const lines = [
    '',
    `Issuer ${issuer.url ?? r.spec.issuer.url}: ${(issuer.servers ?? 0) === 0 ? p.red(servers) : servers}`,
  ];
  if (issuer.signingNotBefore !== undefined)
    lines.push(
      `  new key served by every replica since ${issuer.newKeyServedSince ?? '-'}; signing allowed from ${issuer.signingNotBefore} (${ago(issuer.signingNotBefore)})`,
    );
  const fetchers =
    issuer.fetchersWithNewKey === undefined ? '' : `, ${issuer.fetchersWithNewKey} with the new key`;
  lines.push(`  fetchers seen: ${issuer.fetchers ?? 0}${fetchers}`);
  const compromised = issuer.compromisedKey;
  if (compromised !== undefined)
    lines.push(
      p.red(
        `  compromised key ${compromised.fingerprint ?? '?'} may still be accepted by: ${(compromised.mayBeAcceptedBy ?? []).join(', ') || '(no relying party)'}; caches honouring max-age drop it by ${compromised.cachesExpireAt ?? 'unknown'}`,
      ),
    );
  const parties = issuer.relyingParties ?? [];
  if (parties.length > 0)
    lines.push(
      indentedTable([
        ['RELYING PARTY', 'ACCEPTS KEY', 'SINCE', 'LAST PROBE', 'MESSAGE'],
        ...parties.map((rp) => [
          rp.name,
          rp.acceptedKey ?? '-',
          ago(rp.acceptedAt),
          ago(rp.probedAt),
          rp.message ?? '',
        ]),
      ]),
    );
  return lines;
}

function scheduleLines(r: JwtRotation, s: JwtRotationStatus): string[] {
  const lines: string[] = [];
  if ((s.phase === 'DualKey' || s.phase === 'Monitoring') && s.monitoringStartedAt !== undefined) {
    const min = r.spec.monitoring?.minDuration ?? SPEC_DEFAULTS.monitoring.minDuration;
    const max = r.spec.monitoring?.maxDuration ?? SPEC_DEFAULTS.monitoring.maxDuration;
    lines.push(
      `Monitoring since ${s.monitoringStartedAt} (${ago(s.monitoringStartedAt)}); minDuration ${min}, maxDuration ${max}`,
    );
  }
  const next =
    s.nextRotationAt !== undefined
      ? `${s.nextRotationAt} (${ago(s.nextRotationAt)})`
      : r.spec.suspend === true
        ? 'none (suspended)'
        : '-';
  const last = s.lastRotation;
  const lastText =
    last === undefined
      ? '-'
      : `${last.trigger ?? '?'} ${last.outcome ?? '?'} (${last.reason ?? ''}) ${ago(last.finishedAt)}`;
  return [...lines, `Next rotation: ${next}`, `Last operation: ${lastText}`];
}
