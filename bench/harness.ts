import { randomBytes } from 'node:crypto';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { stageConfigs } from '../lib/config/stage-config';
import { ClientPool } from './client-pool';
import { measureColdStarts } from './cold-start';
import { audienceSizes, poolSize, type BenchConfig } from './config';
import { PlainWebSocketServer } from './plain-ws-server';
import { cpuBusyShare, machineInfo } from './machine';
import { fullScanCost, subscriberQueryCost } from './read-cost';
import type {
  BenchResult,
  ConcurrentBroadcastsReport,
  CreateLatencyReport,
  CreateLatencyRow,
  FanOutRow,
  MachineInfo,
  ReadCostReport,
  StrategyReport,
  StrategyRow,
} from './result';
import { deliveryStats, median, percentile, round } from './stats';
import { boundedFanOut, promiseAllFanOut, sequentialFanOut, type StrategyRun } from './strategies';
import {
  broadcast,
  connectionCount,
  createComment,
  createPost,
  loadBenchTarget,
  managementClient,
  resetFaults,
  setFaults,
  webSocketConnectUrl,
  type BenchTarget,
} from './target';
import { sharedNow } from './worker-protocol';

export interface HarnessOptions {
  /** The local stack's outputs file (`npm start` / the e2e setup / bench/run.ts write one). */
  outputsFile: string;
  /** Its synthesized cloud assembly (LOCAL_ASSEMBLY_DIR), for the cold-start item. */
  assemblyDir: string;
  config: BenchConfig;
  log?: (line: string) => void;
  /**
   * Called once every item is measured, before the client connections are closed. run.ts stops its own
   * stack here: closing 10,000 clients first would start 10,000 $disconnects on a stack about to go away.
   * Without it, the clients close with close frames so that a shared stack is left clean.
   */
  beforeClosingClients?: () => Promise<void>;
  /** Measured by run.ts before it starts its stack; otherwise sampled here, with the stack idle. */
  cpuBusyBeforeStart?: number;
}

const USER_ID = 'bench-user';
/** Every pool connection listens as this user (a token is per user, not per connection). */
const LISTENER_ID = 'bench-listener';
/** After a loop's last call was answered, its events are already on their way: a short quiet ends the wait. */
const SETTLE_QUIET_MS = 2_000;
/** A broadcast API that hands work to fan-out workers answers first; their deliveries may start later. */
const HANDED_OVER_QUIET_MS = 5_000;
const CONNECT_TIMEOUT_MS = 60_000;
/** The local rate limiter counts per wall-clock second; a pause keeps one strategy's calls out of the next's window. */
const RATE_WINDOW_PAUSE_MS = 1_100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The same bytes the comments API broadcasts for a new comment, with `content` as the marker. */
function commentCreatedPayload(postId: string, marker: string): string {
  const createdAt = new Date().toISOString();
  return JSON.stringify({
    type: 'comment.created',
    data: {
      postId,
      comment: {
        id: randomBytes(13).toString('hex').slice(0, 26).toUpperCase(),
        postId,
        userId: USER_ID,
        content: marker,
        createdAt,
      },
    },
  });
}

class Bench {
  private readonly runId = randomBytes(4).toString('hex');
  private readonly notes: string[] = [];
  private readonly posts = new Map<number, string>();
  private quietPost = '';
  private clients: ClientPool | undefined;

  constructor(
    private readonly target: BenchTarget,
    private readonly options: HarnessOptions,
    private readonly log: (line: string) => void,
  ) {}

  private get config(): BenchConfig {
    return this.options.config;
  }

  private get pool(): ClientPool {
    if (!this.clients) throw new Error('client pool not started');
    return this.clients;
  }

  private marker(name: string): string {
    return `bench-${this.runId}-${name}`;
  }

  private postFor(audience: number): string {
    const postId = this.posts.get(audience);
    if (!postId) throw new Error(`no post for audience ${audience}`);
    return postId;
  }

  async run(): Promise<BenchResult> {
    const startedAt = new Date();
    const machine = machineInfo(this.options.cpuBusyBeforeStart ?? (await cpuBusyShare(1_000)));
    const config = this.config;
    await resetFaults(this.target);

    // Cold starts first, while the machine is idle: they time fresh processes.
    const coldStart = await measureColdStarts(this.options.assemblyDir, config.coldStartRuns, this.log);

    const sizes = audienceSizes(config);
    for (const size of sizes) {
      this.posts.set(size, (await createPost(this.target, USER_ID, `bench ${size}`)).id);
    }
    this.quietPost = (await createPost(this.target, USER_ID, 'bench, no subscribers')).id;

    this.log(`starting ${config.workers} client worker processes …`);
    this.clients = await ClientPool.start(config.workers, this.log);
    try {
      const setup = await this.connectPool(sizes);
      await this.warmUp();
      const readCost = await this.measureReadCost();
      const fanOut = await this.measureFanOut();
      const createLatency = await this.measureCreateLatency();
      const concurrentBroadcasts = await this.measureConcurrentBroadcasts();
      const strategies = await this.measureStrategies();
      this.addNotes(machine, createLatency, strategies);
      const finishedAt = new Date();
      return {
        schemaVersion: 1,
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        machine,
        config,
        liveConnections: poolSize(config),
        setup,
        fanOut,
        strategies,
        createLatency,
        readCost,
        concurrentBroadcasts,
        coldStart,
        notes: this.notes,
      };
    } finally {
      const { beforeClosingClients } = this.options;
      if (beforeClosingClients) {
        await beforeClosingClients();
      } else {
        await resetFaults(this.target).catch(() => undefined);
        this.log('closing client connections …');
        await this.pool.closePool('api', true).catch(() => undefined);
      }
      await this.pool.stop();
    }
  }

  /** What a reader needs to read the numbers right; some depend on what was measured. */
  private addNotes(machine: MachineInfo, create: CreateLatencyReport, strategies: StrategyReport): void {
    this.notes.push(
      `Everything shares this machine's ${machine.cpus} cores: the local stack (one process: gateway, functions in ` +
        'worker threads), DynamoDB Local (a JVM), the client processes and the benchmark. Absolute numbers are ' +
        "this machine's; the ratios between paths measured side by side are the point.",
      strategies.rows.some((row) => row.strategy === 'broadcast handler' && row.retries === null)
        ? 'Retries inside the broadcast handler cannot be seen from outside (its SDK client retries throttled ' +
            'calls by itself; its answer does not count them): n/a. The loops count theirs from the SDK ($metadata.attempts).'
        : 'The broadcast handler counts its own retries in its answer; the loops count theirs from the SDK ($metadata.attempts).',
      `The SDK's default HTTP agent opens at most 50 sockets per host, so "Promise.all" has at most 50 calls in ` +
        `flight, like the handler's FAN_OUT_CONCURRENCY (${strategies.fanOutConcurrency}); the rest queue in the agent.`,
    );
    if (machine.cpuBusyBeforeStart > 0.2) {
      this.notes.push(
        `${Math.round(machine.cpuBusyBeforeStart * 100)} % of the CPU was busy with other work just before the ` +
          'run: the numbers are lower than on an idle machine.',
      );
    }
    if (create.p50Ratio !== null && create.p50Ratio > 2) {
      this.notes.push(
        `Creating a comment on a post with subscribers takes ${create.p50Ratio} × as long (p50): the comments API ` +
          `waits for the broadcast API's answer (at most ${create.broadcastTimeoutMs} ms), which comes after the ` +
          "broadcast's own work.",
      );
    }
    if (strategies.rows.some((row) => row.capped)) {
      this.notes.push(
        `Projected wall times are extrapolated from the rate reached within the ${strategies.budgetMs / 1000} s budget, ` +
          'not measured.',
      );
    }
  }

  /** Connection i subscribes to the post of every audience larger than i. */
  private async connectPool(sizes: number[]): Promise<BenchResult['setup']> {
    const total = poolSize(this.config);
    const specs = Array.from({ length: total }, (_, index) => ({
      index,
      posts: sizes.filter((size) => index < size).map((size) => this.postFor(size)),
    }));
    const subscriptions = specs.reduce((sum, spec) => sum + spec.posts.length, 0);
    this.log(`connecting ${total} clients (${subscriptions} subscriptions) …`);
    const started = Date.now();
    const url = await webSocketConnectUrl(this.target, LISTENER_ID);
    const result = await this.pool.open('api', url, specs, {
      queryIndex: false,
      concurrency: this.config.connectConcurrency,
      timeoutMs: CONNECT_TIMEOUT_MS,
      label: 'connecting',
    });
    const connectMs = Date.now() - started;
    if (result.failed > 0) {
      throw new Error(`${result.failed} of ${total} clients could not connect: ${result.errors.join('; ')}`);
    }
    const live = await connectionCount(this.target);
    if (live < total) throw new Error(`the broadcast API counts ${live} connections, expected ≥ ${total}`);
    this.log(`connected ${total} clients in ${(connectMs / 1000).toFixed(1)} s`);
    return {
      connectMs,
      connectionsPerSecond: Math.round((total / connectMs) * 1000),
      subscriptions,
    };
  }

  /** One create and one broadcast before measuring, so no item pays for the functions' first calls. */
  private async warmUp(): Promise<void> {
    const smallest = Math.min(...this.posts.keys());
    await createComment(this.target, USER_ID, this.quietPost, this.marker('warmup-create'));
    const marker = this.marker('warmup');
    await createComment(this.target, USER_ID, this.postFor(smallest), marker);
    await this.pool.waitForDeliveries({ [marker]: smallest }, { timeoutMs: this.config.deliveryTimeoutMs });
    await this.pool.forget([marker]);
  }

  private async receipts(marker: string, expected: number, quietMs?: number): Promise<number[]> {
    await this.pool.waitForDeliveries(
      { [marker]: expected },
      { timeoutMs: this.config.deliveryTimeoutMs, ...(quietMs ? { quietMs } : {}) },
    );
    const times = (await this.pool.times([marker]))[marker] ?? [];
    await this.pool.forget([marker]);
    return times;
  }

  /** Item 4: what one broadcast reads, the repository's Query against the samples' Scan. */
  private async measureReadCost(): Promise<ReadCostReport> {
    const subscribers = this.config.smallSubscribers;
    this.log(`read cost: subscribers of a ${subscribers}-subscriber post vs a full Scan …`);
    const postId = this.postFor(subscribers);
    const { cost: query, connectionIds } = await subscriberQueryCost(this.target, postId);
    if (connectionIds.length !== subscribers) {
      this.notes.push(
        `read cost: the Query found ${connectionIds.length} subscribers, expected ${subscribers}`,
      );
    }
    const scan = await fullScanCost(this.target, postId);
    const reported = query.requestsWithoutCapacity === 0 && scan.requestsWithoutCapacity === 0;
    return {
      subscribers,
      liveConnections: poolSize(this.config),
      query,
      scan,
      capacityRatio:
        query.consumedCapacityUnits > 0
          ? round(scan.consumedCapacityUnits / query.consumedCapacityUnits)
          : null,
      capacitySource: reported
        ? 'ConsumedCapacity as reported by DynamoDB Local (ReturnConsumedCapacity: TOTAL)'
        : 'incomplete: some responses carried no ConsumedCapacity',
    };
  }

  /** Item 1: real clients, our path vs a plain ws server vs the Management API driven directly. */
  private async measureFanOut(): Promise<FanOutRow[]> {
    const sizes = [...this.config.fanOutSizes].sort((a, b) => a - b);
    const largest = Math.max(...sizes);
    const plain = await PlainWebSocketServer.start();
    const management = managementClient(this.target, { maxSockets: this.config.ceilingConcurrency });
    const rows: FanOutRow[] = [];
    try {
      this.log(`fan-out: connecting ${largest} clients to the plain ws baseline …`);
      const opened = await this.pool.open(
        'plain',
        plain.url,
        Array.from({ length: largest }, (_, index) => ({ index, posts: [] })),
        { queryIndex: true, concurrency: 50, timeoutMs: CONNECT_TIMEOUT_MS, label: 'connecting (plain ws)' },
      );
      if (opened.failed > 0) throw new Error(`plain ws baseline: ${opened.failed} clients failed to connect`);
      for (const clients of sizes) {
        this.log(`fan-out to ${clients} clients: ours, plain ws, Management API …`);
        rows.push(await this.fanOutRow(clients, plain, management));
      }
    } finally {
      management.destroy();
      await this.pool.closePool('plain', false);
      await plain.stop();
    }
    return rows;
  }

  private async fanOutRow(
    clients: number,
    plain: PlainWebSocketServer,
    management: ApiGatewayManagementApiClient,
  ): Promise<FanOutRow> {
    const postId = this.postFor(clients);

    const oursMarker = this.marker(`fanout-ours-${clients}`);
    const oursStart = sharedNow();
    await createComment(this.target, USER_ID, postId, oursMarker);
    const createMs = sharedNow() - oursStart;
    const ours = {
      ...deliveryStats(oursStart, await this.receipts(oursMarker, clients), clients),
      createMs: round(createMs) ?? 0,
    };

    const plainMarker = this.marker(`fanout-ws-${clients}`);
    const { startedAt: plainStart, sent } = plain.sendToFirst(
      clients,
      commentCreatedPayload(postId, plainMarker),
    );
    if (sent < clients)
      this.notes.push(`plain ws: only ${sent} of ${clients} baseline clients were connected`);
    const plainWs = deliveryStats(plainStart, await this.receipts(plainMarker, clients), clients);

    const { connectionIds } = await subscriberQueryCost(this.target, postId);
    const apiMarker = this.marker(`fanout-api-${clients}`);
    const run = await boundedFanOut(
      management,
      connectionIds,
      commentCreatedPayload(postId, apiMarker),
      this.config.ceilingConcurrency,
      this.config.deliveryTimeoutMs,
    );
    const managementApi = deliveryStats(run.startedAt, await this.receipts(apiMarker, clients), clients);
    if (run.failed > 0)
      this.notes.push(`Management API ceiling, ${clients} clients: ${run.failed} calls failed`);

    const share = (a: number | null, b: number | null): number | null => (a && b ? round(a / b, 3) : null);
    return {
      clients,
      ours,
      plainWs,
      managementApi,
      throughputVsPlainWs: share(ours.deliveriesPerSecond, plainWs.deliveriesPerSecond),
      throughputVsManagementApi: share(ours.deliveriesPerSecond, managementApi.deliveriesPerSecond),
    };
  }

  /** Item 3: does creating a comment wait for its fan-out? */
  private async measureCreateLatency(): Promise<CreateLatencyReport> {
    const rows: CreateLatencyRow[] = [];
    for (const subscribers of [0, this.config.createSubscribers]) {
      const postId = subscribers === 0 ? this.quietPost : this.postFor(subscribers);
      const latencies: number[] = [];
      const fanOutTimes: number[] = [];
      let complete = 0;
      for (let k = 0; k < this.config.creates; k += 1) {
        if (k % 10 === 0)
          this.log(`create latency, ${subscribers} subscribers: ${k}/${this.config.creates} …`);
        const marker = this.marker(`create-${subscribers}-${k}`);
        const started = sharedNow();
        await createComment(this.target, USER_ID, postId, marker);
        latencies.push(sharedNow() - started);
        if (subscribers > 0) {
          // Sequential means the next create starts once this one's fan-out is over, so each is measured alone.
          const times = await this.receipts(marker, subscribers);
          if (times.length >= subscribers) complete += 1;
          if (times.length > 0) fanOutTimes.push(Math.max(...times) - started);
        }
      }
      const sorted = [...latencies].sort((a, b) => a - b);
      rows.push({
        subscribers,
        creates: this.config.creates,
        p50Ms: round(percentile(sorted, 50)),
        p99Ms: round(percentile(sorted, 99)),
        maxMs: round(percentile(sorted, 100)),
        fanOutCompleteP50Ms: subscribers > 0 ? round(median(fanOutTimes)) : null,
        completeFanOuts: subscribers > 0 ? complete : 0,
      });
    }
    const [idle, loaded] = rows;
    const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
      a && b ? round(a / b, 2) : null;
    return {
      rows,
      p50Ratio: ratio(loaded?.p50Ms, idle?.p50Ms),
      p99Ratio: ratio(loaded?.p99Ms, idle?.p99Ms),
      broadcastTimeoutMs: stageConfigs[this.config.stage].broadcastTimeoutMs,
    };
  }

  /** Item 5: the original design's check, many broadcasts at once to one small post. */
  private async measureConcurrentBroadcasts(): Promise<ConcurrentBroadcastsReport> {
    const { concurrentBroadcasts: count, smallSubscribers: subscribers } = this.config;
    this.log(`${count} concurrent broadcasts to a ${subscribers}-subscriber post …`);
    const postId = this.postFor(subscribers);
    const markers = Array.from({ length: count }, (_, k) => this.marker(`concurrent-${k}`));
    const started = sharedNow();
    const answers = await Promise.allSettled(
      markers.map((marker) => broadcast(this.target, { type: 'bench.broadcast', data: { postId, marker } })),
    );
    const allAnsweredMs = sharedNow() - started;
    const expected = Object.fromEntries(markers.map((marker) => [marker, subscribers]));
    await this.pool.waitForDeliveries(expected, { timeoutMs: this.config.deliveryTimeoutMs });
    const times = Object.values(await this.pool.times(markers)).flat();
    await this.pool.forget(markers);
    let reportedDelivered = 0;
    let failedRequests = 0;
    for (const answer of answers) {
      if (answer.status === 'fulfilled')
        reportedDelivered += answer.value.delivered + (answer.value.queued ?? 0);
      else failedRequests += 1;
    }
    return {
      broadcasts: count,
      subscribers,
      allAnsweredMs: round(allAnsweredMs) ?? 0,
      lastDeliveryMs: times.length ? round(Math.max(...times) - started) : null,
      expectedDeliveries: count * subscribers,
      reportedDelivered,
      received: times.length,
      failedRequests,
    };
  }

  /** Item 2: under API Gateway's latency and rate limit, our handler against the samples' loops. */
  private async measureStrategies(): Promise<StrategyReport> {
    const { latencyMs, rateLimitPerSecond, strategyBudgetMs: budgetMs, fanOutConcurrency } = this.config;
    const bound = latencyMs > 0 ? (fanOutConcurrency * 1000) / latencyMs : Number.POSITIVE_INFINITY;
    const rows: StrategyRow[] = [];
    const client = managementClient(this.target);
    await setFaults(this.target, { latencyMs, rateLimitPerSecond });
    try {
      for (const audience of [...this.config.strategyAudiences].sort((a, b) => a - b)) {
        const postId = this.postFor(audience);
        this.log(`strategies, ${audience} connections, ${latencyMs} ms per call: broadcast handler …`);
        rows.push(await this.handlerRow(audience, postId, bound));
        await sleep(RATE_WINDOW_PAUSE_MS);
        this.log(`strategies, ${audience} connections: sequential loop (budget ${budgetMs / 1000} s) …`);
        rows.push(
          await this.loopRow(audience, postId, bound, 'sequential loop', (ids, payload) =>
            sequentialFanOut(client, ids, payload, budgetMs),
          ),
        );
        await sleep(RATE_WINDOW_PAUSE_MS);
        this.log(`strategies, ${audience} connections: Promise.all …`);
        rows.push(
          await this.loopRow(audience, postId, bound, 'Promise.all', (ids, payload) =>
            promiseAllFanOut(client, ids, payload, budgetMs),
          ),
        );
        await sleep(RATE_WINDOW_PAUSE_MS);
      }
    } finally {
      client.destroy();
      // Never let a failed reset hide the error that brought us here; run() resets once more at the end.
      await resetFaults(this.target).catch((error: Error) =>
        this.log(`resetting faults failed: ${error.message}`),
      );
    }
    return {
      latencyMs,
      rateLimitPerSecond,
      budgetMs,
      fanOutConcurrency,
      theoreticalBoundPerSecond: Number.isFinite(bound) ? Math.round(bound) : 0,
      rows,
    };
  }

  private async handlerRow(audience: number, postId: string, bound: number): Promise<StrategyRow> {
    const marker = this.marker(`strategy-handler-${audience}`);
    const started = sharedNow();
    const answer = await broadcast(
      this.target,
      { type: 'bench.broadcast', data: { postId, marker } },
      this.config.strategyBudgetMs + 60_000,
    );
    const answeredMs = sharedNow() - started;
    const receipts = await this.receipts(marker, answer.connectionCount, HANDED_OVER_QUIET_MS);
    const wallMs = Math.max(answeredMs, receipts.length ? Math.max(...receipts) - started : 0);
    const delivered = answer.delivered + (answer.queued ?? 0);
    const deliveriesPerSecond = Math.round((receipts.length / wallMs) * 1000);
    return {
      audience,
      strategy: 'broadcast handler',
      wallMs: round(wallMs) ?? 0,
      projectedWallMs: null,
      capped: false,
      attempted: answer.connectionCount,
      delivered,
      failed: answer.failed + answer.stale,
      retries: answer.retried ?? null,
      received: receipts.length,
      lost: Math.max(0, answer.connectionCount - receipts.length),
      deliveriesPerSecond,
      shareOfBound: Number.isFinite(bound) ? (round(deliveriesPerSecond / bound, 3) ?? 0) : 0,
      errors: {},
    };
  }

  /** A strategy from strategies.ts; its time includes the same subscriber Query the handler makes. */
  private async loopRow(
    audience: number,
    postId: string,
    bound: number,
    strategy: StrategyRow['strategy'],
    fanOut: (ids: string[], payload: string) => Promise<StrategyRun>,
  ): Promise<StrategyRow> {
    const marker = this.marker(`strategy-${strategy.replace(/\W+/g, '')}-${audience}`);
    const payload = JSON.stringify({ type: 'bench.broadcast', data: { postId, marker } });
    const readStarted = sharedNow();
    const { connectionIds } = await subscriberQueryCost(this.target, postId);
    const readMs = sharedNow() - readStarted;
    const run = await fanOut(connectionIds, payload);
    const receipts = await this.receipts(marker, run.attempted, SETTLE_QUIET_MS);
    const received = receipts.length;
    const wallMs = Math.max(readMs + run.elapsedMs, received ? Math.max(...receipts) - readStarted : 0);
    const deliveriesPerSecond = Math.round((received / wallMs) * 1000);
    return {
      audience,
      strategy,
      wallMs: round(wallMs) ?? 0,
      projectedWallMs:
        run.capped && run.attempted > 0
          ? round(readMs + (run.elapsedMs * connectionIds.length) / run.attempted)
          : null,
      capped: run.capped,
      attempted: run.attempted,
      delivered: run.delivered,
      failed: run.failed,
      retries: run.retries,
      received,
      lost: Math.max(0, run.attempted - received),
      deliveriesPerSecond,
      shareOfBound: Number.isFinite(bound) ? (round(deliveriesPerSecond / bound, 3) ?? 0) : 0,
      errors: run.errors,
    };
  }
}

/** Runs every item against the local stack named by the outputs file and returns the result. */
export async function runBench(options: HarnessOptions): Promise<BenchResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[bench] ${line}\n`));
  const target = loadBenchTarget(options.outputsFile);
  return new Bench(target, options, log).run();
}
