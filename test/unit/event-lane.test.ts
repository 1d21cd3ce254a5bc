import { expect } from 'chai';
import { EventLane } from '../../src/adapters/kubernetes/event-lane.ts';
import type { JwtRotation } from '../../src/api/types.ts';
import type { EventRecorder } from '../../src/reconcile/ports.ts';

const resource = {
  apiVersion: 'jwtrotation.io/v1alpha1',
  kind: 'JwtRotation',
  metadata: { namespace: 'default', name: 'api', uid: 'u1' },
  spec: {},
} as unknown as JwtRotation;

/** A recorder whose writes finish only when the test says so. */
class GatedRecorder implements EventRecorder {
  readonly started: string[] = [];
  readonly finished: string[] = [];
  private readonly gates: (() => void)[] = [];
  failWith: Error | undefined;

  async record(_r: JwtRotation, _t: 'Normal' | 'Warning', reason: string): Promise<void> {
    this.started.push(reason);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    if (this.failWith) throw this.failWith;
    this.finished.push(reason);
  }

  /** Lets the oldest write in flight finish, and gives the lane a turn to start the next. */
  async release(): Promise<void> {
    this.gates.shift()?.();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

describe('EventLane', () => {
  it('returns before the Event is written, and writes the Events one at a time in the order they came', async () => {
    const recorder = new GatedRecorder();
    const lane = new EventLane(recorder);
    await lane.record(resource, 'Normal', 'RotationStarted', 'm');
    await lane.record(resource, 'Normal', 'TargetsRolled', 'm');
    await lane.record(resource, 'Warning', 'GateFailed', 'm');
    // record() resolved with the first write still in flight.
    expect(recorder.started).to.deep.equal(['RotationStarted']);
    expect(recorder.finished).to.deep.equal([]);
    expect(lane.length).to.equal(2);
    await recorder.release();
    expect(recorder.started).to.deep.equal(['RotationStarted', 'TargetsRolled']);
    await recorder.release();
    await recorder.release();
    expect(recorder.finished).to.deep.equal(['RotationStarted', 'TargetsRolled', 'GateFailed']);
    expect(lane.length).to.equal(0);
  });

  it('drops and counts new Events once it holds its capacity, and takes Events again when there is room', async () => {
    const recorder = new GatedRecorder();
    const dropped: string[] = [];
    const queued: number[] = [];
    const lane = new EventLane(recorder, 2, {
      onDropped: (reason) => dropped.push(reason),
      onQueued: (n) => queued.push(n),
    });
    await lane.record(resource, 'Normal', 'a', 'm'); // taken out at once: in flight
    await lane.record(resource, 'Normal', 'b', 'm');
    await lane.record(resource, 'Normal', 'c', 'm');
    await lane.record(resource, 'Normal', 'd', 'm'); // the queue holds b and c: dropped
    expect(dropped).to.deep.equal(['d']);
    await recorder.release();
    await lane.record(resource, 'Normal', 'e', 'm');
    for (let i = 0; i < 3; i++) await recorder.release();
    expect(recorder.finished).to.deep.equal(['a', 'b', 'c', 'e']);
    expect(queued.at(-1)).to.equal(0);
    expect(Math.max(...queued)).to.equal(2);
  });

  it('reports a failed write and goes on with the next', async () => {
    const recorder = new GatedRecorder();
    const failed: string[] = [];
    const lane = new EventLane(recorder, 10, { onFailed: (reason) => failed.push(reason) });
    recorder.failWith = new Error('HTTP 403');
    await lane.record(resource, 'Normal', 'a', 'm');
    await lane.record(resource, 'Normal', 'b', 'm');
    await recorder.release();
    recorder.failWith = undefined;
    await recorder.release();
    expect(failed).to.deep.equal(['a']);
    expect(recorder.finished).to.deep.equal(['b']);
  });

  it('flush waits for the queued Events, and gives up after its timeout', async () => {
    const recorder = new GatedRecorder();
    const lane = new EventLane(recorder);
    await lane.flush(10); // nothing queued: at once
    await lane.record(resource, 'Normal', 'a', 'm');
    const t0 = performance.now();
    await lane.flush(30);
    expect(performance.now() - t0).to.be.at.least(25);
    expect(recorder.finished).to.deep.equal([]);
    const flushed = lane.flush(10_000);
    await recorder.release();
    await flushed;
    expect(recorder.finished).to.deep.equal(['a']);
  });
});
