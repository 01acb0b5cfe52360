/**
 * A virtual clock and its event queue: the simulation's only notion of time. Our real code runs on it
 * through the `now`/`sleep` options it already takes, and every modelled AWS call answers by scheduling
 * its reply here, so a broadcast that takes 100 s of virtual time runs in as long as its work takes.
 *
 * Time only moves between events. After each instant's events fire, the loop lets every promise
 * continuation they started run (it yields to the macrotask queue, which Node runs only once the
 * microtask queue is empty) before it looks at the next instant: whatever the real code does in reaction
 * is scheduled before the clock moves on, so nothing ever runs "late".
 */

interface Timer {
  readonly at: number;
  /** Insertion order: ties at one instant fire first-in, first-out, which keeps runs deterministic. */
  readonly order: number;
  readonly fire: () => void;
}

export class SimulationStalledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimulationStalledError';
  }
}

export interface RunLimits {
  /** Stop once the next event lies beyond this virtual time (ms). @default Infinity */
  readonly untilMs?: number;
  /** Stop (throw) after this many events, a guard against a model that never settles. @default 50_000_000 */
  readonly maxEvents?: number;
}

const yieldToMacrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface ClockOptions {
  /**
   * Event times are rounded up to this grid (ms). Events that share an instant fire together before one
   * pass of the continuations, so a coarser grid means fewer passes: 0.1 ms changes no result that matters
   * and makes a million-connection run several times faster. @default 0 (exact)
   */
  readonly resolutionMs?: number;
}

export class VirtualClock {
  private readonly resolution: number;
  private time = 0;
  private order = 0;
  private fired = 0;
  /** A binary min-heap on (at, order). */
  private readonly heap: Timer[] = [];

  constructor({ resolutionMs = 0 }: ClockOptions = {}) {
    this.resolution = resolutionMs;
  }

  /** Virtual milliseconds since the simulation started. */
  readonly now = (): number => this.time;

  /** Resolves after `ms` of virtual time (0 or less: at this instant, after what is already due). */
  readonly sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => this.schedule(ms, () => resolve()));

  /** Resolves at virtual time `at` (or now, if that has passed). */
  readonly sleepUntil = (at: number): Promise<void> => new Promise((resolve) => this.at(at, () => resolve()));

  schedule(delayMs: number, fire: () => void): void {
    this.at(this.time + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0), fire);
  }

  at(at: number, fire: () => void): void {
    const grid = this.resolution > 0 ? Math.ceil(at / this.resolution - 1e-9) * this.resolution : at;
    this.push({ at: Math.max(grid, this.time), order: this.order++, fire });
  }

  /** Events waiting to fire. */
  get pending(): number {
    return this.heap.length;
  }

  /** Events fired so far. */
  get eventsFired(): number {
    return this.fired;
  }

  /**
   * Runs until no event is left (or the limits say stop). Returns the virtual time reached. Code that is
   * still awaiting something when the queue runs dry waits for an event nobody scheduled: the caller
   * decides whether that is the end of the scenario or a model bug.
   */
  async run({ untilMs = Number.POSITIVE_INFINITY, maxEvents = 50_000_000 }: RunLimits = {}): Promise<number> {
    await yieldToMacrotasks();
    for (;;) {
      const next = this.heap[0];
      if (next === undefined || next.at > untilMs) break;
      this.time = next.at;
      // Everything due at this instant fires before the continuations run: they are simultaneous.
      while (this.heap.length > 0 && (this.heap[0] as Timer).at === this.time) {
        const timer = this.pop();
        this.fired += 1;
        timer.fire();
      }
      if (this.fired > maxEvents) {
        throw new SimulationStalledError(`more than ${maxEvents} events by ${this.time.toFixed(0)} ms`);
      }
      await yieldToMacrotasks();
    }
    return this.time;
  }

  private push(timer: Timer): void {
    const heap = this.heap;
    heap.push(timer);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(timer, heap[parent] as Timer)) break;
      heap[i] = heap[parent] as Timer;
      i = parent;
    }
    heap[i] = timer;
  }

  private pop(): Timer {
    const heap = this.heap;
    const top = heap[0] as Timer;
    const last = heap.pop() as Timer;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child =
          right < heap.length && earlier(heap[right] as Timer, heap[left] as Timer) ? right : left;
        if (!earlier(heap[child] as Timer, last)) break;
        heap[i] = heap[child] as Timer;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}

function earlier(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
