/**
 * An in-memory stand-in for the cluster, for driving the pure core through whole rotations
 * in unit tests: it applies actions the way the executor does, rolls targets after a set
 * number of looks, and can drop a pass's remaining writes to simulate a crash.
 */
import { BACKUP_ORIGINAL_KEY } from '../../src/api/constants.ts';
import type { JwtRotationSpec, JwtRotationStatus } from '../../src/api/types.ts';
import { fingerprint } from '../../src/platform/fingerprint.ts';
import { decide } from '../../src/rotation/decide.ts';
import type {
  Action,
  Decision,
  GateObservation,
  KeySlot,
  SecretView,
  TargetView,
  ValueSource,
} from '../../src/rotation/model.ts';

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

export class SimulatedWorld {
  now: number;
  annotations: Record<string, string> = {};
  status: JwtRotationStatus | undefined;
  secret: { values: Record<string, string>; annotations: Record<string, string>; rv: number } | undefined;
  backup: { original: string; keyCreatedAt: string } | undefined;
  targets: SimTarget[];
  gate: GateObservation | undefined;
  rolloutLooks = 1;
  /** Looks an old pod lingers after its workload reports the rollout complete (terminating pods). */
  oldPodLooks = 0;
  /** Workloads that read the Secret without being listed in spec.targets (see addConsumer). */
  unlisted: SimTarget[] = [];
  events: { reason: string; message: string }[] = [];
  keysMade = 0;
  writes = 0;
  generation = 1;

  constructor(
    public spec: JwtRotationSpec,
    start: number,
    targetNames: string[] = ['api'],
  ) {
    this.now = start;
    this.targets = targetNames.map((name) => ({ name, pending: 0, podsLeaving: 0 }));
  }

  secretView(): SecretView | undefined {
    if (!this.secret) return undefined;
    const fingerprints: Partial<Record<KeySlot, string>> = {};
    for (const slot of ['JWT_SECRET', 'JWT_SECRET_CURRENT', 'JWT_SECRET_NEW'] as const) {
      const v = this.secret.values[slot];
      if (v) fingerprints[slot] = fingerprint(v);
    }
    return {
      resourceVersion: String(this.secret.rv),
      fingerprints,
      rotationDate: this.secret.values.JWT_SECRET_ROTATION_DATE,
      expiration: this.secret.values.JWT_EXPIRATION,
      refreshExpiration: this.secret.values.JWT_REFRESH_EXPIRATION,
      annotations: { ...this.secret.annotations },
    };
  }

  /** A workload that reads the Secret but is not in spec.targets. */
  addConsumer(name: string): void {
    this.unlisted.push({ name, pending: 0, podsLeaving: 0 });
  }

  consumerViews(): TargetView[] {
    return this.views(this.unlisted);
  }

  targetViews(): TargetView[] {
    return this.views(this.targets);
  }

  private views(targets: SimTarget[]): TargetView[] {
    return targets.map((t) => ({
      kind: 'Deployment',
      name: t.name,
      found: true,
      revision: t.revision,
      rollout: t.pending > 0 ? 'Progressing' : 'Complete',
      message: t.pending > 0 ? 'rolling' : 'done',
      referencesSecret: true,
      pods: [
        { name: `${t.name}-new`, revision: t.pending > 0 ? t.podRevision : t.revision },
        ...(t.podsLeaving > 0 || t.pending > 0 ? [{ name: `${t.name}-old`, revision: t.podRevision }] : []),
      ],
    }));
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
    const decision = decide({
      now: this.now,
      resource: {
        metadata: {
          name: 'api',
          namespace: 'default',
          uid: 'u',
          generation: this.generation,
          annotations: { ...this.annotations },
        },
        spec: this.spec,
        status: this.status,
      },
      secret: this.secretView(),
      backup: this.backup
        ? { originalFingerprint: fingerprint(this.backup.original), keyCreatedAt: this.backup.keyCreatedAt }
        : undefined,
      targets: this.targetViews(),
      consumers: this.consumerViews(),
      gate: this.gate,
    });
    let budget = crashAfter;
    for (const action of decision.actions) {
      if (budget-- <= 0) return decision;
      this.apply(action);
    }
    if (budget-- <= 0) return decision;
    if (JSON.stringify(this.status) !== JSON.stringify(decision.status)) this.writes++;
    this.status = decision.status;
    this.events.push(...decision.events);
    return decision;
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

  private resolve(source: ValueSource): string {
    if ('literal' in source) return source.literal;
    if ('generate' in source) return `key-${++this.keysMade}-${'x'.repeat(source.generate)}`;
    if ('copy' in source) {
      const v = this.secret?.values[source.copy];
      if (!v) throw new Error(`copy of missing ${source.copy}`);
      return v;
    }
    if (!this.backup) throw new Error('no backup');
    return this.backup.original;
  }

  private apply(action: Action): void {
    this.writes++;
    switch (action.type) {
      case 'CreateSecret':
        this.secret = {
          values: Object.fromEntries(Object.entries(action.data).map(([k, v]) => [k, this.resolve(v)])),
          annotations: { ...action.annotations },
          rv: 1,
        };
        return;
      case 'UpdateSecret': {
        if (!this.secret || String(this.secret.rv) !== action.resourceVersion) throw new Error('conflict');
        const set = Object.entries(action.set).map(([k, v]) => [k, this.resolve(v)] as const);
        for (const k of action.remove) delete this.secret.values[k];
        for (const [k, v] of set) this.secret.values[k] = v;
        for (const [k, v] of Object.entries(action.annotations)) {
          if (v === null) delete this.secret.annotations[k];
          else this.secret.annotations[k] = v;
        }
        this.secret.rv++;
        return;
      }
      case 'SaveOriginal': {
        const key = this.secret?.values.JWT_SECRET;
        if (!key || fingerprint(key) !== action.fingerprint) throw new Error('fingerprint mismatch');
        this.backup = { original: key, keyCreatedAt: action.keyCreatedAt };
        return;
      }
      case 'DeleteBackup':
        this.backup = undefined;
        return;
      case 'RollTargets':
        for (const t of action.targets) {
          const target = [...this.targets, ...this.unlisted].find((x) => x.name === t.name);
          if (target) {
            target.revision = action.revision;
            target.pending = this.rolloutLooks;
          }
        }
        return;
    }
  }

  backupOriginal(): string | undefined {
    return this.backup?.original;
  }

  static readonly ORIGINAL_KEY = BACKUP_ORIGINAL_KEY;
}
