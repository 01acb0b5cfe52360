import { costOf, quotaLabel, type ScenarioResult } from './results';
import type { SimulationSettings } from './settings';
import { FUNCTIONS, type Workload } from './system';

/**
 * A 1:k scale model, for the runs with a million connections. Every shared capacity is divided by k (the
 * account's Management API quota and its bucket, the Lambda account and scaling limits, the worker cap, the
 * stream's parallel batches, a DynamoDB partition's throughput and a Query page's size) and so is the
 * audience (posts, or else subscribers); what one connection, one worker batch or one Query page goes
 * through stays the same: the batch size, the calls in flight, the retry policy, the latencies and each
 * page's CPU (fewer, heavier items). Times come out unchanged and counts are multiplied back by k.
 * The 100,000-subscriber run is also simulated at 1:10 and shown beside the full one, as a check.
 */
export function scaleDown(
  settings: SimulationSettings,
  workload: Workload,
  k: number,
): { settings: SimulationSettings; workload: Workload } {
  if (!(k >= 1) || !Number.isInteger(k)) throw new RangeError(`scale must be a whole number ≥ 1, got ${k}`);
  if (k === 1) return { settings, workload };
  const admission = settings.managementApi.admission;
  if (admission.kind !== 'tokenBucket') throw new Error('only AWS runs are scaled');
  const byPosts = workload.posts % k === 0;
  if (!byPosts && workload.subscribersPerPost % k !== 0)
    throw new RangeError(`${k} divides neither posts nor subscribers`);
  const { stage, lambda, dynamodb, clientCpu } = settings;
  return {
    settings: {
      ...settings,
      stage: {
        ...stage,
        fanOutWorkerConcurrency: Math.max(1, Math.round(stage.fanOutWorkerConcurrency / k)),
      },
      managementApi: {
        ...settings.managementApi,
        admission: {
          ...admission,
          ratePerSecond: admission.ratePerSecond / k,
          burst: admission.burst / k,
          otherTrafficPerSecond: admission.otherTrafficPerSecond / k,
        },
      },
      lambda: {
        ...lambda,
        accountConcurrency: Math.max(1, Math.round(lambda.accountConcurrency / k)),
        scalingBurst: Math.max(1, Math.round(lambda.scalingBurst / k)),
        scalingRefillPerSecond: lambda.scalingRefillPerSecond / k,
      },
      dynamodb: {
        ...dynamodb,
        pageBytes: dynamodb.pageBytes / k,
        transferMsPerMb: dynamodb.transferMsPerMb * k,
        partitionReadUnitsPerSecond: dynamodb.partitionReadUnitsPerSecond / k,
        partitionWriteUnitsPerSecond: dynamodb.partitionWriteUnitsPerSecond / k,
      },
      clientCpu: { ...clientCpu, dynamodbItemMs: clientCpu.dynamodbItemMs * k },
      stream: {
        ...settings.stream,
        parallelizationFactor: Math.max(1, Math.round(settings.stream.parallelizationFactor / k)),
      },
    },
    workload: byPosts
      ? { ...workload, posts: workload.posts / k }
      : { ...workload, subscribersPerPost: workload.subscribersPerPost / k },
  };
}

/**
 * Multiplies a scaled run's counts back by k; times, shares and settings stay as they are. A single post
 * scaled by its subscribers still has one broadcast and one stream invocation, whose work (the audience's
 * pages) the model kept whole: those are not multiplied.
 */
export function scaleUp(
  result: ScenarioResult,
  k: number,
  full: Workload,
  settings: SimulationSettings,
): ScenarioResult {
  if (k === 1) return result;
  const byPosts = full.posts % k === 0;
  const times = <T extends object>(record: T): T =>
    Object.fromEntries(Object.entries(record).map(([key, value]) => [key, (value as number) * k])) as T;
  const perFunction = (record: Record<string, number>): Record<string, number> =>
    Object.fromEntries(
      Object.entries(record).map(([name, value]) => [
        name,
        byPosts || name === FUNCTIONS.worker ? value * k : value,
      ]),
    );
  const invocations = perFunction(result.lambda.invocations);
  // The one broadcast and one stream invocation of a post scaled by its subscribers, cold each.
  const single = Math.min(
    result.lambda.coldStarts,
    (result.lambda.invocations[FUNCTIONS.broadcast] ?? 0) +
      (result.lambda.invocations[FUNCTIONS.publisher] ?? 0),
  );
  const gbSecondsByFunction = perFunction(result.lambda.gbSecondsByFunction);
  const gbSeconds = Object.values(gbSecondsByFunction).reduce((sum, value) => sum + value, 0);
  const managementApi = times(result.managementApi);
  const dynamodb = times(result.dynamodb);
  return {
    ...result,
    workload: {
      posts: full.posts,
      subscribersPerPost: full.subscribersPerPost,
      addressed: full.posts * full.subscribersPerPost,
    },
    settings: {
      ...result.settings,
      fanOutWorkerConcurrency: settings.stage.fanOutWorkerConcurrency,
      quota: quotaLabel(settings),
      scale: k,
    },
    timing: {
      ...result.timing,
      deliveriesPerSecond:
        result.timing.deliveriesPerSecond === null ? null : result.timing.deliveriesPerSecond * k,
    },
    outcomes: times(result.outcomes),
    managementApi,
    code: {
      ...times(result.code),
      ...(byPosts
        ? {}
        : { fastPathPublished: result.code.fastPathPublished, fastPathSkipped: result.code.fastPathSkipped }),
    },
    lambda: {
      ...result.lambda,
      peakWorkerConcurrency: result.lambda.peakWorkerConcurrency * k,
      // Scaled by subscribers, only the workers multiply: the broadcast and stream functions are one each.
      peakAccountConcurrency: byPosts
        ? result.lambda.peakAccountConcurrency * k
        : result.lambda.peakAccountConcurrency + result.lambda.peakWorkerConcurrency * (k - 1),
      invocations,
      coldStarts: byPosts ? result.lambda.coldStarts * k : result.lambda.coldStarts * k - single * (k - 1),
      asyncThrottles: result.lambda.asyncThrottles * k,
      functionErrors: result.lambda.functionErrors * k,
      timeouts: result.lambda.timeouts * k,
      deadLetterRecords: result.lambda.deadLetterRecords * k,
      gbSeconds,
      gbSecondsByFunction,
    },
    dynamodb,
    stream: result.stream
      ? {
          ...result.stream,
          failedRecords: result.stream.failedRecords * (byPosts ? k : 1),
          invocations: result.stream.invocations * (byPosts ? k : 1),
        }
      : null,
    cost: costOf({
      invocations: Object.values(invocations).reduce((sum, value) => sum + value, 0),
      gbSeconds,
      delivered: managementApi.delivered,
      readUnits: dynamodb.readUnits,
      writeUnits: dynamodb.writeUnits,
      payloadBytes: result.payloadBytes,
    }),
    curve: { binMs: result.curve.binMs, cumulative: result.curve.cumulative.map((count) => count * k) },
  };
}
