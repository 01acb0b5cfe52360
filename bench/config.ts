import { intEnv, listEnv, optionalEnv, positiveIntEnv, type Env } from '../contracts/env-reader';
import { stageConfigs, type StageName } from '../lib/config/stage-config';

/**
 * What one benchmark run measures and at which sizes. Every size is configurable from the environment so
 * a smoke run (tests, CI) can use tiny audiences; `npm run bench` uses the defaults. BENCH_SCALE (e.g.
 * 0.1) multiplies every audience size at once; individual variables override it.
 */
export interface BenchConfig {
  stage: StageName;
  /** Processes (child_process.fork) that hold the WebSocket clients, apart from the server. */
  workers: number;
  /** Connections each worker opens at once while building the pool. */
  connectConcurrency: number;
  /** Fan-out to clients: clients per fan-out. */
  fanOutSizes: number[];
  /** Fan-out to clients: PostToConnection calls in flight when measuring the Management API's own ceiling. */
  ceilingConcurrency: number;
  /** Fan-out strategies: the audiences they are compared at. */
  strategyAudiences: number[];
  /** Fan-out strategies: added to every Management API call. */
  latencyMs: number;
  /** Fan-out strategies: Management API calls per second before 429. */
  rateLimitPerSecond: number;
  /** Fan-out strategies: a strategy still sending after this long is stopped and its full time projected. */
  strategyBudgetMs: number;
  /** Fan-out strategies: postToConnection calls one broadcast keeps in flight (the stage's fanOutConcurrency). */
  fanOutConcurrency: number;
  /** Create latency: sequential comment creates per case. */
  creates: number;
  /** Create latency: subscribers of the post in the loaded case. */
  createSubscribers: number;
  /** Writes to one post: writers creating comments on one post at once. */
  postWriteRateWriters: number;
  /** Writes to one post: how long they keep at it. */
  postWriteRateMs: number;
  /** Read cost and concurrent broadcasts: subscribers of the small post. */
  smallSubscribers: number;
  /** Concurrent broadcasts: broadcasts sent at once. */
  concurrentBroadcasts: number;
  /** Cold start: fresh processes per function (the median is reported). */
  coldStartRuns: number;
  /** Longest wait for one fan-out to reach every client before the rest are counted lost. */
  deliveryTimeoutMs: number;
}

export const DEFAULT_BENCH_CONFIG: BenchConfig = {
  stage: 'dev',
  workers: 4,
  connectConcurrency: 10,
  fanOutSizes: [100, 1000, 5000],
  ceilingConcurrency: 100,
  strategyAudiences: [1000, 10000],
  latencyMs: 20,
  rateLimitPerSecond: 10000,
  strategyBudgetMs: 20000,
  fanOutConcurrency: stageConfigs.dev.fanOutConcurrency,
  creates: 40,
  createSubscribers: 5000,
  postWriteRateWriters: 20,
  postWriteRateMs: 5000,
  smallSubscribers: 100,
  concurrentBroadcasts: 100,
  coldStartRuns: 5,
  deliveryTimeoutMs: 60000,
};

/**
 * BENCH_SCALE is the one fractional setting (0.1 shrinks every audience to a tenth), and the environment
 * reader has whole-number readers only, so it is read as text and checked here.
 */
function scaleFactor(env: Env): number {
  const raw = optionalEnv('BENCH_SCALE', '1', env);
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`Environment variable BENCH_SCALE must be a positive number, got "${raw}"`);
  return value;
}

/** Every audience size, the pool's size among them, derives from these. */
const scale = (size: number, factor: number): number => Math.max(1, Math.round(size * factor));

/**
 * Reads BENCH_* variables:
 * BENCH_SCALE, BENCH_WORKERS, BENCH_FANOUT_SIZES ("100,1000,5000"), BENCH_AUDIENCES ("1000,10000"),
 * BENCH_CEILING_CONCURRENCY, BENCH_LATENCY_MS, BENCH_RATE_LIMIT, BENCH_BUDGET_MS, BENCH_CREATES,
 * BENCH_CREATE_SUBSCRIBERS, BENCH_SMALL_SUBSCRIBERS, BENCH_CONCURRENT_BROADCASTS, BENCH_COLD_START_RUNS,
 * BENCH_DELIVERY_TIMEOUT_MS, BENCH_CONNECT_CONCURRENCY.
 */
export function configFromEnv(env: Env = process.env): BenchConfig {
  const factor = scaleFactor(env);
  const base = DEFAULT_BENCH_CONFIG;
  const int = (name: string, fallback: number): number => positiveIntEnv(name, fallback, env);
  /** Sizes listed in the variable, or else the defaults scaled by BENCH_SCALE. */
  const sizes = (name: string, fallback: number[]): number[] => {
    const listed = listEnv(name, [], env);
    if (listed.length === 0) return fallback.map((size) => scale(size, factor));
    // Each size is read as if it were the variable's whole value, so a bad one fails with the variable's name.
    return listed.map((size) => positiveIntEnv(name, { [name]: size }));
  };
  return {
    ...base,
    workers: int('BENCH_WORKERS', base.workers),
    connectConcurrency: int('BENCH_CONNECT_CONCURRENCY', base.connectConcurrency),
    fanOutSizes: sizes('BENCH_FANOUT_SIZES', base.fanOutSizes),
    ceilingConcurrency: int('BENCH_CEILING_CONCURRENCY', base.ceilingConcurrency),
    strategyAudiences: sizes('BENCH_AUDIENCES', base.strategyAudiences),
    // 0 is a meaningful latency (no added delay).
    latencyMs: intEnv('BENCH_LATENCY_MS', base.latencyMs, env),
    rateLimitPerSecond: int('BENCH_RATE_LIMIT', base.rateLimitPerSecond),
    strategyBudgetMs: int('BENCH_BUDGET_MS', base.strategyBudgetMs),
    creates: int('BENCH_CREATES', base.creates),
    createSubscribers: int('BENCH_CREATE_SUBSCRIBERS', scale(base.createSubscribers, factor)),
    postWriteRateWriters: int('BENCH_POST_WRITERS', base.postWriteRateWriters),
    postWriteRateMs: int('BENCH_POST_WRITE_MS', base.postWriteRateMs),
    smallSubscribers: int('BENCH_SMALL_SUBSCRIBERS', scale(base.smallSubscribers, factor)),
    concurrentBroadcasts: int('BENCH_CONCURRENT_BROADCASTS', base.concurrentBroadcasts),
    coldStartRuns: int('BENCH_COLD_START_RUNS', base.coldStartRuns),
    deliveryTimeoutMs: int('BENCH_DELIVERY_TIMEOUT_MS', base.deliveryTimeoutMs),
  };
}

/**
 * The connection pool serves every measurement: connection i subscribes to the post of each audience size
 * greater than i, so the first 100 connections are in every audience and all of them in the largest.
 */
export function audienceSizes(config: BenchConfig): number[] {
  const sizes = new Set<number>([
    ...config.fanOutSizes,
    ...config.strategyAudiences,
    config.createSubscribers,
    config.smallSubscribers,
  ]);
  return [...sizes].sort((a, b) => a - b);
}

export function poolSize(config: BenchConfig): number {
  return Math.max(...audienceSizes(config));
}
