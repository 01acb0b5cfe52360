import {
  GoneException,
  LimitExceededException,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { VirtualClock } from '../clock';
import { lognormal, type LatencySpec, type Random } from '../random';
import { ConnectionBook } from './connection-book';
import type { CallerEnvironment, ClientCpuCosts } from './environment';
import { TimeSeries } from './resources';

/**
 * How the Management API admits calls:
 * - `tokenBucket`, API Gateway: the account's throttle quota per Region, shared by every HTTP, REST and
 *   WebSocket API and the WebSocket callback (Management) API: 10,000 requests per second with a bucket of
 *   5,000 by default (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html). An empty
 *   bucket answers 429 LimitExceededException at once. `otherTrafficPerSecond` is what the rest of the
 *   account takes from the same bucket (client pings and their pongs, the comments API).
 * - `server`, the local stack's gateway: one Node process that answers every call, in order, at the rate
 *   the benchmark measured for it; it queues rather than refuses.
 */
export type Admission =
  | {
      readonly kind: 'tokenBucket';
      readonly ratePerSecond: number;
      readonly burst: number;
      readonly otherTrafficPerSecond: number;
    }
  | { readonly kind: 'server'; readonly callsPerSecond: number };

export interface ManagementApiSettings {
  /** Round trip of one PostToConnection (not documented by AWS: an assumption, see docs/capacity.md). */
  readonly latency: LatencySpec;
  readonly admission: Admission;
  /** Share of calls answered 500 (API Gateway's own failures). */
  readonly errorShare: number;
}

export type PostOutcome = 'delivered' | 'gone' | 'throttled' | 'error';

export interface ManagementApiStats {
  calls: number;
  delivered: number;
  gone: number;
  throttled: number;
  errors: number;
  /** Successful pushes per 100 ms. */
  readonly deliveries: TimeSeries;
  /** 429s per 100 ms. */
  readonly throttles: TimeSeries;
  /** Local gateway only: the longest a call waited for the server. */
  longestQueueMs: number;
}

/** The account's token bucket: continuous refill at the rate left after other traffic, capped at the burst. */
export class TokenBucket {
  private tokens: number;
  private refilledAt = 0;

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.ratePerSecond) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

export class ManagementApiModel {
  readonly stats: ManagementApiStats;
  private readonly latency: () => number;
  private readonly bucket: TokenBucket | undefined;
  private serverFreeAt = 0;

  constructor(
    private readonly clock: VirtualClock,
    private readonly random: Random,
    private readonly book: ConnectionBook,
    private readonly settings: ManagementApiSettings,
  ) {
    this.latency = lognormal(settings.latency, random.fork('latency'));
    const { admission } = settings;
    this.bucket =
      admission.kind === 'tokenBucket'
        ? new TokenBucket(
            Math.max(0, admission.ratePerSecond - admission.otherTrafficPerSecond),
            admission.burst,
          )
        : undefined;
    this.stats = {
      calls: 0,
      delivered: 0,
      gone: 0,
      throttled: 0,
      errors: 0,
      deliveries: new TimeSeries(100),
      throttles: new TimeSeries(100),
      longestQueueMs: 0,
    };
  }

  /** One PostToConnection as the service sees it: admitted or not, then answered after its latency. */
  async post(connectionId: string): Promise<PostOutcome> {
    const { stats, clock } = this;
    stats.calls += 1;
    const latency = this.latency();
    const handledAt = this.admit(latency);
    if (handledAt === undefined) {
      stats.throttled += 1;
      stats.throttles.add(clock.now());
      await clock.sleep(latency);
      return 'throttled';
    }
    const outcome = this.answer(connectionId, handledAt);
    await clock.sleepUntil(handledAt + latency / 2);
    return outcome;
  }

  /** One slot of the local gateway's process for a call that is not a push (a Lambda Invoke). */
  async occupy(): Promise<void> {
    const { admission } = this.settings;
    if (admission.kind !== 'server') return;
    const handledAt = this.admit(this.latency());
    await this.clock.sleepUntil(handledAt ?? this.clock.now());
  }

  /**
   * A client for one execution environment: the SDK's ApiGatewayManagementApiClient as our
   * ManagementApiNotifier uses it (`send(PostToConnectionCommand)`), answering or throwing what the SDK
   * would, after the client's own CPU work and a socket of its HTTP agent.
   */
  client(environment: CallerEnvironment, costs: ClientCpuCosts): ApiGatewayManagementApiClient {
    const sockets = environment.sockets('managementApi');
    const send = async (command: unknown): Promise<object> => {
      if (!(command instanceof PostToConnectionCommand)) throw new Error('only PostToConnection is modelled');
      await environment.cpu.run(costs.managementCallMs);
      await sockets.acquire();
      let outcome: PostOutcome;
      try {
        outcome = await this.post(command.input.ConnectionId ?? '');
      } finally {
        sockets.release();
      }
      return answerOrThrow(outcome);
    };
    return { send } as unknown as ApiGatewayManagementApiClient;
  }

  /** When the call is handled (mid-flight), or undefined when the bucket refuses it. */
  private admit(latency: number): number | undefined {
    const now = this.clock.now();
    const { admission } = this.settings;
    if (admission.kind === 'tokenBucket') {
      return (this.bucket as TokenBucket).take(now) ? now + latency / 2 : undefined;
    }
    const arrives = now + latency / 2;
    const start = Math.max(arrives, this.serverFreeAt);
    this.serverFreeAt = start + 1000 / admission.callsPerSecond;
    this.stats.longestQueueMs = Math.max(this.stats.longestQueueMs, start - arrives);
    return this.serverFreeAt;
  }

  private answer(connectionId: string, handledAt: number): PostOutcome {
    const { stats, book } = this;
    const index = ConnectionBook.indexOf(connectionId);
    if (index < 0 || index >= book.size || book.isStale(index)) {
      stats.gone += 1;
      if (index >= 0 && index < book.size) book.recordGone(index);
      return 'gone';
    }
    if (this.settings.errorShare > 0 && this.random.next() < this.settings.errorShare) {
      stats.errors += 1;
      return 'error';
    }
    stats.delivered += 1;
    stats.deliveries.add(handledAt);
    book.recordDelivery(index, handledAt);
    return 'delivered';
  }
}

const metadata = (httpStatusCode: number) => ({ httpStatusCode, attempts: 1, totalRetryDelay: 0 });
/**
 * What the SDK returns or throws, one instance each: a saturated quota answers hundreds of thousands of
 * 429s, and our notifier only reads them (instanceof, name, $metadata).
 */
const ANSWERS = {
  delivered: { $metadata: metadata(200) },
  gone: new GoneException({ message: 'Gone', $metadata: metadata(410) }),
  throttled: new LimitExceededException({ message: 'Limit exceeded', $metadata: metadata(429) }),
  error: Object.assign(new Error('Internal server error'), {
    name: 'InternalServerErrorException',
    $metadata: metadata(500),
  }),
} as const;

function answerOrThrow(outcome: PostOutcome): object {
  if (outcome === 'delivered') return ANSWERS.delivered;
  throw ANSWERS[outcome];
}
