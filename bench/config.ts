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
  /** Item 1: clients per fan-out. */
  fanOutSizes: number[];
  /** Item 1, baseline (b): PostToConnection calls in flight when measuring the Management API's ceiling. */
  ceilingConcurrency: number;
  /** Item 2: audiences for the fan-out strategies. */
  strategyAudiences: number[];
  /** Item 2: added to every Management API call. */
  latencyMs: number;
  /** Item 2: Management API calls per second before 429. */
  rateLimitPerSecond: number;
  /** Item 2: a strategy still sending after this long is stopped and its full time projected. */
  strategyBudgetMs: number;
  /** Item 2: postToConnection calls one broadcast keeps in flight (the stage config's fanOutConcurrency). */
  fanOutConcurrency: number;
  /** Item 3: sequential comment creates per case. */
  creates: number;
  /** Item 3: subscribers of the post in the loaded case. */
  createSubscribers: number;
  /** Items 4 and 5: subscribers of the small post. */
  smallSubscribers: number;
  /** Item 5: broadcasts sent at once. */
  concurrentBroadcasts: number;
  /** Item 6: fresh processes per function (the median is reported). */
  coldStartRuns: number;
  /** Longest wait for one fan-out to reach every client before the rest are counted lost. */
  deliveryTimeoutMs: number;
}

export const DEFAULT_BENCH_CONFIG: BenchConfig = {
  stage: 'dev',
  workers: 4,
  connectConcurrency: 25,
  fanOutSizes: [100, 1000, 5000],
  ceilingConcurrency: 100,
  strategyAudiences: [1000, 10000],
  latencyMs: 20,
  rateLimitPerSecond: 10000,
  strategyBudgetMs: 20000,
  fanOutConcurrency: stageConfigs.dev.fanOutConcurrency,
  creates: 30,
  createSubscribers: 5000,
  smallSubscribers: 100,
  concurrentBroadcasts: 100,
  coldStartRuns: 5,
  deliveryTimeoutMs: 60000,
};

function positiveNumber(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

function nonNegativeInt(name: string, raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0)
    throw new Error(`${name} must be a whole number ≥ 0, got "${raw}"`);
  return value;
}

function positiveInt(name: string, raw: string): number {
  const value = positiveNumber(name, raw);
  if (!Number.isInteger(value)) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

function intList(name: string, raw: string): number[] {
  const values = raw.split(',').map((part) => positiveInt(name, part.trim()));
  if (values.length === 0) throw new Error(`${name} must list at least one size`);
  return values;
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
export function configFromEnv(env: Record<string, string | undefined> = process.env): BenchConfig {
  const read = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const factor = read('BENCH_SCALE') ? positiveNumber('BENCH_SCALE', read('BENCH_SCALE') ?? '') : 1;
  const base = DEFAULT_BENCH_CONFIG;
  const int = (name: string, fallback: number): number => {
    const raw = read(name);
    return raw === undefined ? fallback : positiveInt(name, raw);
  };
  const list = (name: string, fallback: number[]): number[] => {
    const raw = read(name);
    return raw === undefined ? fallback.map((size) => scale(size, factor)) : intList(name, raw);
  };
  return {
    ...base,
    workers: int('BENCH_WORKERS', base.workers),
    connectConcurrency: int('BENCH_CONNECT_CONCURRENCY', base.connectConcurrency),
    fanOutSizes: list('BENCH_FANOUT_SIZES', base.fanOutSizes),
    ceilingConcurrency: int('BENCH_CEILING_CONCURRENCY', base.ceilingConcurrency),
    strategyAudiences: list('BENCH_AUDIENCES', base.strategyAudiences),
    // 0 is a meaningful latency (no added delay).
    latencyMs:
      read('BENCH_LATENCY_MS') === undefined
        ? base.latencyMs
        : nonNegativeInt('BENCH_LATENCY_MS', read('BENCH_LATENCY_MS') ?? ''),
    rateLimitPerSecond: int('BENCH_RATE_LIMIT', base.rateLimitPerSecond),
    strategyBudgetMs: int('BENCH_BUDGET_MS', base.strategyBudgetMs),
    creates: int('BENCH_CREATES', base.creates),
    createSubscribers: int('BENCH_CREATE_SUBSCRIBERS', scale(base.createSubscribers, factor)),
    smallSubscribers: int('BENCH_SMALL_SUBSCRIBERS', scale(base.smallSubscribers, factor)),
    concurrentBroadcasts: int('BENCH_CONCURRENT_BROADCASTS', base.concurrentBroadcasts),
    coldStartRuns: int('BENCH_COLD_START_RUNS', base.coldStartRuns),
    deliveryTimeoutMs: int('BENCH_DELIVERY_TIMEOUT_MS', base.deliveryTimeoutMs),
  };
}

/**
 * The connection pool serves every item: connection i subscribes to the post of each audience size
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
