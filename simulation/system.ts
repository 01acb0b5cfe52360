import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { commentKeys } from '../contracts/table-schema';
import type { SequencedChangeEvent } from '../contracts/protocol';
import { FanOutWorker, type FanOutWorkerSummary } from '../lambda/fan-out-worker/fan-out-worker';
import { BroadcastService, type BroadcastSummary } from '../lambda/fan-out/broadcast-service';
import { EventPublisher, type PublishNowResult } from '../lambda/fan-out/event-publisher';
import { LambdaFanOutDispatcher, parseFanOutBatch, type FanOutBatch } from '../lambda/fan-out/fan-out-batch';
import { publishStreamBatch } from '../lambda/event-publisher/stream-batch';
import { ManagementApiNotifier } from '../lambda/shared/connection-notifier';
import { DynamoConnectionAudience } from '../lambda/shared/connection-repository';
import { VirtualClock } from './clock';
import { ConnectionBook } from './models/connection-book';
import { DynamoDbModel } from './models/dynamodb';
import { LambdaModel, type ExecutionEnvironment } from './models/lambda';
import { ManagementApiModel } from './models/management-api';
import { PublishCursorModel } from './models/publish-cursor';
import { StreamMappingModel } from './models/stream-mapping';
import { lognormal, seededRandom } from './random';
import type { SimulationSettings } from './settings';

export const FUNCTIONS = {
  broadcast: 'broadcast',
  worker: 'fan-out-worker',
  publisher: 'event-publisher',
} as const;
const CONNECTIONS_TABLE = 'connections';
/** A tenth of a millisecond: finer than any latency modelled, coarse enough to batch events (clock.ts). */
const CLOCK_RESOLUTION_MS = 0.1;
/** The publishing functions' timeouts plus one second (lib/constructs/event-publishing.ts claimTtlMs). */
const CLAIM_MARGIN_MS = 1_000;
/** lambda/event-publisher/handler.ts: time kept back from the invocation's deadline. */
const PUBLISHER_ANSWER_MARGIN_MS = 2_000;

/** What the real code reported, added up over every invocation. */
export interface CodeTallies {
  /** Worker batches run (each generation counts). */
  workerRuns: number;
  /** Retries of pushes (FanOutCounts.retried), inline and in workers. */
  retried: number;
  /** Connections still failing after their retries (DeliveryFailures), before any hand-on. */
  deliveryFailures: number;
  handedOn: number;
  batchesQueued: number;
  fastPathPublished: number;
  fastPathSkipped: number;
  /** Broadcast summaries' inline deliveries. */
  inlineDelivered: number;
}

export interface World {
  readonly settings: SimulationSettings;
  readonly clock: VirtualClock;
  readonly book: ConnectionBook;
  readonly managementApi: ManagementApiModel;
  readonly lambda: LambdaModel;
  readonly dynamodb: DynamoDbModel;
  readonly cursor: PublishCursorModel;
  readonly stream: StreamMappingModel | undefined;
  readonly tallies: CodeTallies;
  readonly posts: readonly { readonly postId: string; readonly subscribers: number }[];
}

export interface Workload {
  /** Posts changed at once, each with its own subscribers (distinct connections). */
  readonly posts: number;
  readonly subscribersPerPost: number;
  /** Run the durable path too (the stream publisher finds each event published and skips it). */
  readonly stream: boolean;
  /**
   * Environments already warm when the event is committed (a broadcast ran minutes before); cold when
   * absent: the first broadcast after a quiet spell.
   */
  readonly warm?: { readonly broadcast: number; readonly worker: number };
}

const postIdOf = (index: number): string => `01JSIM${index.toString(36).toUpperCase().padStart(20, '0')}`;

function eventOf(postId: string): SequencedChangeEvent {
  return {
    type: 'comment.created',
    data: {
      postId,
      comment: {
        id: `01JCOMMENT${postId.slice(-16)}`,
        postId,
        userId: 'user-0001',
        content: 'A comment of about the length people write: a sentence or two, a hundred-odd characters.',
        createdAt: '2026-12-01T12:00:00.000Z',
      },
    },
    eventId: `evt-${postId}`,
    seq: 1,
  };
}

/** The stream record of an event row as the comments table's stream carries it (NEW_IMAGE). */
function recordOf(event: SequencedChangeEvent, sequence: number): DynamoDBRecord {
  const item = {
    pk: commentKeys.postPartition(event.data.postId),
    sk: commentKeys.eventSortKey(event.seq),
    type: event.type,
    data: event.data,
    eventId: event.eventId,
    seq: event.seq,
  };
  return {
    eventName: 'INSERT',
    dynamodb: {
      NewImage: marshall(item) as NonNullable<DynamoDBRecord['dynamodb']>['NewImage'],
      SequenceNumber: String(sequence),
      ApproximateCreationDateTime: 0,
    },
  };
}

/** Builds the modelled services and registers our three functions with the real code in them. */
export function buildWorld(settings: SimulationSettings, workload: Workload): World {
  const random = seededRandom(settings.seed);
  const clock = new VirtualClock({ resolutionMs: CLOCK_RESOLUTION_MS });
  const total = workload.posts * workload.subscribersPerPost;
  const book = new ConnectionBook(total, settings.staleShare, random.fork('stale'));
  const managementApi = new ManagementApiModel(
    clock,
    random.fork('management'),
    book,
    settings.managementApi,
  );
  const dynamodb = new DynamoDbModel(clock, random.fork('dynamodb'), settings.dynamodb);
  const lambda = new LambdaModel(clock, random.fork('lambda'), settings.lambda);
  if (settings.lambda.mode === 'local') lambda.gatewaySlot = () => managementApi.occupy();
  const cursor = new PublishCursorModel(clock, dynamodb);
  const codeRandom = random.fork('code');
  const timing = { sleep: clock.sleep, now: clock.now, random: () => codeRandom.next() };
  const { stage, functions, clientCpu: costs } = settings;
  const tallies: CodeTallies = {
    workerRuns: 0,
    retried: 0,
    deliveryFailures: 0,
    handedOn: 0,
    batchesQueued: 0,
    fastPathPublished: 0,
    fastPathSkipped: 0,
    inlineDelivered: 0,
  };
  const countBroadcast = (summary: BroadcastSummary): void => {
    tallies.retried += summary.retried;
    tallies.deliveryFailures += summary.failed;
    tallies.handedOn += summary.handedOn;
    tallies.batchesQueued += summary.batches;
    tallies.inlineDelivered += summary.delivered;
  };

  /** What a function's handler module builds at init: the wiring of fan-out-wiring.ts on modelled clients. */
  const delivery = (environment: ExecutionEnvironment, dispatchTo: string) => ({
    connections: new DynamoConnectionAudience(dynamodb.documentClient(environment, costs), CONNECTIONS_TABLE),
    notifier: new ManagementApiNotifier(managementApi.client(environment, costs)),
    dispatcher: new LambdaFanOutDispatcher(lambda.client(environment, costs), dispatchTo),
    concurrency: stage.fanOutConcurrency,
    retry: stage.fanOutRetry,
    ...timing,
  });
  const publisherIn = (environment: ExecutionEnvironment, claimTtlMs: number): EventPublisher => {
    const broadcaster = new BroadcastService({
      ...delivery(environment, FUNCTIONS.worker),
      batchSize: stage.fanOutBatchSize,
    });
    const counted = {
      broadcast: async (...args: Parameters<BroadcastService['broadcast']>) => {
        const summary = await broadcaster.broadcast(...args);
        countBroadcast(summary);
        return summary;
      },
    };
    return new EventPublisher({
      claims: cursor.claims(environment, costs, claimTtlMs),
      broadcaster: counted,
      events: cursor.storedEvents(environment, costs),
      ...timing,
    });
  };

  lambda.register({
    name: FUNCTIONS.worker,
    memoryMb: functions.memoryMb,
    timeoutMs: functions.workerTimeoutMs,
    reservedConcurrency: stage.fanOutWorkerConcurrency,
    maxRetries: 2,
    maxEventAgeMs: stage.fanOutMaxEventAgeSeconds * 1000,
    initMs: functions.workerInitMs,
    init: (environment) => {
      const worker = new FanOutWorker({
        ...delivery(environment, FUNCTIONS.worker),
        maxGenerations: stage.fanOutMaxGenerations,
      });
      return async (event) => {
        tallies.workerRuns += 1;
        const summary: FanOutWorkerSummary = await worker.deliver(parseFanOutBatch(event));
        tallies.retried += summary.retried;
        tallies.deliveryFailures += summary.failed;
        tallies.handedOn += summary.handedOn;
        return summary;
      };
    },
  });
  lambda.register({
    name: FUNCTIONS.broadcast,
    memoryMb: functions.memoryMb,
    timeoutMs: functions.broadcastTimeoutMs,
    // lib/stacks/realtime-stack.ts: the respond-async job is never retried and dropped after 60 s.
    maxRetries: 0,
    maxEventAgeMs: 60_000,
    initMs: functions.broadcastInitMs,
    init: (environment) => {
      const publisher = publisherIn(environment, functions.broadcastTimeoutMs + CLAIM_MARGIN_MS);
      return async (event) => {
        const { envelope } = event as { envelope: SequencedChangeEvent };
        const result: PublishNowResult = await publisher.publishNow(envelope);
        if (result.published) tallies.fastPathPublished += 1;
        else tallies.fastPathSkipped += 1;
        return result;
      };
    },
  });
  lambda.register({
    name: FUNCTIONS.publisher,
    memoryMb: functions.memoryMb,
    timeoutMs: functions.publisherTimeoutMs,
    maxRetries: 0,
    maxEventAgeMs: 0,
    initMs: functions.publisherInitMs,
    init: (environment) => {
      const publisher = publisherIn(environment, functions.publisherTimeoutMs + CLAIM_MARGIN_MS);
      return async (event) =>
        publishStreamBatch((event as { Records: DynamoDBRecord[] }).Records, publisher, {
          deadline: clock.now() + functions.publisherTimeoutMs - PUBLISHER_ANSWER_MARGIN_MS,
          now: clock.now,
        });
    },
  });

  if (workload.warm && settings.lambda.mode === 'aws') {
    lambda.prewarm(FUNCTIONS.broadcast, workload.warm.broadcast);
    lambda.prewarm(FUNCTIONS.worker, workload.warm.worker);
  }
  const stream = workload.stream
    ? new StreamMappingModel(clock, random.fork('stream'), lambda, FUNCTIONS.publisher, settings.stream)
    : undefined;
  const posts = Array.from({ length: workload.posts }, (_, p) => ({
    postId: postIdOf(p),
    subscribers: workload.subscribersPerPost,
  }));
  posts.forEach(({ postId, subscribers }, p) =>
    dynamodb.addAudience({ postId, from: p * workload.subscribersPerPost, count: subscribers }),
  );
  return { settings, clock, book, managementApi, lambda, dynamodb, cursor, stream, tallies, posts };
}

/**
 * Commits one event per post at time 0 and runs until nothing is left to do: the fast path queues the
 * broadcast function's job, the stream hands the same event to the publisher, whichever claims it fans it
 * out. Then marks the ids in the worker's dead-letter records.
 */
export async function runWorld(world: World): Promise<void> {
  const { clock, lambda, cursor, stream, settings, posts, book } = world;
  const fastPath = lognormal(settings.fastPathDelay, seededRandom(settings.seed).fork('fast-path'));
  posts.forEach(({ postId }, p) => {
    const event = eventOf(postId);
    cursor.store(event);
    clock.schedule(fastPath(), () =>
      lambda.enqueue(FUNCTIONS.broadcast, JSON.stringify({ envelope: event })),
    );
    stream?.put(recordOf(event, p + 1));
  });
  await clock.run();
  for (const letter of lambda.deadLetters) {
    if (letter.functionName !== FUNCTIONS.worker) continue;
    for (const id of (letter.event as FanOutBatch).connectionIds) {
      const index = ConnectionBook.indexOf(id);
      if (index >= 0) book.recordDeadLetter(index);
    }
  }
}
