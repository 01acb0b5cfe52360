import { backoffCeiling } from '../../contracts/backoff';
import { InvokeCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { VirtualClock } from '../clock';
import { lognormal, type LatencySpec, type Random } from '../random';
import type { CallerEnvironment, ClientCpuCosts, ServiceName } from './environment';
import { Cpu, LevelGauge, Semaphore } from './resources';

/**
 * Lambda as the fan-out uses it (sources in docs/capacity.md):
 * - asynchronous invocations (`Invoke`, `InvocationType: Event`): 202 once queued; a poller runs the event
 *   when the function has concurrency, else it is throttled and tried again after 1 s, then at growing
 *   intervals up to 5 minutes (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html);
 * - a function error is retried twice, about 1 and 2 minutes later; then, or past the maximum event age,
 *   the event goes to the on-failure destination (the dead-letter queue);
 * - concurrency: the account's limit (1,000 by default) shared by every function, a function's reserved
 *   concurrency carved out of it; a function adds at most 1,000 execution environments per 10 s, refilled
 *   continuously (https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html, since Nov 2023);
 * - a new execution environment first runs the module's init (a cold start), on a CPU share proportional
 *   to memory; init is billed since Aug 2025 like the handler's duration.
 * The local stack runs each function in one worker thread, invocations at once up to its reserved
 * concurrency: no account limit, scaling rate or cold start (`mode: 'local'`), retries after seconds.
 */
export interface LambdaSettings {
  readonly mode: 'aws' | 'local';
  readonly accountConcurrency: number;
  readonly scalingBurst: number;
  readonly scalingRefillPerSecond: number;
  /** The Invoke (Event) call, from the SDK's send to Lambda's 202. */
  readonly invokeLatency: LatencySpec;
  /** From the 202 to the poller handing the event to an environment. */
  readonly asyncStartDelay: LatencySpec;
  readonly throttleRetryFirstMs: number;
  readonly throttleRetryMaxMs: number;
  /** Delays before Lambda's retries of an event whose run failed. */
  readonly errorRetryDelaysMs: readonly number[];
  readonly maxAsyncPayloadBytes: number;
  /** Memory that buys one full vCPU. */
  readonly vcpuMemoryMb: number;
  /** Requests one SDK client keeps on the wire. */
  readonly maxSocketsPerClient: number;
}

export interface FunctionSpec {
  readonly name: string;
  readonly memoryMb: number;
  readonly timeoutMs: number;
  readonly reservedConcurrency?: number;
  /** Lambda's retries of an async event whose run failed (EventInvokeConfig MaximumRetryAttempts). */
  readonly maxRetries: number;
  readonly maxEventAgeMs: number;
  /** Module initialisation, in ms of one full core (bench cold-start rows). */
  readonly initMs: number;
  /** The handler module, loaded in a new execution environment. */
  readonly init: (environment: ExecutionEnvironment) => (event: unknown) => Promise<unknown>;
}

export interface DeadLetter {
  readonly functionName: string;
  readonly condition: 'RetriesExhausted' | 'EventAgeExceeded';
  readonly at: number;
  readonly event: unknown;
}

export interface FunctionStats {
  invocations: number;
  coldStarts: number;
  /** Async events the poller could not run for lack of concurrency (each try counts). */
  throttles: number;
  errors: number;
  timeouts: number;
  /** Handler and init milliseconds, billed by memory: GB-s = billedMs / 1000 × memoryMb / 1024. */
  billedMs: number;
  /** Virtual ms async events spent waiting in throttle backoff. */
  throttledWaitMs: number;
  /** New environments refused by the scaling rate (not by a concurrency limit). */
  scalingRefusals: number;
  /** CPU-busy milliseconds of this function's environments while they ran a handler (init not included). */
  cpuBusyMs: number;
  readonly concurrency: LevelGauge;
}

export class ExecutionEnvironment implements CallerEnvironment {
  alive = true;
  handler: ((event: unknown) => Promise<unknown>) | undefined;
  private readonly agents = new Map<ServiceName, Semaphore>();

  constructor(
    private readonly clock: VirtualClock,
    readonly id: string,
    readonly cpu: Cpu,
    private readonly maxSockets: number,
  ) {}

  sockets(service: ServiceName): Semaphore {
    let agent = this.agents.get(service);
    if (!agent) {
      agent = new Semaphore(this.clock, this.maxSockets);
      this.agents.set(service, agent);
    }
    return agent;
  }
}

interface FunctionState {
  readonly spec: FunctionSpec;
  readonly stats: FunctionStats;
  readonly idle: ExecutionEnvironment[];
  readonly all: ExecutionEnvironment[];
  environments: number;
  scalingTokens: number;
  scalingRefilledAt: number;
}

interface AsyncEvent {
  readonly fn: FunctionState;
  readonly payload: string;
  readonly receivedAt: number;
  attempts: number;
  throttles: number;
}

export class LambdaModel {
  readonly deadLetters: DeadLetter[] = [];
  readonly account: LevelGauge;
  private readonly functions = new Map<string, FunctionState>();
  private readonly invokeLatency: () => number;
  private readonly startDelay: () => number;
  private unreservedRunning = 0;
  /** Local stack: each Invoke also passes through the local gateway's one process. */
  gatewaySlot: (() => Promise<void>) | undefined;

  constructor(
    private readonly clock: VirtualClock,
    private readonly random: Random,
    private readonly settings: LambdaSettings,
  ) {
    this.invokeLatency = lognormal(settings.invokeLatency, random.fork('invoke'));
    this.startDelay = lognormal(settings.asyncStartDelay, random.fork('start'));
    this.account = new LevelGauge(clock, settings.mode === 'aws' ? settings.accountConcurrency : Infinity);
  }

  register(spec: FunctionSpec): void {
    const ceiling = this.settings.mode === 'aws' ? (spec.reservedConcurrency ?? Infinity) : Infinity;
    this.functions.set(spec.name, {
      spec,
      stats: {
        invocations: 0,
        coldStarts: 0,
        throttles: 0,
        errors: 0,
        timeouts: 0,
        billedMs: 0,
        throttledWaitMs: 0,
        scalingRefusals: 0,
        cpuBusyMs: 0,
        concurrency: new LevelGauge(this.clock, ceiling),
      },
      idle: [],
      all: [],
      environments: 0,
      scalingTokens: this.settings.scalingBurst,
      scalingRefilledAt: 0,
    });
  }

  /**
   * Execution environments left warm by earlier invocations (a broadcast a minute ago): idle, initialised,
   * no cold start on their next use. Lambda keeps idle environments for minutes, not a documented time.
   */
  prewarm(name: string, count: number): void {
    const fn = this.function(name);
    for (let i = 0; i < count; i += 1) {
      const environment = this.newEnvironment(fn, fn.spec.memoryMb / this.settings.vcpuMemoryMb);
      environment.handler = fn.spec.init(environment);
      fn.idle.push(environment);
    }
  }

  stats(name: string): FunctionStats {
    return this.function(name).stats;
  }

  /**
   * A LambdaClient for one execution environment, answering our LambdaAsyncInvoker's
   * `send(InvokeCommand)` (Event only) as Lambda does: 202 once the event is queued, 413 above the
   * asynchronous payload limit.
   */
  client(environment: CallerEnvironment, costs: ClientCpuCosts): LambdaClient {
    const sockets = environment.sockets('lambda');
    const send = async (command: unknown): Promise<object> => {
      if (!(command instanceof InvokeCommand) || command.input.InvocationType !== 'Event') {
        throw new Error('only Invoke with InvocationType Event is modelled');
      }
      const fn = this.function(String(command.input.FunctionName));
      const payload = new TextDecoder().decode(command.input.Payload as Uint8Array);
      await environment.cpu.run(costs.invokeCallMs);
      await sockets.acquire();
      try {
        await this.gatewaySlot?.();
        await this.clock.sleep(this.invokeLatency());
      } finally {
        sockets.release();
      }
      if (payload.length > this.settings.maxAsyncPayloadBytes) {
        throw Object.assign(new Error('Request must be smaller than the async payload limit'), {
          name: 'RequestEntityTooLargeException',
          $metadata: { httpStatusCode: 413 },
        });
      }
      this.enqueue(fn, payload);
      return { StatusCode: 202, $metadata: { httpStatusCode: 202 } };
    };
    return { send } as unknown as LambdaClient;
  }

  /** Queues an async event directly (what a 202 from the Invoke API leads to). */
  enqueue(fnOrName: FunctionState | string, payload: string): void {
    const fn = typeof fnOrName === 'string' ? this.function(fnOrName) : fnOrName;
    const event: AsyncEvent = { fn, payload, receivedAt: this.clock.now(), attempts: 0, throttles: 0 };
    this.clock.schedule(this.settings.mode === 'aws' ? this.startDelay() : 0, () => this.tryStart(event));
  }

  private tryStart(event: AsyncEvent): void {
    const { fn } = event;
    const now = this.clock.now();
    if (now - event.receivedAt > fn.spec.maxEventAgeMs) return this.deadLetter(event, 'EventAgeExceeded');
    const environment = this.acquire(fn);
    if (!environment) {
      fn.stats.throttles += 1;
      event.throttles += 1;
      const bounds = { baseMs: this.settings.throttleRetryFirstMs, maxMs: this.settings.throttleRetryMaxMs };
      // The documented interval, jittered ±50 % (the documentation names no jitter; real pollers are not in lockstep).
      const delay = backoffCeiling(event.throttles, bounds) * (0.5 + this.random.next());
      fn.stats.throttledWaitMs += delay;
      this.clock.schedule(delay, () => this.tryStart(event));
      return;
    }
    void this.run(event, environment);
  }

  private async run(event: AsyncEvent, environment: ExecutionEnvironment): Promise<void> {
    const { fn } = event;
    event.attempts += 1;
    const { failed } = await this.execute(fn, environment, JSON.parse(event.payload) as unknown);
    if (!failed) return;
    const delays = this.settings.errorRetryDelaysMs;
    if (event.attempts > fn.spec.maxRetries) return this.deadLetter(event, 'RetriesExhausted');
    const delay = delays[Math.min(event.attempts - 1, delays.length - 1)] ?? 0;
    if (this.clock.now() + delay - event.receivedAt > fn.spec.maxEventAgeMs) {
      return this.deadLetter(event, 'EventAgeExceeded');
    }
    this.clock.schedule(delay, () => this.tryStart(event));
  }

  /**
   * A synchronous invocation (an event source mapping's poller calling the stream publisher): its result,
   * or `throttled` when the function has no concurrency to run it now.
   */
  async invoke(
    name: string,
    event: unknown,
  ): Promise<{ throttled: true } | { throttled: false; failed: boolean; result: unknown }> {
    const fn = this.function(name);
    const environment = this.acquire(fn);
    if (!environment) {
      fn.stats.throttles += 1;
      return { throttled: true };
    }
    return { throttled: false, ...(await this.execute(fn, environment, event)) };
  }

  /** Runs one invocation in `environment`, initialising it first if it is new. */
  private async execute(
    fn: FunctionState,
    environment: ExecutionEnvironment,
    event: unknown,
  ): Promise<{ failed: boolean; result: unknown }> {
    const { stats, spec } = fn;
    const started = this.clock.now();
    stats.invocations += 1;
    if (!environment.handler) {
      stats.coldStarts += 1;
      await environment.cpu.run(spec.initMs);
      environment.handler = spec.init(environment);
    }
    const busyBefore = environment.cpu.usage.busyMs;
    const handlerStarted = this.clock.now();
    let failed = false;
    let result: unknown;
    const timer: { timedOut: boolean } = { timedOut: false };
    try {
      result = await Promise.race([
        (environment.handler as (event: unknown) => Promise<unknown>)(event),
        new Promise<never>((_, reject) => {
          this.clock.schedule(spec.timeoutMs, () => {
            timer.timedOut = true;
            reject(new Error('Task timed out'));
          });
        }),
      ]);
    } catch {
      failed = true;
      stats.errors += 1;
    }
    if (timer.timedOut && this.clock.now() - handlerStarted >= spec.timeoutMs) {
      // Lambda stops a timed-out environment: what it still had in flight never completes.
      stats.timeouts += 1;
      environment.alive = false;
    }
    stats.billedMs += Math.ceil(this.clock.now() - started);
    stats.cpuBusyMs += environment.cpu.usage.busyMs - busyBefore;
    this.releaseEnvironment(fn, environment);
    return { failed, result };
  }

  private acquire(fn: FunctionState): ExecutionEnvironment | undefined {
    const { settings } = this;
    if (settings.mode === 'local') {
      const cap = fn.spec.reservedConcurrency;
      if (cap !== undefined && fn.stats.concurrency.value >= cap) return undefined;
      let environment = fn.idle[0];
      if (!environment) {
        environment = this.newEnvironment(fn, 1);
        environment.handler = fn.spec.init(environment);
        fn.idle.push(environment);
      }
      fn.stats.concurrency.add(1);
      return environment;
    }
    const reserved = fn.spec.reservedConcurrency;
    if (reserved !== undefined) {
      if (fn.stats.concurrency.value >= reserved) return undefined;
    } else if (this.unreservedRunning >= settings.accountConcurrency - this.reservedTotal()) {
      return undefined;
    }
    let environment = fn.idle.pop();
    if (!environment) {
      const now = this.clock.now();
      fn.scalingTokens = Math.min(
        settings.scalingBurst,
        fn.scalingTokens + ((now - fn.scalingRefilledAt) * settings.scalingRefillPerSecond) / 1000,
      );
      fn.scalingRefilledAt = now;
      if (fn.scalingTokens < 1) {
        fn.stats.scalingRefusals += 1;
        return undefined;
      }
      fn.scalingTokens -= 1;
      environment = this.newEnvironment(fn, fn.spec.memoryMb / settings.vcpuMemoryMb);
    }
    if (reserved === undefined) this.unreservedRunning += 1;
    fn.stats.concurrency.add(1);
    this.account.add(1);
    return environment;
  }

  private releaseEnvironment(fn: FunctionState, environment: ExecutionEnvironment): void {
    fn.stats.concurrency.add(-1);
    if (this.settings.mode === 'local') return;
    this.account.add(-1);
    if (fn.spec.reservedConcurrency === undefined) this.unreservedRunning -= 1;
    if (environment.alive) fn.idle.push(environment);
  }

  private newEnvironment(fn: FunctionState, cpuShare: number): ExecutionEnvironment {
    fn.environments += 1;
    const environment = new ExecutionEnvironment(
      this.clock,
      `${fn.spec.name}#${fn.environments}`,
      new Cpu(this.clock, Math.min(cpuShare, 6)),
      this.settings.maxSocketsPerClient,
    );
    fn.all.push(environment);
    return environment;
  }

  /** Every execution environment a function has had. */
  environments(name: string): readonly ExecutionEnvironment[] {
    return this.function(name).all;
  }

  private reservedTotal(): number {
    return [...this.functions.values()].reduce((sum, fn) => sum + (fn.spec.reservedConcurrency ?? 0), 0);
  }

  private deadLetter(event: AsyncEvent, condition: DeadLetter['condition']): void {
    this.deadLetters.push({
      functionName: event.fn.spec.name,
      condition,
      at: this.clock.now(),
      event: JSON.parse(event.payload) as unknown,
    });
  }

  private function(name: string): FunctionState {
    const fn = this.functions.get(name);
    if (!fn) throw new Error(`No function ${name}`);
    return fn;
  }
}
