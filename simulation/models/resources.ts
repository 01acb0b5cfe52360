import type { VirtualClock } from '../clock';

/**
 * A processor of one execution environment (a Lambda instance, or a worker thread of the local stack),
 * serving CPU work first come, first served. `share` is the fraction of one vCPU it gets: Lambda allocates
 * CPU in proportion to memory, one vCPU at 1,769 MB
 * (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html), so 256 MB is 0.145 of one.
 * Work is given in milliseconds of one full core of the machine the calibration ran on.
 */
export class Cpu {
  private busyUntil = 0;
  private busyMs = 0;
  private waitedMs = 0;

  constructor(
    private readonly clock: VirtualClock,
    readonly share: number,
  ) {
    if (!(share > 0)) throw new RangeError(`CPU share must be positive, got ${share}`);
  }

  /** Resolves when `fullCoreMs` of work is done on this processor. */
  run(fullCoreMs: number): Promise<void> {
    if (fullCoreMs <= 0) return Promise.resolve();
    const now = this.clock.now();
    const start = Math.max(now, this.busyUntil);
    const duration = fullCoreMs / this.share;
    this.waitedMs += start - now;
    this.busyUntil = start + duration;
    this.busyMs += duration;
    return this.clock.sleepUntil(this.busyUntil);
  }

  /** Milliseconds this processor has been busy, and callers have queued for it. */
  get usage(): { busyMs: number; waitedMs: number } {
    return { busyMs: this.busyMs, waitedMs: this.waitedMs };
  }
}

/**
 * A counting semaphore: the SDK's HTTP agent, which keeps at most `maxSockets` requests on the wire per
 * client (50 by default in @smithy/node-http-handler) and queues the rest in order.
 */
export class Semaphore {
  private inUse = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;
  private waitedMs = 0;
  private waits = 0;
  private acquisitions = 0;

  constructor(
    private readonly clock: VirtualClock,
    readonly capacity: number,
  ) {}

  async acquire(): Promise<void> {
    this.acquisitions += 1;
    if (this.inUse < this.capacity) {
      this.inUse += 1;
      return;
    }
    const since = this.clock.now();
    this.waits += 1;
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.waitedMs += this.clock.now() - since;
  }

  release(): void {
    if (this.head < this.waiting.length) {
      const next = this.waiting[this.head] as () => void;
      this.head += 1;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      next();
    } else {
      this.inUse -= 1;
    }
  }

  get usage(): { acquisitions: number; waits: number; waitedMs: number } {
    return { acquisitions: this.acquisitions, waits: this.waits, waitedMs: this.waitedMs };
  }
}

/** A level over time (instances running, calls in flight): its peak and the time spent at a ceiling. */
export class LevelGauge {
  private level = 0;
  private since = 0;
  private peakLevel = 0;
  private atCeilingMs = 0;
  private integral = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly ceiling = Number.POSITIVE_INFINITY,
  ) {}

  add(delta: number): void {
    this.set(this.level + delta);
  }

  set(level: number): void {
    this.flush();
    this.level = level;
    if (level > this.peakLevel) this.peakLevel = level;
  }

  get value(): number {
    return this.level;
  }

  get peak(): number {
    return this.peakLevel;
  }

  /** Milliseconds spent at or above the ceiling, up to now. */
  get atCeiling(): number {
    this.flush();
    return this.atCeilingMs;
  }

  /** The level's integral over time (level × ms), up to now: e.g. instance-milliseconds. */
  get area(): number {
    this.flush();
    return this.integral;
  }

  private flush(): void {
    const now = this.clock.now();
    const elapsed = now - this.since;
    if (elapsed > 0) {
      if (this.level >= this.ceiling) this.atCeilingMs += elapsed;
      this.integral += this.level * elapsed;
    }
    this.since = now;
  }
}

/** Counts per fixed-width bin of virtual time: deliveries per 100 ms, 429s per 100 ms. */
export class TimeSeries {
  private readonly bins: number[] = [];

  constructor(readonly binMs: number) {}

  add(at: number, count = 1): void {
    const bin = Math.floor(at / this.binMs);
    while (this.bins.length <= bin) this.bins.push(0);
    this.bins[bin] = (this.bins[bin] ?? 0) + count;
  }

  values(): readonly number[] {
    return this.bins;
  }

  /** Bins in [fromMs, toMs) with a count above zero. */
  binsWithCounts(fromMs: number, toMs: number): number {
    let count = 0;
    for (let b = Math.floor(fromMs / this.binMs); b < Math.ceil(toMs / this.binMs); b += 1) {
      if ((this.bins[b] ?? 0) > 0) count += 1;
    }
    return count;
  }
}
