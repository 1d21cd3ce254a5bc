import { expect } from 'chai';
import { ManualClock } from '../support/test-clocks.ts';
import { CONTINUE_AHEAD, WorkQueue, type PassResult } from '../../src/reconcile/queue.ts';

/** Lets every promise continuation that is ready run (the queue's code after `await worker()`). */
function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Pass {
  key: string;
  at: number;
  resolve: (result: PassResult) => void;
  reject: (error: unknown) => void;
}

/** A worker whose passes finish only when the test says so. */
class HandWorker {
  readonly passes: Pass[] = [];
  private finished = 0;

  constructor(private readonly clock: ManualClock) {}

  readonly run = (key: string): Promise<PassResult> =>
    new Promise<PassResult>((resolve, reject) => {
      this.passes.push({ key, at: this.clock.now(), resolve, reject });
    });

  get calls(): string[] {
    return this.passes.map((p) => p.key);
  }

  get times(): number[] {
    return this.passes.map((p) => p.at);
  }

  /** Finishes the oldest unfinished pass with this result, then lets the queue react. */
  async succeed(result: PassResult = { requeueAfterMs: 3_600_000 }): Promise<void> {
    this.next().resolve(result);
    await flush();
  }

  /** Fails the oldest unfinished pass, then lets the queue react. */
  async fail(error: unknown = new Error('boom')): Promise<void> {
    this.next().reject(error);
    await flush();
  }

  private next(): Pass {
    const pass = this.passes[this.finished++];
    if (pass === undefined) throw new Error('no pass is running');
    return pass;
  }
}

interface Setup {
  clock: ManualClock;
  worker: HandWorker;
  queue: WorkQueue;
  errors: { key: string; error: unknown; retryInMs: number }[];
}

function setup(options: { retryBaseMs?: number; retryMaxMs?: number; workers?: number } = {}): Setup {
  const clock = new ManualClock(1_000_000);
  const worker = new HandWorker(clock);
  const errors: Setup['errors'] = [];
  const queue = new WorkQueue(worker.run, {
    clock,
    retryBaseMs: options.retryBaseMs ?? 100,
    retryMaxMs: options.retryMaxMs ?? 1000,
    ...(options.workers === undefined ? {} : { workers: options.workers }),
    onError: (key, error, retryInMs) => errors.push({ key, error, retryInMs }),
  });
  return { clock, worker, queue, errors };
}

describe('WorkQueue', () => {
  describe('workers', () => {
    it('runs at most `workers` passes at once; the others wait in the order they came due', async () => {
      const { clock, worker, queue } = setup({ workers: 2 });
      for (const key of ['ns/a', 'ns/b', 'ns/c', 'ns/d']) queue.enqueue(key);
      clock.advance(0);
      expect(worker.calls).to.deep.equal(['ns/a', 'ns/b']);
      expect(queue.waiting).to.equal(2);
      await worker.succeed();
      expect(worker.calls).to.deep.equal(['ns/a', 'ns/b', 'ns/c']);
      await worker.succeed();
      expect(worker.calls).to.deep.equal(['ns/a', 'ns/b', 'ns/c', 'ns/d']);
      expect(queue.waiting).to.equal(0);
    });

    it('runs an urgent key ahead of the keys already waiting, and urgent keys in their order', async () => {
      const { clock, worker, queue } = setup({ workers: 1 });
      for (const key of ['ns/a', 'ns/b', 'ns/c']) queue.enqueue(key);
      clock.advance(0);
      queue.enqueue('ns/d', 0, true);
      queue.enqueue('ns/e', 0, true);
      clock.advance(0);
      expect(queue.waiting).to.equal(4);
      for (let i = 0; i < 4; i++) await worker.succeed();
      expect(worker.calls).to.deep.equal(['ns/a', 'ns/d', 'ns/e', 'ns/b', 'ns/c']);
    });

    it('moves a waiting key ahead when it is asked for urgently, and keeps the urgency for a rerun', async () => {
      const { clock, worker, queue } = setup({ workers: 1 });
      for (const key of ['ns/a', 'ns/b', 'ns/c']) queue.enqueue(key);
      clock.advance(0);
      queue.enqueue('ns/c', 0, true);
      clock.advance(0);
      // Asked for urgently while its pass runs: the rerun goes ahead of b.
      queue.enqueue('ns/a', 0, true);
      await worker.succeed();
      clock.advance(0);
      await worker.succeed();
      await worker.succeed();
      await worker.succeed();
      expect(worker.calls).to.deep.equal(['ns/a', 'ns/c', 'ns/a', 'ns/b']);
      expect(queue.waiting).to.equal(0);
    });

    it('serves a key asked for urgently once, then as any other', async () => {
      const { clock, worker, queue } = setup({ workers: 1 });
      queue.enqueue('ns/a', 0, true);
      clock.advance(0);
      queue.enqueue('ns/b');
      clock.advance(0);
      await worker.succeed({ requeueAfterMs: 0 });
      clock.advance(0);
      // a's own requeue is not urgent, and the worker it frees takes b, which waited; a continues next.
      await worker.succeed();
      clock.advance(0);
      expect(worker.calls).to.deep.equal(['ns/a', 'ns/b', 'ns/a']);
    });

    it('runs a key that asked to run again at once ahead of the keys waiting, urgent ones included', async () => {
      const { clock, worker, queue } = setup({ workers: 1 });
      queue.enqueue('ns/a');
      queue.enqueue('ns/b');
      clock.advance(0);
      queue.enqueue('ns/u', 0, true);
      queue.enqueue('ns/c');
      clock.advance(0);
      // a wrote one step and asks for the next at once; the worker it frees takes u (urgent), and a's
      // next step waits ahead of u's followers: b and c, and any urgent key that comes after.
      await worker.succeed({ requeueAfterMs: 0 });
      clock.advance(0);
      queue.enqueue('ns/v', 0, true);
      clock.advance(0);
      for (let i = 0; i < 4; i++) await worker.succeed();
      expect(worker.calls).to.deep.equal(['ns/a', 'ns/u', 'ns/a', 'ns/v', 'ns/b', 'ns/c']);
      expect(queue.waiting).to.equal(0);
    });

    it(`lets a key that always asks again run ahead at most ${CONTINUE_AHEAD} passes in a row`, async () => {
      const { clock, worker, queue } = setup({ workers: 1 });
      const waiting = Array.from({ length: CONTINUE_AHEAD + 4 }, (_, i) => `ns/w${i}`);
      queue.enqueue('ns/a');
      for (const key of waiting) queue.enqueue(key);
      clock.advance(0);
      // a asks for another pass at once every time; each w is done for an hour.
      while (worker.passes.length < 1 + waiting.length + CONTINUE_AHEAD + 1) {
        const running = worker.passes[worker.passes.length - 1];
        await worker.succeed(running?.key === 'ns/a' ? { requeueAfterMs: 0 } : undefined);
        clock.advance(0);
      }
      const aPasses = worker.calls.flatMap((key, i) => (key === 'ns/a' ? [i] : []));
      // a's first pass, CONTINUE_AHEAD continuations each right after one w, then behind all the rest.
      expect(aPasses).to.deep.equal([
        0,
        ...Array.from({ length: CONTINUE_AHEAD }, (_, i) => 2 * (i + 1)),
        1 + waiting.length + CONTINUE_AHEAD,
      ]);
    });

    it('never runs one key twice at once, whatever the number of workers', async () => {
      const { clock, worker, queue } = setup({ workers: 4 });
      queue.enqueue('ns/a');
      clock.advance(0);
      queue.enqueue('ns/a');
      clock.advance(0);
      expect(worker.calls).to.deep.equal(['ns/a']);
      await worker.succeed();
      clock.advance(0);
      expect(worker.calls).to.deep.equal(['ns/a', 'ns/a']);
    });

    it('drops a waiting key that is forgotten', async () => {
      const { clock, worker, queue } = setup({ workers: 1 });
      queue.enqueue('ns/a');
      queue.enqueue('ns/b');
      clock.advance(0);
      queue.forget('ns/b');
      await worker.succeed();
      clock.advance(10_000);
      expect(worker.calls).to.deep.equal(['ns/a']);
    });
  });

  describe('scheduling', () => {
    it('runs a key once its delay has passed, and not before', () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api', 5000);
      clock.advance(4999);
      expect(worker.calls).to.deep.equal([]);
      clock.advance(1);
      expect(worker.calls).to.deep.equal(['default/api']);
      expect(worker.times).to.deep.equal([1_005_000]);
    });

    it('runs a key enqueued without a delay as soon as the clock moves', () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      expect(worker.calls).to.deep.equal([]);
      clock.advance(0);
      expect(worker.calls).to.deep.equal(['default/api']);
    });

    it('keeps an earlier look when a later one is asked for', () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api', 1000);
      queue.enqueue('default/api', 5000);
      clock.advance(1000);
      expect(worker.times).to.deep.equal([1_001_000]);
      clock.advance(10_000);
      expect(worker.calls).to.have.length(1);
    });

    it('moves the look forward when an earlier one is asked for', () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api', 5000);
      queue.enqueue('default/api', 1000);
      clock.advance(1000);
      expect(worker.times).to.deep.equal([1_001_000]);
      clock.advance(10_000);
      expect(worker.calls).to.have.length(1);
    });

    it('runs different keys side by side', () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/a');
      queue.enqueue('default/b');
      clock.advance(0);
      expect(worker.calls).to.have.members(['default/a', 'default/b']);
    });
  });

  describe('one pass at a time per key', () => {
    it('does not start a second pass of a key while one is running', () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      queue.enqueue('default/api');
      clock.advance(0);
      queue.enqueue('default/api', 10);
      clock.advance(100);
      expect(worker.calls).to.deep.equal(['default/api']);
    });

    it('runs the key again right after a pass during which it was enqueued', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      clock.advance(2000);
      queue.enqueue('default/api');
      await worker.succeed({ requeueAfterMs: 60_000 });
      clock.advance(0);
      expect(worker.times).to.deep.equal([1_000_000, 1_002_000]);
    });

    it('runs the key once more, not once per enqueue, after a pass during which it was enqueued often', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      for (let i = 0; i < 5; i++) queue.enqueue('default/api');
      await worker.succeed({ requeueAfterMs: 60_000 });
      clock.advance(0);
      await worker.succeed({ requeueAfterMs: 60_000 });
      clock.advance(59_999);
      expect(worker.calls).to.have.length(2);
    });

    it('runs the key again after a pass during which its timer came due', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      queue.enqueue('default/api', 500);
      clock.advance(500);
      expect(worker.calls).to.have.length(1);
      await worker.succeed({ requeueAfterMs: 60_000 });
      clock.advance(0);
      expect(worker.times).to.deep.equal([1_000_000, 1_000_500]);
    });
  });

  describe('what a pass asks for', () => {
    it('looks again after the requeueAfterMs the worker returned', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      await worker.succeed({ requeueAfterMs: 30_000 });
      clock.advance(29_999);
      expect(worker.calls).to.have.length(1);
      clock.advance(1);
      expect(worker.times).to.deep.equal([1_000_000, 1_030_000]);
    });

    it('lets an enqueue for an earlier time win over the requeue the worker asked for', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      await worker.succeed({ requeueAfterMs: 30_000 });
      queue.enqueue('default/api', 1000);
      clock.advance(1000);
      expect(worker.times).to.deep.equal([1_000_000, 1_001_000]);
      await worker.succeed({ requeueAfterMs: 600_000 });
      clock.advance(100_000);
      expect(worker.calls).to.have.length(2);
    });

    it('drops a key whose pass returned forget', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      await worker.succeed('forget');
      clock.advance(24 * 3_600_000);
      expect(worker.calls).to.have.length(1);
    });

    it('runs a forgotten key again when it was enqueued during the pass that returned forget', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      queue.enqueue('default/api');
      await worker.succeed('forget');
      clock.advance(0);
      expect(worker.calls).to.have.length(2);
    });

    it('cancels the look of a key that forget() is called for', () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api', 1000);
      queue.forget('default/api');
      clock.advance(10_000);
      expect(worker.calls).to.deep.equal([]);
    });

    it('runs a forgotten key again when it is enqueued afresh', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      await worker.succeed('forget');
      queue.enqueue('default/api', 10);
      clock.advance(10);
      expect(worker.calls).to.have.length(2);
    });
  });

  describe('failures', () => {
    it('backs off exponentially from the base to the maximum, reporting each delay to onError', async () => {
      const { clock, worker, queue, errors } = setup({ retryBaseMs: 100, retryMaxMs: 1000 });
      queue.enqueue('default/api');
      clock.advance(0);
      const expected = [100, 200, 400, 800, 1000, 1000];
      for (const delay of expected) {
        await worker.fail();
        const passes = worker.calls.length;
        clock.advance(delay - 1);
        expect(worker.calls, `no retry before ${delay} ms`).to.have.length(passes);
        clock.advance(1);
        expect(worker.calls, `a retry at ${delay} ms`).to.have.length(passes + 1);
      }
      expect(errors.map((e) => e.retryInMs)).to.deep.equal(expected);
    });

    it('hands onError the key and the error of the failed pass', async () => {
      const { clock, worker, queue, errors } = setup();
      const error = new Error('the API server said no');
      queue.enqueue('default/api');
      clock.advance(0);
      await worker.fail(error);
      expect(errors).to.deep.equal([{ key: 'default/api', error, retryInMs: 100 }]);
    });

    it('starts the backoff from the base again after a pass succeeds', async () => {
      const { clock, worker, queue, errors } = setup({ retryBaseMs: 100, retryMaxMs: 1000 });
      queue.enqueue('default/api');
      clock.advance(0);
      await worker.fail();
      clock.advance(100);
      await worker.fail();
      clock.advance(200);
      await worker.succeed({ requeueAfterMs: 5000 });
      clock.advance(5000);
      await worker.fail();
      expect(errors.map((e) => e.retryInMs)).to.deep.equal([100, 200, 100]);
      clock.advance(99);
      expect(worker.calls).to.have.length(4);
      clock.advance(1);
      expect(worker.calls).to.have.length(5);
    });

    it('counts failures per key', async () => {
      const { clock, worker, queue, errors } = setup({ retryBaseMs: 100, retryMaxMs: 1000 });
      queue.enqueue('default/a');
      clock.advance(0);
      await worker.fail();
      clock.advance(100);
      await worker.fail();
      queue.enqueue('default/b');
      clock.advance(0);
      await worker.fail();
      expect(errors.map((e) => [e.key, e.retryInMs])).to.deep.equal([
        ['default/a', 100],
        ['default/a', 200],
        ['default/b', 100],
      ]);
    });
  });

  describe('stop and idle', () => {
    it('cancels every pending look when stopped', () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/a', 1000);
      queue.enqueue('default/b', 2000);
      queue.stop();
      clock.advance(10_000);
      expect(worker.calls).to.deep.equal([]);
    });

    it('ignores enqueues after it was stopped', () => {
      const { clock, worker, queue } = setup();
      queue.stop();
      queue.enqueue('default/api');
      clock.advance(10_000);
      expect(worker.calls).to.deep.equal([]);
    });

    it('schedules no further look for a pass that finishes after stop', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      queue.stop();
      await worker.succeed({ requeueAfterMs: 10 });
      clock.advance(10_000);
      expect(worker.calls).to.have.length(1);
    });

    it('resolves idle() only once the running pass has finished', async () => {
      const { clock, worker, queue } = setup();
      queue.enqueue('default/api');
      clock.advance(0);
      let idle = false;
      void queue.idle().then(() => (idle = true));
      await flush();
      expect(idle).to.equal(false);
      await worker.succeed();
      expect(idle).to.equal(true);
    });

    it('resolves idle() at once when no pass is running', async () => {
      const { queue } = setup();
      queue.enqueue('default/api', 1000);
      let idle = false;
      void queue.idle().then(() => (idle = true));
      await flush();
      expect(idle).to.equal(true);
    });
  });

  it('keeps one pass per key when the key is forgotten and enqueued again during a pass', async () => {
    const { clock, worker, queue } = setup();
    queue.enqueue('ns/a');
    clock.advance(0);
    await flush();
    expect(worker.calls).to.deep.equal(['ns/a']);
    // Deleted and created again while the first pass runs.
    queue.forget('ns/a');
    queue.enqueue('ns/a');
    clock.advance(0);
    await flush();
    expect(worker.calls, 'no second pass beside the running one').to.deep.equal(['ns/a']);
    await worker.succeed();
    clock.advance(0);
    await flush();
    expect(worker.calls, 'the new object gets its pass after the first ends').to.deep.equal(['ns/a', 'ns/a']);
  });

  it('drops a key forgotten during its pass once the pass ends, without a requeue', async () => {
    const { clock, worker, queue } = setup();
    queue.enqueue('ns/a');
    clock.advance(0);
    await flush();
    queue.forget('ns/a');
    await worker.succeed({ requeueAfterMs: 10 });
    clock.advance(1000);
    await flush();
    expect(worker.calls).to.deep.equal(['ns/a']);
  });
});
