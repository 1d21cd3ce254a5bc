/**
 * Events off the rotation's critical path. A pass hands its Events to this lane and goes on; the
 * lane sends them one at a time, in the order they came, through a client with its own rate limit
 * (KUBE_API_EVENT_QPS, KUBE_API_EVENT_BURST). This is how client-go's event broadcaster works (a
 * buffered channel drained in the background) and why controller-runtime gives its recorder a
 * client of its own: an Event is a courtesy to whoever reads `kubectl describe`, and at scale a third
 * of the operator's requests were Events, each one delaying the next Secret write or template patch
 * behind it in the one rate limit.
 *
 * The queue is bounded (client-go: 1000). When it is full the newest Event is dropped and counted,
 * rather than holding memory without bound while the API server is unreachable; status conditions,
 * the log and the metrics still say what the Event would have said.
 */
import type { JwtRotation } from '../../api/types.ts';

/** What writes one Event (KubernetesEventRecorder); the lane is one too (EventRecorder of ports.ts). */
interface Recorder {
  record(resource: JwtRotation, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
}

interface Queued {
  resource: JwtRotation;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface EventLaneHooks {
  /** An Event could not be written (the message is fit for a log: the recorder's errors are). */
  onFailed?: (reason: string, error: unknown) => void;
  /** The queue was full and this Event was dropped. */
  onDropped?: (reason: string) => void;
  /** How many Events wait to be sent, after each change. */
  onQueued?: (length: number) => void;
}

export class EventLane implements Recorder {
  private readonly queue: Queued[] = [];
  private draining: Promise<void> | undefined;

  constructor(
    private readonly recorder: Recorder,
    private readonly capacity = 1000,
    private readonly hooks: EventLaneHooks = {},
  ) {}

  /** Queues the Event and resolves at once; it is written in the background, in order. */
  record(resource: JwtRotation, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (this.queue.length >= this.capacity) {
      this.hooks.onDropped?.(reason);
      return Promise.resolve();
    }
    this.queue.push({ resource, type, reason, message });
    this.hooks.onQueued?.(this.queue.length);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
    return Promise.resolve();
  }

  /** Resolves when every queued Event has been sent or failed, or after `timeoutMs`. */
  async flush(timeoutMs: number): Promise<void> {
    if (this.draining === undefined) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.draining,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Events waiting to be sent. */
  get length(): number {
    return this.queue.length;
  }

  private async drain(): Promise<void> {
    for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
      this.hooks.onQueued?.(this.queue.length);
      try {
        await this.recorder.record(next.resource, next.type, next.reason, next.message);
      } catch (error) {
        this.hooks.onFailed?.(next.reason, error);
      }
    }
  }
}
