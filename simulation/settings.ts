import type { RetryPolicy } from '../contracts/backoff';
import { stageConfigs, type StageConfig } from '../lib/config/stage-config';
import type { DynamoDbSettings } from './models/dynamodb';
import type { ClientCpuCosts } from './models/environment';
import type { LambdaSettings } from './models/lambda';
import type { ManagementApiSettings } from './models/management-api';
import type { StreamMappingSettings } from './models/stream-mapping';
import type { LatencySpec } from './random';

/** The stage settings the fan-out reads (lib/config/stage-config.ts). */
export type FanOutStage = Pick<
  StageConfig,
  | 'fanOutConcurrency'
  | 'fanOutBatchSize'
  | 'fanOutMaxGenerations'
  | 'fanOutWorkerConcurrency'
  | 'fanOutMaxEventAgeSeconds'
  | 'fanOutMemoryMb'
  | 'publishing'
> & { readonly fanOutRetry: RetryPolicy };

export const stageOf = (config: StageConfig): FanOutStage => ({
  fanOutConcurrency: config.fanOutConcurrency,
  fanOutBatchSize: config.fanOutBatchSize,
  fanOutRetry: config.fanOutRetry,
  fanOutMaxGenerations: config.fanOutMaxGenerations,
  fanOutWorkerConcurrency: config.fanOutWorkerConcurrency,
  fanOutMaxEventAgeSeconds: config.fanOutMaxEventAgeSeconds,
  fanOutMemoryMb: config.fanOutMemoryMb,
  publishing: config.publishing,
});

export interface FunctionSettings {
  /** The fan-out functions' memory (the stage's fanOutMemoryMb; arm64). */
  readonly memoryMb: number;
  /** Module init in ms of one full core: bench/results/latest.json, cold-start rows. */
  readonly broadcastInitMs: number;
  readonly workerInitMs: number;
  readonly publisherInitMs: number;
  readonly broadcastTimeoutMs: number;
  readonly workerTimeoutMs: number;
  readonly publisherTimeoutMs: number;
}

export interface SimulationSettings {
  readonly seed: number;
  readonly stage: FanOutStage;
  readonly managementApi: ManagementApiSettings;
  readonly lambda: LambdaSettings;
  readonly dynamodb: DynamoDbSettings;
  readonly stream: StreamMappingSettings;
  readonly functions: FunctionSettings;
  /** From the commit to the broadcast function's background job being queued (HTTP API, sync hop, Invoke). */
  readonly fastPathDelay: LatencySpec;
  readonly clientCpu: ClientCpuCosts;
  /** Share of subscribers whose connection is gone without a $disconnect (410 on the next push). */
  readonly staleShare: number;
}

/** One documented parameter: what docs/capacity.md lists, with where its value comes from. */
export interface Parameter {
  readonly name: string;
  readonly value: string;
  readonly basis: 'AWS default' | 'AWS behaviour' | 'assumption' | 'measured here' | 'our code';
  readonly source: string;
}

export const SOURCES = {
  apiGatewayQuotas: 'https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html',
  webSocketQuotas:
    'https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-execution-service-websocket-limits-table.html',
  lambdaScaling: 'https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html',
  lambdaConcurrency: 'https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html',
  lambdaAsyncErrors: 'https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html',
  lambdaAsyncConfig: 'https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-configuring.html',
  lambdaMemory: 'https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html',
  lambdaInitBilling: 'https://aws.amazon.com/blogs/compute/aws-lambda-standardizes-billing-for-init-phase/',
  dynamoPagination: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html',
  dynamoCapacity:
    'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html',
  dynamoPartitions:
    'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html',
  sdkRetries: 'https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html',
  apiGatewayPricing: 'https://aws.amazon.com/api-gateway/pricing/',
  lambdaPricing: 'https://aws.amazon.com/lambda/pricing/',
  dynamoPricing: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
} as const;

/** AWS as documented (defaults) and as assumed where AWS documents nothing (latencies). */
export const AWS_SERVICES = {
  managementApi: {
    latency: { p50Ms: 20, p99Ms: 80 },
    admission: { kind: 'tokenBucket', ratePerSecond: 10_000, burst: 5_000, otherTrafficPerSecond: 0 },
    errorShare: 0.0001,
  },
  lambda: {
    mode: 'aws',
    accountConcurrency: 1_000,
    scalingBurst: 1_000,
    scalingRefillPerSecond: 100,
    invokeLatency: { p50Ms: 15, p99Ms: 60 },
    asyncStartDelay: { p50Ms: 25, p99Ms: 200 },
    throttleRetryFirstMs: 1_000,
    throttleRetryMaxMs: 300_000,
    errorRetryDelaysMs: [60_000, 120_000],
    maxAsyncPayloadBytes: 1_048_576,
    vcpuMemoryMb: 1_769,
    maxSocketsPerClient: 50,
  },
  dynamodb: {
    latency: { p50Ms: 5, p99Ms: 20 },
    transferMsPerMb: 10,
    pageBytes: 1_048_576,
    partitionReadUnitsPerSecond: 3_000,
    partitionWriteUnitsPerSecond: 1_000,
    sdkMaxAttempts: 3,
    sdkThrottlingBaseDelayMs: 500,
  },
  fastPathDelay: { p50Ms: 40, p99Ms: 150 },
  staleShare: 0.01,
} as const satisfies Pick<
  SimulationSettings,
  'managementApi' | 'lambda' | 'dynamodb' | 'fastPathDelay' | 'staleShare'
>;

/** The stream mapping as the stage configures it; the delay is assumed (Lambda polls a shard ~4 times a second). */
export function streamSettings(stage: FanOutStage): StreamMappingSettings {
  return {
    delay: { p50Ms: 300, p99Ms: 1_000 },
    pollIntervalMs: 250,
    batchSize: stage.publishing.batchSize,
    parallelizationFactor: stage.publishing.parallelizationFactor,
    maxRetryAttempts: stage.publishing.maxRetryAttempts,
    retryDelayMs: 1_000,
  };
}

export const PROD_STAGE: FanOutStage = stageOf(stageConfigs.prod);
export const DEV_STAGE: FanOutStage = stageOf(stageConfigs.dev);

/** The parameter table of docs/capacity.md, from the very values above. */
export function parameters(functions: FunctionSettings, cpu: ClientCpuCosts): Parameter[] {
  const { managementApi: m, lambda: l, dynamodb: d } = AWS_SERVICES;
  const ms = (spec: LatencySpec): string => `p50 ${spec.p50Ms} ms, p99 ${spec.p99Ms} ms (lognormal)`;
  const s = SOURCES;
  return [
    {
      name: 'Management API: account throttle quota',
      value: `${m.admission.ratePerSecond.toLocaleString('en-US')} requests/s, bucket ${m.admission.burst.toLocaleString('en-US')}; shared with every API Gateway request of the account and Region; empty → 429`,
      basis: 'AWS default',
      source: s.apiGatewayQuotas,
    },
    {
      name: 'Management API: PostToConnection latency',
      value: ms(m.latency),
      basis: 'assumption',
      source: 'not published by AWS; measure with X-Ray on a deployed stage',
    },
    { name: 'Management API: 5xx share', value: `${m.errorShare * 100} %`, basis: 'assumption', source: '' },
    {
      name: 'Stale subscribers (410 GoneException)',
      value: `${AWS_SERVICES.staleShare * 100} % of an audience`,
      basis: 'assumption',
      source: s.webSocketQuotas,
    },
    {
      name: 'Lambda: account concurrency',
      value: `${l.accountConcurrency.toLocaleString('en-US')} (reserved concurrency is carved out of it)`,
      basis: 'AWS default',
      source: s.lambdaConcurrency,
    },
    {
      name: 'Lambda: scaling rate',
      value: `${l.scalingBurst.toLocaleString('en-US')} new execution environments per 10 s per function, refilled continuously (since Nov 2023)`,
      basis: 'AWS behaviour',
      source: s.lambdaScaling,
    },
    {
      name: 'Lambda: async event throttled (no concurrency)',
      value: `back to the queue, retried after ${l.throttleRetryFirstMs / 1000} s, doubling to ${l.throttleRetryMaxMs / 60_000} min (±50 % jitter assumed)`,
      basis: 'AWS behaviour',
      source: s.lambdaAsyncErrors,
    },
    {
      name: 'Lambda: async retries after a function error',
      value: `2, about ${l.errorRetryDelaysMs.map((x) => x / 60_000).join(' and ')} min later; then the on-failure destination`,
      basis: 'AWS default',
      source: s.lambdaAsyncErrors,
    },
    {
      name: 'Lambda: maximum event age (worker)',
      value: "the stage's fanOutMaxEventAgeSeconds (6 h in prod; 6 h is also the maximum)",
      basis: 'our code',
      source: s.lambdaAsyncConfig,
    },
    {
      name: 'Lambda: Invoke (Event) latency; queue to start',
      value: `${ms(l.invokeLatency)}; ${ms(l.asyncStartDelay)}`,
      basis: 'assumption',
      source: '',
    },
    {
      name: 'Lambda: CPU',
      value: `memory ÷ ${l.vcpuMemoryMb} MB of one vCPU: ${(functions.memoryMb / l.vcpuMemoryMb).toFixed(3)} vCPU at ${functions.memoryMb} MB`,
      basis: 'AWS behaviour',
      source: s.lambdaMemory,
    },
    {
      name: 'Lambda: cold start (module init)',
      value: `${functions.workerInitMs} ms (worker), ${functions.broadcastInitMs} ms (broadcast) of one core, ÷ the CPU share; billed since Aug 2025`,
      basis: 'measured here',
      source: 'bench/results/latest.json (cold-start rows); ' + s.lambdaInitBilling,
    },
    {
      name: 'SDK client: requests on the wire',
      value: `${l.maxSocketsPerClient} per client (the default HTTP agent)`,
      basis: 'our code',
      source: '@smithy/node-http-handler',
    },
    {
      name: 'SDK client: CPU per call',
      value: `PostToConnection ${cpu.managementCallMs.toFixed(3)} ms, Invoke ${cpu.invokeCallMs.toFixed(3)} ms, DynamoDB ${cpu.dynamodbCallMs.toFixed(3)} ms + ${(cpu.dynamodbItemMs * 1000).toFixed(1)} µs per item returned, of one core`,
      basis: 'measured here',
      source: 'simulation/calibration.ts (our adapters and the SDK, stubbed transport)',
    },
    {
      name: 'DynamoDB: Query page',
      value: `${d.pageBytes / 1_048_576} MB`,
      basis: 'AWS behaviour',
      source: s.dynamoPagination,
    },
    {
      name: 'DynamoDB: read cost',
      value: 'strongly consistent: 1 read unit per 4 KB of a page (eventually consistent: half)',
      basis: 'AWS behaviour',
      source: s.dynamoCapacity,
    },
    {
      name: 'DynamoDB: per-partition throughput',
      value: `${d.partitionReadUnitsPerSecond.toLocaleString('en-US')} read units/s, ${d.partitionWriteUnitsPerSecond.toLocaleString('en-US')} write units/s`,
      basis: 'AWS behaviour',
      source: s.dynamoPartitions,
    },
    {
      name: 'DynamoDB: latency',
      value: `${ms(d.latency)} + ${d.transferMsPerMb} ms per MB returned`,
      basis: 'assumption',
      source: '',
    },
    {
      name: 'SDK retries of a throttled DynamoDB call',
      value: `${d.sdkMaxAttempts} attempts, full-jitter backoff from ${d.sdkThrottlingBaseDelayMs} ms`,
      basis: 'AWS default',
      source: s.sdkRetries,
    },
    {
      name: 'Fast path: commit → broadcast job queued',
      value: ms(AWS_SERVICES.fastPathDelay),
      basis: 'assumption',
      source: '',
    },
  ];
}
