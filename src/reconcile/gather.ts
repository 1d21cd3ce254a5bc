/**
 * Gather: read what the cluster shows (and, when due, the metrics gate) and reduce it to the
 * decision core's input. Key material stays in `read`, for the executor only.
 */
import { POD_TEMPLATE_REVISION_ANNOTATION, backupSecretName } from '../api/constants.ts';
import { TARGET_KINDS, type JwtRotation, type RelyingPartySpec, type TargetKind } from '../api/types.ts';
import type { RequesterIdentity } from '../rotation/audit.ts';
import { gateDue } from '../rotation/gate-policy.ts';
import type {
  DecideInput,
  DeliveryObservation,
  GateObservation,
  IssuerObservation,
  PodView,
  ProbeResult,
} from '../rotation/model.ts';
import { issuerProbePlan, type ProbePlan } from '../rotation/issuer.ts';
import { issuerObservation } from './issuer-data.ts';
import { hubTargets } from '../rotation/hub.ts';
import { gatherMembers, type MembersRead } from './members.ts';
import { viewTarget, type WorkloadLike } from '../rotation/rollout.ts';
import { scheduleBase } from '../rotation/schedule.ts';
import type { PrometheusSettings } from '../rotation/spec.ts';
import { nextCronTime } from './cron.ts';
import type { ReadSecrets } from './execute.ts';
import type { ReconcilerDeps } from './ports.ts';
import { isAsymmetric, type KeyScheme } from '../platform/keys.ts';
import { refusedUrl } from '../platform/outbound.ts';
import { ReferenceReasons, readReference } from './references.ts';
import { jwksConfigMapName, keyScheme, secretKeyName, viewBackup, viewSecret } from './secret-data.ts';

export interface Gathered {
  input: DecideInput;
  read: ReadSecrets;
  /** With spec.clusters: the members as read on this pass (their targets are input.targets). */
  members?: MembersRead | undefined;
}

/** A workload as read, with its pods (undefined when it does not exist). */
export interface ObservedWorkload {
  workload: WorkloadLike | undefined;
  pods: PodView[] | undefined;
}

/** An unlisted workload that reads the Secret. */
export interface ObservedConsumer extends ObservedWorkload {
  kind: TargetKind;
  name: string;
}

/** What one pass read, reduced to the core's input. No I/O: the simulated world runs it too. */
export function decideInput(
  resource: JwtRotation,
  now: number,
  read: ReadSecrets,
  targets: readonly ObservedWorkload[],
  consumers: readonly ObservedConsumer[],
  gate: GateObservation | undefined,
  delivery?: DeliveryObservation,
  issuer?: IssuerObservation,
  requesterIdentity?: RequesterIdentity,
): DecideInput {
  const spec = resource.spec;
  const scheme = keyScheme(spec);
  const secret = read.secret ? viewSecret(read.secret, scheme) : undefined;
  const cron = spec.schedule?.cron;
  return {
    now,
    resource: { metadata: resource.metadata, spec, status: resource.status },
    secret,
    // The core says from when the schedule counts; the library says when the expression next matches.
    cron:
      cron === undefined || secret === undefined
        ? undefined
        : nextCronTime(
            cron,
            spec.schedule?.cronTimeZone ?? 'UTC',
            scheduleBase(secret, resource.status, now),
          ),
    backup: read.backup ? viewBackup(read.backup, scheme) : undefined,
    targets: (spec.targets ?? []).map((t, i) => ({
      ...viewTarget(t.kind, t.name, targets[i]?.workload, spec.secretName),
      pods: targets[i]?.pods,
    })),
    consumers: consumers.map((c) => ({
      ...viewTarget(c.kind, c.name, c.workload, spec.secretName),
      pods: c.pods,
    })),
    gate,
    delivery,
    issuer,
    requesterIdentity,
  };
}

export async function gather(resource: JwtRotation, deps: ReconcilerDeps): Promise<Gathered> {
  const namespace = resource.metadata.namespace ?? '';
  const name = resource.metadata.name ?? '';
  const spec = resource.spec;
  const now = deps.clock.now();
  const hub = (spec.clusters ?? []).length > 0;
  // A hub rolls the targets in its members, not in its own cluster.
  const listed = hub ? [] : (spec.targets ?? []);
  const observe = async (workload: WorkloadLike | undefined): Promise<ObservedWorkload> => ({
    workload,
    pods:
      workload === undefined
        ? undefined
        : await deps.workloads.listPods(namespace, workload, POD_TEMPLATE_REVISION_ANNOTATION),
  });
  const [secret, backup, jwks, targets, consumers] = await Promise.all([
    deps.secrets.get(namespace, spec.secretName),
    deps.secrets.get(namespace, backupSecretName(name)),
    isAsymmetric(keyScheme(spec).algorithm)
      ? deps.configMaps.get(namespace, jwksConfigMapName(spec))
      : Promise.resolve(undefined),
    Promise.all(listed.map(async (t) => observe(await deps.workloads.get(namespace, t.kind, t.name)))),
    unlistedConsumers(namespace, spec.secretName, listed, deps).then((found) =>
      Promise.all(found.map(async (c) => ({ ...c, ...(await observe(c.workload)) }))),
    ),
  ]);
  const settings = gateDue({ now, resource });
  const gate = settings === undefined ? undefined : await readGate(resource, settings, deps);
  const keySet = spec.issuer === undefined ? undefined : await deps.keySets?.get(namespace, name);
  const read = { secret, backup, jwks, keySet };
  const delivery = deps.notifier?.outcome(namespace, name);
  const issuer = spec.issuer === undefined ? undefined : await observeIssuer(resource, read, now, deps);
  const input = decideInput(
    resource,
    now,
    read,
    targets,
    consumers,
    gate,
    delivery,
    issuer,
    deps.requesterIdentity,
  );
  if (!hub) return { input, read };
  const members = await gatherMembers(resource, deps, now);
  return {
    input: { ...input, targets: hubTargets(spec.targets ?? [], members.input, input.secret) },
    // The published keys keep the keys the members hold (./execute.ts).
    read: { ...read, members: members.input },
    members,
  };
}

/**
 * The issuer as the core sees it: the PublishedKeySet and the live server replicas' reports, and,
 * when issuerProbePlan says some are due, the relying parties' answers to a probe token signed
 * with the key they must accept (the one place a pass signs anything with a Secret's key).
 */
async function observeIssuer(
  resource: JwtRotation,
  read: ReadSecrets,
  now: number,
  deps: ReconcilerDeps,
): Promise<IssuerObservation> {
  const observation = issuerObservation(read.keySet, (await deps.keySets?.liveServers()) ?? new Set());
  const scheme = keyScheme(resource.spec);
  const secret = read.secret === undefined ? undefined : viewSecret(read.secret, scheme);
  const plan = issuerProbePlan({ now, resource, secret, issuer: observation });
  const pem = plan === undefined ? undefined : read.secret?.values[secretKeyName(scheme, plan.slot)];
  if (plan === undefined || pem === undefined || deps.prober === undefined || deps.probeSigner === undefined)
    return observation;
  const probes = await Promise.all(
    plan.relyingParties.map((rp) => probeRelyingParty(rp, plan, pem, scheme, deps)),
  );
  return { ...observation, probes };
}

/**
 * One probe: a token signed with the key the relying party must accept, presented to it. The token
 * goes only where the operator may send requests (OUTBOUND_HOSTS), like the Prometheus queries and
 * the notifications: a tenant's spec cannot aim it, or the operator, anywhere else.
 */
export async function probeRelyingParty(
  rp: RelyingPartySpec,
  plan: ProbePlan,
  pem: string,
  scheme: KeyScheme,
  deps: Pick<ReconcilerDeps, 'clock' | 'outbound' | 'prober' | 'probeSigner'>,
): Promise<ProbeResult> {
  const base = { name: rp.name, fingerprint: plan.fingerprint };
  const failed = (message: string): ProbeResult => ({
    ...base,
    at: deps.clock.now(),
    outcome: 'Error',
    message,
  });
  const refused =
    rp.http === undefined ? undefined : refusedUrl(deps.outbound, rp.http.url, 'relying-party', true);
  if (refused !== undefined) return failed(`relying party URL ${refused}; no probe was sent`);
  if (deps.prober === undefined || deps.probeSigner === undefined) return failed('no prober configured');
  try {
    const token = await deps.probeSigner(pem, scheme, {
      issuer: plan.issuer.url,
      subject: plan.issuer.probeSubject,
      audience: rp.audience ?? plan.issuer.url,
      extra: rp.claims ?? {},
    });
    const answer = await deps.prober.probe(rp, token);
    return { ...base, at: deps.clock.now(), ...answer };
  } catch (error) {
    // The signer's and prober's errors never carry the key or the token (ports.ts).
    return failed(error instanceof Error ? error.message : String(error));
  }
}

/** Workloads in the namespace whose pod template reads the Secret and that spec.targets does not list. */
async function unlistedConsumers(
  namespace: string,
  secretName: string,
  listed: readonly { kind: TargetKind; name: string }[],
  deps: ReconcilerDeps,
): Promise<{ kind: TargetKind; name: string; workload: WorkloadLike }[]> {
  const all = await Promise.all(
    TARGET_KINDS.map(async (kind) =>
      (await deps.workloads.listReferencing(namespace, kind, secretName)).map((workload) => ({
        kind,
        name: workload.metadata?.name ?? '',
        workload,
      })),
    ),
  );
  return all.flat().filter((c) => !listed.some((t) => t.kind === c.kind && t.name === c.name));
}

async function readGate(
  resource: JwtRotation,
  settings: PrometheusSettings,
  deps: ReconcilerDeps,
): Promise<GateObservation> {
  const namespace = resource.metadata.namespace ?? '';
  const referrer = { name: resource.metadata.name ?? '', secretName: resource.spec.secretName };
  // The URL first: a refused one means no Secret is read for it at all.
  const refused = refusedUrl(deps.outbound, settings.url, 'prometheus', true);
  if (refused !== undefined) {
    return {
      ok: false,
      reason: ReferenceReasons.UrlNotAllowed,
      message: `monitoring.prometheus.url ${refused}; Prometheus was not asked`,
    };
  }
  let token: string | undefined;
  const ref = settings.bearerTokenSecretRef;
  if (ref !== undefined) {
    const read = await readReference(deps.secrets, namespace, referrer, ref, 'the Prometheus bearer token');
    if (!read.ok) return read;
    token = read.value;
    if (token === undefined) {
      return {
        ok: false,
        reason: 'BearerTokenMissing',
        message: `Secret ${ref.name} has no key ${ref.key} for the Prometheus bearer token`,
      };
    }
  }
  let ca: string | undefined;
  const caRef = settings.tls?.caSecretRef;
  if (caRef !== undefined) {
    const read = await readReference(deps.secrets, namespace, referrer, caRef, "Prometheus's CA bundle");
    if (!read.ok) return read;
    ca = read.value;
    if (ca === undefined || !ca.includes('-----BEGIN CERTIFICATE-----')) {
      return {
        ok: false,
        reason: 'CaBundleMissing',
        message: `Secret ${caRef.name} has no PEM certificate under key ${caRef.key} for Prometheus's CA bundle`,
      };
    }
  }
  return deps.gate.read(settings, { bearerToken: token, ca });
}
