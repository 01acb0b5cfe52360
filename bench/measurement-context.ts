import { sleep } from '../contracts/backoff';
import { randomBytes } from 'node:crypto';
import { ClientPool } from './client-pool';
import { audienceSizes, poolSize, type BenchConfig } from './config';
import type { BenchResult } from './result';
import { connectionCount, createComment, createPost, webSocketConnectUrl, type BenchTarget } from './target';

/** Every post and comment of a run is written as this user. */
export const BENCH_USER_ID = 'bench-user';
/** Every pool connection listens as this user (a token is per user, not per connection). */
const LISTENER_ID = 'bench-listener';
export const CONNECT_TIMEOUT_MS = 60_000;

/**
 * What every measurement works with: the target, the settings, one post per audience size with the
 * client pool subscribed to it, markers unique to this run, and the notes a reader needs next to the
 * numbers. Connection i subscribes to the post of every audience larger than i, so one pool serves every
 * audience size and every measurement.
 */
export class MeasurementContext {
  private readonly runId = randomBytes(4).toString('hex');
  /** Said by the measurements as they find it; the harness adds its own after them. */
  readonly notes: string[] = [];

  private constructor(
    readonly target: BenchTarget,
    readonly config: BenchConfig,
    readonly log: (line: string) => void,
    readonly pool: ClientPool,
    private readonly posts: ReadonlyMap<number, string>,
    /** A post nobody subscribes to: creating a comment on it starts no fan-out. */
    readonly quietPost: string,
  ) {}

  /** Creates the posts and starts the client worker processes; `connect` then opens the connections. */
  static async start(
    target: BenchTarget,
    config: BenchConfig,
    log: (line: string) => void,
  ): Promise<MeasurementContext> {
    const posts = new Map<number, string>();
    for (const size of audienceSizes(config)) {
      posts.set(size, (await createPost(target, BENCH_USER_ID, `bench ${size}`)).id);
    }
    const quietPost = (await createPost(target, BENCH_USER_ID, 'bench, no subscribers')).id;
    log(`starting ${config.workers} client worker processes …`);
    const pool = await ClientPool.start(config.workers, log);
    return new MeasurementContext(target, config, log, pool, posts, quietPost);
  }

  /** A marker unique to this run: what a client's receipt is counted under. */
  marker(name: string): string {
    return `bench-${this.runId}-${name}`;
  }

  /** The post whose subscribers are exactly the first `audience` connections of the pool. */
  postFor(audience: number): string {
    const postId = this.posts.get(audience);
    if (!postId) throw new Error(`no post for audience ${audience}`);
    return postId;
  }

  /** Opens the whole pool, each connection subscribed to its posts; what it took is part of the result. */
  async connect(): Promise<BenchResult['setup']> {
    const total = poolSize(this.config);
    const sizes = audienceSizes(this.config);
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

  /** One create and one broadcast before measuring, so no measurement pays for the functions' first calls. */
  async warmUp(): Promise<void> {
    const smallest = Math.min(...this.posts.keys());
    await createComment(this.target, BENCH_USER_ID, this.quietPost, this.marker('warmup-create'));
    const marker = this.marker('warmup');
    await createComment(this.target, BENCH_USER_ID, this.postFor(smallest), marker);
    await this.pool.waitForDeliveries({ [marker]: smallest }, { timeoutMs: this.config.deliveryTimeoutMs });
    await this.pool.forget([marker]);
  }

  /**
   * The receipt times of one marked event once `expected` clients have it (or, with `quietMs`, once none
   * has arrived for that long, or at the delivery timeout), and `settleMs` after that, so that late second
   * copies are counted too; then the workers forget it.
   */
  async receipts(marker: string, expected: number, quietMs?: number, settleMs = 0): Promise<number[]> {
    await this.pool.waitForDeliveries(
      { [marker]: expected },
      { timeoutMs: this.config.deliveryTimeoutMs, ...(quietMs ? { quietMs } : {}) },
    );
    if (settleMs > 0) await sleep(settleMs);
    const times = (await this.pool.times([marker]))[marker] ?? [];
    await this.pool.forget([marker]);
    return times;
  }
}
