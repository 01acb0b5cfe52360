import { percentile } from '../bench/stats';
import type { ConnectionOutcomes } from './models/connection-book';
import type { FunctionStats } from './models/lambda';
import { FUNCTIONS, type CodeTallies, type World } from './system';

/** List prices used for the cost per broadcast: us-east-1, as of 2026-12-01 (pages in SOURCES). */
export const PRICES = {
  asOf: '2026-12-01',
  region: 'us-east-1',
  lambdaPerMillionRequests: 0.2,
  lambdaArmPerGbSecond: 0.0000133334,
  webSocketPerMillionMessages: 1.0,
  /** Messages are metered in 32 KB increments. */
  webSocketMessageIncrementBytes: 32 * 1024,
  dynamodbPerMillionReadUnits: 0.125,
  dynamodbPerMillionWriteUnits: 0.625,
} as const;

export interface Saturation {
  readonly resource: string;
  /** 0..1: how much of the delivery window this resource was the one holding deliveries back. */
  readonly share: number;
  readonly detail: string;
}

export interface Cost {
  lambdaRequests: number;
  lambdaDuration: number;
  webSocketMessages: number;
  dynamodb: number;
  total: number;
  perThousandDeliveries: number;
}

export interface ScenarioResult {
  name: string;
  label: string;
  /** scenarios.ts's group: single post, many posts, what-if, scale check, local stack. */
  group?: string;
  environment: 'aws' | 'local';
  workload: { posts: number; subscribersPerPost: number; addressed: number };
  settings: {
    fanOutConcurrency: number;
    fanOutBatchSize: number;
    fanOutWorkerConcurrency: number;
    retry: { maxAttempts: number; baseMs: number; maxMs: number };
    memoryMb: number;
    quota: string;
    /** Simulated as a 1:scale model (scale-model.ts); counts multiplied back. */
    scale?: number;
  };
  timing: {
    firstDeliveryMs: number | null;
    lastDeliveryMs: number | null;
    p50DeliveryMs: number | null;
    p99DeliveryMs: number | null;
    deliveriesPerSecond: number | null;
  };
  outcomes: ConnectionOutcomes & { duplicates: number };
  managementApi: { calls: number; delivered: number; throttled: number; gone: number; errors: number };
  code: CodeTallies;
  lambda: {
    peakWorkerConcurrency: number;
    peakAccountConcurrency: number;
    invocations: Record<string, number>;
    coldStarts: number;
    asyncThrottles: number;
    functionErrors: number;
    timeouts: number;
    deadLetterRecords: number;
    gbSeconds: number;
    gbSecondsByFunction: Record<string, number>;
  };
  dynamodb: { readUnits: number; writeUnits: number; throttled: number; writesOverCapacity: number };
  stream: { invocations: number; failedRecords: number } | null;
  saturation: Saturation[];
  bindingLimit: Saturation;
  cost: Cost;
  payloadBytes: number;
  /** Deliveries so far, every `binMs`. */
  curve: { binMs: number; cumulative: number[] };
  run: { events: number; wallMs: number; virtualEndMs: number };
}

const r1 = (value: number): number => Math.round(value * 10) / 10;
const pct = (share: number): string => `${Math.round(share * 100)} %`;

/** How much each limited resource held the deliveries back, over the window from first to last delivery. */
export function saturation(world: World, k = 1): Saturation[] {
  const { managementApi, lambda, dynamodb, book, settings } = world;
  const first = Number.isNaN(book.firstDeliveryAt) ? 0 : book.firstDeliveryAt;
  const last = Number.isNaN(book.lastDeliveryAt) ? world.clock.now() : book.lastDeliveryAt;
  const window = Math.max(1, last - first);
  const worker = lambda.stats(FUNCTIONS.worker);
  const broadcast = lambda.stats(FUNCTIONS.broadcast);
  // In Lambda an environment runs one invocation at a time, so each invocation's CPU is its own; locally
  // every invocation shares the function's one thread, which is counted once.
  const cpuBusy = (name: string, stats: FunctionStats): number =>
    settings.lambda.mode === 'aws'
      ? stats.cpuBusyMs
      : lambda.environments(name).reduce((sum, environment) => sum + environment.cpu.usage.busyMs, 0);
  const rows: Saturation[] = [];
  const admission = settings.managementApi.admission;
  if (admission.kind === 'tokenBucket') {
    const bins = Math.max(1, Math.ceil(window / managementApi.stats.throttles.binMs));
    const throttledBins = managementApi.stats.throttles.binsWithCounts(first, last);
    const rate = admission.ratePerSecond - admission.otherTrafficPerSecond;
    const admitted = managementApi.stats.calls - managementApi.stats.throttled;
    rows.push({
      resource: 'API Gateway account quota',
      share: throttledBins / bins,
      detail: `429s in ${pct(throttledBins / bins)} of 100 ms intervals; ${Math.round((admitted / window) * 1000 * k).toLocaleString('en-US')} calls/s admitted of ${(rate * k).toLocaleString('en-US')}/s`,
    });
  } else {
    const busy = (managementApi.stats.calls * 1000) / admission.callsPerSecond / window;
    rows.push({
      resource: 'local gateway process',
      share: Math.min(1, busy),
      detail: `busy ${pct(Math.min(1, busy))} of the window at ${admission.callsPerSecond.toLocaleString('en-US')} calls/s; longest queue ${Math.round(managementApi.stats.longestQueueMs)} ms`,
    });
  }
  if (settings.lambda.mode === 'aws') {
    // At the cap, or with batches waiting in Lambda's throttle backoff (the average number waiting, against
    // the cap): either way the cap holds deliveries back.
    const cap = settings.stage.fanOutWorkerConcurrency;
    const waiting = worker.throttledWaitMs / window;
    rows.push({
      resource: 'worker reserved concurrency',
      share: Math.min(1, Math.max(worker.concurrency.atCeiling / window, waiting / (waiting + cap))),
      detail: `at its cap of ${cap * k} for ${pct(Math.min(1, worker.concurrency.atCeiling / window))} of the window; ${(worker.throttles * k).toLocaleString('en-US')} async throttles, on average ${Math.round(waiting * k).toLocaleString('en-US')} batches waiting in throttle backoff`,
    });
    rows.push({
      resource: 'Lambda account concurrency',
      share: Math.min(1, lambda.account.atCeiling / window),
      detail: `peak ${lambda.account.peak * k} of ${settings.lambda.accountConcurrency * k}`,
    });
    rows.push({
      resource: 'Lambda scaling rate',
      share:
        worker.scalingRefusals > 0 ? Math.min(1, worker.scalingRefusals / Math.max(1, worker.throttles)) : 0,
      detail: `${worker.scalingRefusals * k} new environments refused`,
    });
  }
  // Workers' CPU against what the worker cap could give: CPU-bound workers only bind when all may run.
  const aws = settings.lambda.mode === 'aws';
  const workerCapacity = (aws ? settings.stage.fanOutWorkerConcurrency : 1) * window;
  const workerBusy = cpuBusy(FUNCTIONS.worker, worker);
  const runningArea = aws ? worker.concurrency.area : window;
  const runningShare = runningArea > 0 ? workerBusy / runningArea : 0;
  rows.push({
    resource: `worker CPU (${aws ? `${settings.functions.memoryMb} MB` : 'one thread'})`,
    share: Math.min(1, workerBusy / workerCapacity),
    detail: `${pct(Math.min(1, workerBusy / workerCapacity))} of the CPU the worker cap allows; running workers were CPU-busy ${pct(Math.min(1, runningShare))} of the time`,
  });
  const readerShare =
    cpuBusy(FUNCTIONS.broadcast, broadcast) / ((aws ? Math.max(1, broadcast.concurrency.peak) : 1) * window);
  rows.push({
    resource: `broadcast function CPU (reading the audience, ${aws ? `${settings.functions.memoryMb} MB` : 'one thread'})`,
    share: Math.min(1, readerShare),
    detail: `CPU-busy ${pct(Math.min(1, readerShare))} of the window (Query pages unmarshalled, batches queued, inline pushes)`,
  });
  let acquisitions = 0;
  let waits = 0;
  for (const environment of lambda.environments(FUNCTIONS.worker)) {
    const usage = environment.sockets('managementApi').usage;
    acquisitions += usage.acquisitions;
    waits += usage.waits;
  }
  rows.push({
    resource: `SDK sockets (${settings.lambda.maxSocketsPerClient} per client)`,
    share: acquisitions > 0 ? waits / acquisitions : 0,
    detail: `${pct(acquisitions > 0 ? waits / acquisitions : 0)} of worker pushes waited for a socket`,
  });
  rows.push({
    resource: 'DynamoDB partition throughput',
    share: dynamodb.stats.throttled > 0 ? Math.min(1, dynamodb.stats.throttleWaitMs / window) : 0,
    detail: `${dynamodb.stats.throttled * k} throttled requests, ${r1(dynamodb.stats.throttleWaitMs)} ms in SDK backoff`,
  });
  return rows;
}

/**
 * The resource that bound the broadcast: the most saturated one, if any was saturated most of the time.
 * Near-ties go to the resource furthest downstream (rows are in that order): when the quota is full, the
 * sockets and CPU queued in front of it are full because of it.
 */
export function bindingLimit(rows: readonly Saturation[], world: World): Saturation {
  const most = Math.max(0, ...rows.map((row) => row.share));
  const top = rows.find((row) => row.share >= most - 0.05);
  if (top && top.share >= 0.5) return top;
  const { settings } = world;
  return {
    resource: 'latency and cold starts (nothing saturated)',
    share: top?.share ?? 0,
    detail: `${settings.stage.fanOutConcurrency} calls in flight per instance; the busiest resource was ${top?.resource ?? 'none'} (${pct(top?.share ?? 0)})`,
  };
}

/** What a broadcast is billed for (PRICES). */
export interface Usage {
  invocations: number;
  gbSeconds: number;
  delivered: number;
  readUnits: number;
  writeUnits: number;
  payloadBytes: number;
}

export function costOf(usage: Usage): Cost {
  const messages = usage.delivered * Math.ceil(usage.payloadBytes / PRICES.webSocketMessageIncrementBytes);
  const lambdaRequests = (usage.invocations / 1e6) * PRICES.lambdaPerMillionRequests;
  const lambdaDuration = usage.gbSeconds * PRICES.lambdaArmPerGbSecond;
  const webSocketMessages = (messages / 1e6) * PRICES.webSocketPerMillionMessages;
  const dynamodb =
    (usage.readUnits / 1e6) * PRICES.dynamodbPerMillionReadUnits +
    (usage.writeUnits / 1e6) * PRICES.dynamodbPerMillionWriteUnits;
  const total = lambdaRequests + lambdaDuration + webSocketMessages + dynamodb;
  return {
    lambdaRequests,
    lambdaDuration,
    webSocketMessages,
    dynamodb,
    total,
    perThousandDeliveries: (total / Math.max(1, usage.delivered)) * 1000,
  };
}

const gbSecondsOf = (stats: FunctionStats, memoryMb: number): number =>
  (stats.billedMs / 1000) * (memoryMb / 1024);

/** The Management API's admission as the settings tables show it. */
export function quotaLabel(settings: World['settings']): string {
  const admission = settings.managementApi.admission;
  const n = (value: number): string => Math.round(value).toLocaleString('en-US');
  if (admission.kind === 'server') return `local gateway, ${n(admission.callsPerSecond)}/s`;
  const other =
    admission.otherTrafficPerSecond > 0
      ? `, ${n(admission.otherTrafficPerSecond)}/s taken by other traffic`
      : '';
  return `${n(admission.ratePerSecond)}/s, bucket ${n(admission.burst)}${other}`;
}

export function summarize(
  world: World,
  meta: { name: string; label: string; wallMs: number; payloadBytes: number; scale?: number },
): ScenarioResult {
  const { book, managementApi, lambda, dynamodb, settings, stream, posts } = world;
  const times = book.deliveryTimes();
  const last = percentile(times, 100);
  const worker = lambda.stats(FUNCTIONS.worker);
  const all = Object.values(FUNCTIONS).map((name) => [name, lambda.stats(name)] as const);
  const gbSecondsByFunction = Object.fromEntries(
    all.map(([name, stats]) => [name, gbSecondsOf(stats, settings.functions.memoryMb)]),
  );
  const gbSeconds = Object.values(gbSecondsByFunction).reduce((sum, value) => sum + value, 0);
  const rows = saturation(world, meta.scale ?? 1);
  const { deliveries } = managementApi.stats;
  let running = 0;
  const cumulative = deliveries.values().map((count) => (running += count));
  const step = Math.max(1, Math.ceil(cumulative.length / 240));
  return {
    name: meta.name,
    label: meta.label,
    environment: settings.lambda.mode,
    workload: { posts: posts.length, subscribersPerPost: posts[0]?.subscribers ?? 0, addressed: book.size },
    settings: {
      fanOutConcurrency: settings.stage.fanOutConcurrency,
      fanOutBatchSize: settings.stage.fanOutBatchSize,
      fanOutWorkerConcurrency: settings.stage.fanOutWorkerConcurrency,
      retry: settings.stage.fanOutRetry,
      memoryMb: settings.functions.memoryMb,
      quota: quotaLabel(settings),
    },
    timing: {
      firstDeliveryMs: percentile(times, 0),
      lastDeliveryMs: last,
      p50DeliveryMs: percentile(times, 50),
      p99DeliveryMs: percentile(times, 99),
      deliveriesPerSecond: last ? Math.round((times.length / last) * 1000) : null,
    },
    outcomes: { ...book.outcomes(), duplicates: book.duplicateDeliveries },
    managementApi: {
      calls: managementApi.stats.calls,
      delivered: managementApi.stats.delivered,
      throttled: managementApi.stats.throttled,
      gone: managementApi.stats.gone,
      errors: managementApi.stats.errors,
    },
    code: { ...world.tallies },
    lambda: {
      peakWorkerConcurrency: worker.concurrency.peak,
      peakAccountConcurrency: lambda.account.peak,
      invocations: Object.fromEntries(all.map(([name, stats]) => [name, stats.invocations])),
      coldStarts: all.reduce((sum, [, stats]) => sum + stats.coldStarts, 0),
      asyncThrottles: all.reduce((sum, [, stats]) => sum + stats.throttles, 0),
      functionErrors: all.reduce((sum, [, stats]) => sum + stats.errors, 0),
      timeouts: all.reduce((sum, [, stats]) => sum + stats.timeouts, 0),
      deadLetterRecords: lambda.deadLetters.length,
      gbSeconds,
      gbSecondsByFunction,
    },
    dynamodb: {
      readUnits: dynamodb.stats.readUnits,
      writeUnits: dynamodb.stats.writeUnits,
      throttled: dynamodb.stats.throttled,
      writesOverCapacity: dynamodb.stats.writesOverCapacity,
    },
    stream: stream
      ? { invocations: stream.stats.invocations, failedRecords: stream.stats.failedRecords }
      : null,
    saturation: rows,
    bindingLimit: bindingLimit(rows, world),
    cost: costOf({
      invocations: all.reduce((sum, [, stats]) => sum + stats.invocations, 0),
      gbSeconds,
      delivered: managementApi.stats.delivered,
      readUnits: dynamodb.stats.readUnits,
      writeUnits: dynamodb.stats.writeUnits,
      payloadBytes: meta.payloadBytes,
    }),
    payloadBytes: meta.payloadBytes,
    curve: {
      binMs: deliveries.binMs * step,
      cumulative: cumulative.filter((_, i) => i % step === step - 1 || i === cumulative.length - 1),
    },
    run: {
      events: world.clock.eventsFired,
      wallMs: Math.round(meta.wallMs),
      virtualEndMs: Math.round(world.clock.now()),
    },
  };
}
