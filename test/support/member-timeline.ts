/**
 * Where each member cluster of a multi-cluster rotation stands (docs/multi-cluster.md), as the tests see
 * it from outside: the shape of the member's copy of the Secret, and whether its Deployment `api` runs
 * that Secret's revision everywhere. Shared by test/integration/multi-cluster.test.ts and
 * test/e2e/multi-cluster-real.test.ts.
 */
import { NOT_SCHEDULED } from '../../src/rotation/revision.ts';
import { secretValues, type Clients } from './jwt-rotations.ts';

export const REVISION = 'jwtrotation.io/secret-revision';

/** A member as the timeline reads it: a name and admin clients of its API server. */
export interface MemberView {
  name: string;
  c: Clients;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A Secret's shape, as the phases write it. */
export function shapeOf(values: Record<string, string> | undefined, original: string): string {
  if (values?.JWT_SECRET === undefined) return 'empty';
  if (values.JWT_SECRET_NEW !== undefined)
    return values.JWT_SECRET_ROTATION_DATE === NOT_SCHEDULED ? 'published' : 'switched';
  return values.JWT_SECRET === original ? 'original' : 'new-key-alone';
}

/** Every pod of the member's Deployment `api` runs the template's revision, and the rollout is done. */
export async function rolled(c: Clients, ns: string): Promise<boolean> {
  const d = await c.apps.readNamespacedDeployment({ namespace: ns, name: 'api' });
  const revision = d.spec?.template.metadata?.annotations?.[REVISION];
  if (revision === undefined) return false;
  const s = d.status ?? {};
  const want = d.spec?.replicas ?? 1;
  if ((s.observedGeneration ?? 0) < (d.metadata?.generation ?? 0) || s.updatedReplicas !== want) return false;
  if (s.availableReplicas !== want || s.replicas !== want) return false;
  const pods = await c.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=api' });
  return pods.items.every((p) => p.metadata?.annotations?.[REVISION] === revision);
}

/**
 * Records, every 250 ms, when each member's Secret first showed each shape and when its Deployment
 * first ran that Secret's revision everywhere; a member that does not answer is skipped that round.
 */
export class Timeline {
  readonly seen = new Map<string, { secretAt: number; rolledAt?: number }>();
  private stopped = false;
  private readonly t0 = Date.now();
  constructor(
    private readonly members: readonly MemberView[],
    private readonly ns: string,
    private readonly original: string,
  ) {
    void this.loop();
  }
  private async loop(): Promise<void> {
    while (!this.stopped) {
      await Promise.all(this.members.map((m) => this.look(m).catch(() => undefined)));
      await sleep(250);
    }
  }
  private readonly current = new Map<string, string>();
  private async look(m: MemberView): Promise<void> {
    const shape = shapeOf(await secretValues(m.c, this.ns, 'api-jwt'), this.original);
    const at = Date.now() - this.t0;
    let key = this.current.get(m.name);
    if (key === undefined || !key.startsWith(`${m.name} ${shape}`)) {
      // A shape seen again (the original key after a rollback) gets an entry of its own.
      const again = [...this.seen.keys()].filter((k) => k.startsWith(`${m.name} ${shape}`)).length;
      key = again === 0 ? `${m.name} ${shape}` : `${m.name} ${shape} #${String(again + 1)}`;
      this.seen.set(key, { secretAt: at });
      this.current.set(m.name, key);
    }
    const entry = this.seen.get(key);
    if (entry !== undefined && entry.rolledAt === undefined && (await rolled(m.c, this.ns)))
      entry.rolledAt = at;
  }
  stop(title: string): void {
    this.stopped = true;
    console.log(
      `      ${title} (ms since the request; Secret shape seen in the member, then its Deployment rolled to it):`,
    );
    for (const [key, { secretAt, rolledAt }] of this.seen)
      console.log(
        `        ${key.padEnd(22)} secret ${String(secretAt).padStart(6)}  rolled ${rolledAt === undefined ? '     -' : String(rolledAt).padStart(6)}`,
      );
  }
}
