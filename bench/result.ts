import type { ColdStartRow } from './measurements/cold-start';
import type { BenchConfig } from './config';
import type { ReadCost } from './subscriber-reads';
import type { DeliveryStats } from './stats';

/** The JSON a run writes (bench/results/<timestamp>.json); the table and the chart are made from it. */
export interface BenchResult {
  schemaVersion: 1;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  machine: MachineInfo;
  config: BenchConfig;
  /** Connections held open for the whole run (the largest audience). */
  liveConnections: number;
  setup: { connectMs: number; connectionsPerSecond: number; subscriptions: number };
  fanOut: FanOutRow[];
  strategies: StrategyReport;
  createLatency: CreateLatencyReport;
  /** Absent from results written before it was measured. */
  postWriteRate?: PostWriteRateReport;
  readCost: ReadCostReport;
  concurrentBroadcasts: ConcurrentBroadcastsReport;
  coldStart: ColdStartRow[];
  notes: string[];
}

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  arch: string;
  /** 1, 5 and 15-minute load averages when the run started (they lag: a run just finished still shows). */
  loadAverageAtStart: number[];
  /** Share of all cores busy just before the run (before run.ts starts its stack): other work on the machine. */
  cpuBusyBeforeStart: number;
}

/** Fan-out to clients at one audience size: our path and both baselines. */
export interface FanOutRow {
  clients: number;
  /** POST /comments → comments API → broadcast API → Management API → gateway → client. */
  ours: DeliveryStats & { createMs: number };
  /** A plain `ws` server writing straight to the same clients. */
  plainWs: DeliveryStats;
  /** PostToConnection from a bounded loop, no handler in between. */
  managementApi: DeliveryStats;
  /** ours ÷ baseline, deliveries per second (1 = as fast as the baseline). */
  throughputVsPlainWs: number | null;
  throughputVsManagementApi: number | null;
}

export type StrategyName = 'broadcast handler' | 'sequential loop' | 'Promise.all';

export interface StrategyRow {
  audience: number;
  strategy: StrategyName;
  /**
   * From the start (the broadcast call, or the loop's subscriber read) until the last client had the event
   * or the sender was done, whichever is later. Capped strategies: until the budget stopped them.
   */
  wallMs: number;
  /** Full wall time extrapolated from the rate reached within the budget; only when capped. */
  projectedWallMs: number | null;
  capped: boolean;
  /** postToConnection calls made (completed) in the measured time. */
  attempted: number;
  /**
   * Calls the Management API answered 200; for the handler, what it reports delivered, plus what it
   * queued to fan-out workers when it hands large audiences over.
   */
  delivered: number;
  failed: number;
  /** SDK retries; null where they cannot be seen (inside the broadcast handler). */
  retries: number | null;
  /** Events the clients received. */
  received: number;
  /** attempted − received: calls made whose event never reached its client. */
  lost: number;
  deliveriesPerSecond: number;
  /** deliveriesPerSecond ÷ theoretical bound (concurrency / latency). */
  shareOfBound: number;
  errors: Record<string, number>;
}

export interface StrategyReport {
  latencyMs: number;
  rateLimitPerSecond: number;
  budgetMs: number;
  fanOutConcurrency: number;
  /** fanOutConcurrency / latency: what a handler with that many calls in flight can reach at most. */
  theoreticalBoundPerSecond: number;
  rows: StrategyRow[];
}

export interface CreateLatencyRow {
  subscribers: number;
  creates: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Median time from the POST's start to the last subscriber's receipt (null without subscribers). */
  fanOutCompleteP50Ms: number | null;
  /** Creates whose event reached every subscriber. */
  completeFanOuts: number;
  /**
   * Copies each subscriber received of each event, counted after the stream publisher had time to add a
   * second one (null without subscribers): 1.00 when each event is fanned out once, by one path.
   */
  deliveriesPerSubscriberPerEvent: number | null;
}

/** Many writers on one post at once: what it takes before it answers 503. */
export interface PostWriteRateReport {
  writers: number;
  durationMs: number;
  /** Creates answered 201. */
  created: number;
  /** Creates answered 503 (with Retry-After): too many changes to one post at once. */
  refused: number;
  /** Any other answer: should be none. */
  otherFailures: number;
  createdPerSecond: number;
  /** The post's seq at the end equals `created`: no gap, no double. */
  seqGapless: boolean;
}

export interface CreateLatencyReport {
  rows: CreateLatencyRow[];
  /** Loaded p50 ÷ idle p50: near 1 means creating a comment does not wait for the fan-out. */
  p50Ratio: number | null;
  p99Ratio: number | null;
  broadcastTimeoutMs: number;
}

export interface ReadCostReport {
  subscribers: number;
  liveConnections: number;
  query: ReadCost;
  scan: ReadCost;
  /** scan ÷ query consumed capacity. */
  capacityRatio: number | null;
  capacitySource: string;
}

export interface ConcurrentBroadcastsReport {
  broadcasts: number;
  subscribers: number;
  /** Until every broadcast API call answered. */
  allAnsweredMs: number;
  /** Until the last client received its last event. */
  lastDeliveryMs: number | null;
  expectedDeliveries: number;
  /** What the broadcast API reported as delivered (plus queued to fan-out workers, if it queues), summed. */
  reportedDelivered: number;
  received: number;
  failedRequests: number;
}
