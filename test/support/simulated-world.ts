/**
 * An in-memory cluster for driving whole rotations in unit tests, through the production code
 * of a pass: `decideInput` (gather's reduction of what was read to the core's input, with the
 * real Secret views and target views), `decide`, `plannedWrites` (the executor, resolving every
 * value into the Secret data with the real `applyToSecret`), and the reconciler's status
 * comparison. Only the ports are in memory: a Secret store keyed by name that checks
 * resourceVersions as the API server does, and Deployments that finish a rollout after a set
 * number of looks. A pass can crash after any number of writes.
 *
 * It stays synchronous (the executor's planning is; only the ports are async in production), so
 * tests step it pass by pass.
 */
import {
  BACKUP_ORIGINAL_KEY,
  POD_TEMPLATE_REVISION_ANNOTATION,
  backupSecretName,
} from '../../src/api/constants.ts';
import type {
  JwtRotation,
  JwtRotationSpec,
  JwtRotationStatus,
  ManagedFieldsEntry,
} from '../../src/api/types.ts';
import { plannedWrites, type ReadSecrets, type Write } from '../../src/reconcile/execute.ts';
import { decideInput, type ObservedWorkload } from '../../src/reconcile/gather.ts';
import { ConflictError, type SecretRecord } from '../../src/reconcile/ports.ts';
import { canonical } from '../../src/platform/canonical.ts';
import { keyScheme, parseJwks, viewSecret, type Jwks } from '../../src/reconcile/secret-data.ts';
import { JWKS_DATA_KEY } from '../../src/api/constants.ts';
import { generateKey, isAsymmetric, type KeyScheme } from '../../src/platform/keys.ts';
import { decide } from '../../src/rotation/decide.ts';
import { issuerObservation } from '../../src/reconcile/issuer-data.ts';
import { issuerProbePlan } from '../../src/rotation/issuer.ts';
import type { IssuerSim } from './issuer-sim.ts';
import type { RequesterIdentity } from '../../src/rotation/audit.ts';
import type {
  DecideInput,
  Decision,
  DeliveryObservation,
  GateObservation,
  IssuerObservation,
  Notice,
  PodView,
  SecretView,
  TargetView,
} from '../../src/rotation/model.ts';
import type { WorkloadLike } from '../../src/rotation/rollout.ts';

interface SimTarget {
  name: string;
  revision?: string;
  /** Looks left until the rollout of the current revision completes. */
  pending: number;
  /** Revision the pods were started from (the template's, once its rollout completed and old pods are gone). */
  podRevision?: string | undefined;
  /** Looks left, after the rollout completed, until the last old pod is gone. */
  podsLeaving: number;
}

/** A stored Secret: what the SecretStore port hands out, with values a test may change. */
interface StoredSecret extends SecretRecord {
  values: Record<string, string>;
  annotations: Record<string, string>;
  owner?: string;
}

const NAMESPACE = 'default';
const NAME = 'api';

export class SimulatedWorld {
  now: number;
  annotations: Record<string, string> = {};
  /** metadata.managedFields: who set which annotation, for the audit. */
  managedFields: ManagedFieldsEntry[] = [];
  status: JwtRotationStatus | undefined;
  targets: SimTarget[];
  gate: GateObservation | undefined;
  rolloutLooks = 1;
  /** Looks an old pod lingers after its workload reports the rollout complete (terminating pods). */
  oldPodLooks = 0;
  /** Workloads that read the Secret without being listed in spec.targets (see addConsumer). */
  unlisted: SimTarget[] = [];
  events: { reason: string; message: string }[] = [];
  /** Notices decided: those first recorded by every pass whose status was written. */
  notices: Notice[] = [];
  /** Where "who asked" comes from, as REQUESTER_IDENTITY sets it. */
  requesterIdentity: RequesterIdentity = 'field-manager';
  /** What the notifier reports on the next pass, if a test plays one. */
  delivery: DeliveryObservation | undefined;
  keysMade = 0;
  /** Writes to the cluster: one per action performed, plus status writes that changed it. */
  writes = 0;
  generation = 1;
  /** The JWKS ConfigMap's data (asymmetric algorithms), as the last write left it. */
  jwksData: Record<string, string> | undefined;
  /** Called after each write is performed, so a test can check an invariant between any two writes. */
  afterWrite: ((write: Write) => void) | undefined;
  /** With spec.issuer: the PublishedKeySet, its server replicas and remote verifiers (./issuer-sim.ts). */
  issuer: IssuerSim | undefined;
  /** The decision core; a test may wrap it to show what breaks without a rule (a mutation). */
  decide: (input: DecideInput) => Decision = decide;
  /** The Secrets, by name: the workload Secret and the backup Secret. */
  private readonly secrets = new Map<string, StoredSecret>();
  private resourceVersions = 0;

  constructor(
    public spec: JwtRotationSpec,
    start: number,
    targetNames: string[] = ['api'],
  ) {
    this.now = start;
    this.targets = targetNames.map((name) => ({ name, pending: 0, podsLeaving: 0 }));
  }

  /** A Deployment that reads the Secret but is not in spec.targets. */
  addConsumer(name: string): void {
    this.unlisted.push({ name, pending: 0, podsLeaving: 0 });
  }

  /** The listed targets as the core sees them on the next pass, pods included. */
  targetViews(): TargetView[] {
    return this.input().targets;
  }

  /** The unlisted consumers as the core sees them on the next pass, pods included. */
  consumerViews(): TargetView[] {
    return this.input().consumers;
  }

  /** The workload Secret. */
  get secret(): StoredSecret | undefined {
    return this.secrets.get(this.spec.secretName);
  }

  /** The backup Secret that keeps the original key. */
  get backup(): StoredSecret | undefined {
    return this.secrets.get(backupSecretName(NAME));
  }

  secretView(): SecretView | undefined {
    const secret = this.secret;
    return secret ? viewSecret(secret, keyScheme(this.spec)) : undefined;
  }

  /** The published JWK Set (empty when none was written). */
  jwks(): Jwks {
    return parseJwks(this.jwksData?.[JWKS_DATA_KEY]);
  }

  backupOriginal(): string | undefined {
    return this.backup?.values[BACKUP_ORIGINAL_KEY];
  }

  /** One reconcile pass; with crashAfter = n, only the first n writes happen (status is the last write). */
  pass(crashAfter = Number.POSITIVE_INFINITY): Decision {
    for (const t of [...this.targets, ...this.unlisted]) {
      if (t.pending > 0) {
        t.pending -= 1;
        if (t.pending === 0) t.podsLeaving = this.oldPodLooks;
      } else if (t.podsLeaving > 0) {
        t.podsLeaving -= 1;
      }
      if (t.pending === 0 && t.podsLeaving === 0) t.podRevision = t.revision;
    }
    this.issuer?.advance(this.now);
    const resource = this.resource();
    const read = this.read();
    const decision = this.decide(this.input(resource, read, true));
    let budget = crashAfter;
    // Real key pairs for asymmetric algorithms (the JWKS is built from them); cheap fakes for HMAC.
    const newKey = (bytes: number, scheme: KeyScheme): string => {
      ++this.keysMade;
      return isAsymmetric(scheme.algorithm)
        ? generateKey(bytes, scheme)
        : `key-${this.keysMade}-${'x'.repeat(bytes)}`;
    };
    // A crash right after a write: the next write is not even planned (a key it would make is never made).
    if (budget <= 0) return decision;
    for (const write of plannedWrites(decision.actions, resource, read, newKey, this.now)) {
      this.perform(write);
      this.afterWrite?.(write);
      if (--budget <= 0) return decision;
    }
    if (budget-- <= 0) return decision;
    if (canonical(this.status ?? {}) !== canonical(decision.status)) this.writes++;
    this.status = decision.status;
    this.events.push(...decision.events);
    this.notices.push(...decision.notices);
    return decision;
  }

  /**
   * The input the next pass hands to decide(), read from the world as it stands; with `probe`, the
   * relying parties due are probed, as gather does (a probe may make an on-demand verifier fetch).
   */
  input(resource = this.resource(), read = this.read(), probe = false): DecideInput {
    const targets = (this.spec.targets ?? []).map((t) => this.observe(this.find(t.kind, t.name)));
    const consumers = this.unlisted.map((t) => ({
      kind: 'Deployment' as const,
      name: t.name,
      ...this.observe(t),
    }));
    return decideInput(
      resource,
      this.now,
      read,
      targets,
      consumers,
      this.gate,
      this.delivery,
      this.issuerSeen(resource, read, probe),
      this.requesterIdentity,
    );
  }

  private issuerSeen(
    resource: JwtRotation,
    read: ReadSecrets,
    probe: boolean,
  ): IssuerObservation | undefined {
    const sim = this.issuer;
    if (sim === undefined || resource.spec.issuer === undefined) return undefined;
    const observation = issuerObservation(read.keySet, sim.live());
    if (!probe) return observation;
    const secret = read.secret === undefined ? undefined : viewSecret(read.secret, keyScheme(this.spec));
    const plan = issuerProbePlan({ now: this.now, resource, secret, issuer: observation });
    if (plan === undefined) return observation;
    return {
      ...observation,
      probes: plan.relyingParties.map((rp) => sim.probe(rp.name, plan.fingerprint, this.now)),
    };
  }

  private read(): ReadSecrets {
    return {
      secret: this.snapshot(this.secret),
      backup: this.snapshot(this.backup),
      jwks:
        this.jwksData === undefined
          ? undefined
          : { resourceVersion: String(this.resourceVersions), data: { ...this.jwksData } },
      keySet: this.issuer?.record(),
    };
  }

  /** Passes until a pass has nothing to do now (no actions, a requeue in the future). */
  settle(limit = 50): Decision {
    for (let i = 0; i < limit; i++) {
      const decision = this.pass();
      if (decision.actions.length === 0 && decision.requeueAfterMs > 0) {
        return decision;
      }
    }
    throw new Error(`no steady state after ${limit} passes; phase ${this.status?.phase ?? 'none'}`);
  }

  private resource(): JwtRotation {
    return {
      apiVersion: 'jwtrotation.io/v1alpha1',
      kind: 'JwtRotation',
      metadata: {
        name: NAME,
        namespace: NAMESPACE,
        uid: 'u',
        generation: this.generation,
        annotations: { ...this.annotations },
        ...(this.managedFields.length === 0 ? {} : { managedFields: this.managedFields }),
      },
      spec: this.spec,
      ...(this.status === undefined ? {} : { status: this.status }),
    };
  }

  /** What a read returns: a copy, so later writes do not change what this pass saw. */
  private snapshot(secret: StoredSecret | undefined): StoredSecret | undefined {
    return secret && { ...secret, values: { ...secret.values }, annotations: { ...secret.annotations } };
  }

  private find(kind: string, name: string): SimTarget | undefined {
    return kind === 'Deployment'
      ? [...this.targets, ...this.unlisted].find((t) => t.name === name)
      : undefined;
  }

  /**
   * A Deployment of one replica that reads the Secret through envFrom, as the cluster would show it,
   * with its pods: during a rollout the pod runs the previous revision; after it, an old pod may
   * linger (oldPodLooks) beside the new one.
   */
  private observe(target: SimTarget | undefined): ObservedWorkload {
    if (target === undefined) return { workload: undefined, pods: undefined };
    const done = target.pending > 0 ? 0 : 1;
    const workload: WorkloadLike = {
      metadata: { name: target.name, generation: 1 },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: target.name } },
        template: {
          metadata: {
            annotations:
              target.revision === undefined ? {} : { [POD_TEMPLATE_REVISION_ANNOTATION]: target.revision },
          },
          spec: { containers: [{ envFrom: [{ secretRef: { name: this.spec.secretName } }] }] },
        },
      },
      status: { observedGeneration: 1, replicas: 1, updatedReplicas: done, availableReplicas: done },
    };
    const lingering = target.podsLeaving > 0 || target.pending > 0;
    const pods: PodView[] = [
      { name: `${target.name}-new`, revision: target.pending > 0 ? target.podRevision : target.revision },
      ...(lingering ? [{ name: `${target.name}-old`, revision: target.podRevision }] : []),
    ];
    return { workload, pods };
  }

  /** The in-memory ports: each write as the API server would take it. */
  private perform(write: Write): void {
    this.writes++;
    const rv = (): string => String(++this.resourceVersions);
    switch (write.type) {
      case 'CreateSecret':
        if (this.secrets.has(write.name)) throw new ConflictError(`Secret ${write.name} exists`);
        this.secrets.set(write.name, { resourceVersion: rv(), ...structuredClone(write.content) });
        return;
      case 'ReplaceSecret': {
        const name = this.spec.secretName;
        const stored = this.secrets.get(name);
        if (stored?.resourceVersion !== write.current.resourceVersion)
          throw new ConflictError(`Secret ${name} changed since it was read`);
        this.secrets.set(name, { resourceVersion: rv(), ...structuredClone(write.content) });
        return;
      }
      case 'WriteBackup': {
        const stored = this.secrets.get(write.name);
        if (stored?.resourceVersion !== write.existing?.resourceVersion)
          throw new ConflictError(`Secret ${write.name} changed since it was read`);
        this.secrets.set(write.name, {
          resourceVersion: rv(),
          ...structuredClone(write.content),
          owner: write.owner.uid,
        });
        return;
      }
      case 'DeleteSecret':
        this.secrets.delete(write.name);
        return;
      case 'WriteJwks':
        this.jwksData = { ...this.jwksData, ...write.data };
        rv();
        return;
      case 'WriteKeySet':
        this.issuer?.write(structuredClone(write.spec), this.now);
        rv();
        return;
      case 'RollTargets':
        for (const t of write.targets) {
          const target = [...this.targets, ...this.unlisted].find((x) => x.name === t.name);
          if (target) {
            target.revision = write.revision;
            target.pending = this.rolloutLooks;
          }
        }
        return;
    }
  }
}
