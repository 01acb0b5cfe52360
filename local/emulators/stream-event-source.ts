import { randomUUID } from 'node:crypto';
import {
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-dynamodb-streams';
import { backoffDelay, type BackoffBounds } from '../../contracts/backoff';
import { aborted, pause } from './abortable-wait';
import { compileFilterCriteria, type RecordFilter } from './event-filter';
import { StreamLane, type DeliveryContext, type InvocationResult } from './stream-batch-delivery';
import {
  resolveMappingSettings,
  type ResolvedMappingSettings,
  type StreamEventSourceMappingSettings,
} from './stream-mapping-settings';
import {
  laneIndex,
  toReadRecord,
  type StreamLambdaEvent,
  type StreamOnFailureRecord,
} from './stream-records';

export type { StreamLambdaEvent, StreamLambdaRecord, StreamOnFailureRecord } from './stream-records';
export type { StreamEventSourceMappingSettings } from './stream-mapping-settings';

/**
 * A DynamoDB stream event source mapping, run locally: polls the stream of DynamoDB Local the way Lambda's
 * pollers poll a table's stream, and invokes a function with batches of the records its filters let
 * through (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html).
 *
 * The shard side lives here (finding shards, a child only after its parent, iterators, polling); the batch
 * side (batching window, partial responses, retries, bisection, record age, on-failure) is stream-batch-delivery.
 */

export interface LocalStreamEventSourceOptions {
  /** Pointed at DynamoDB Local. */
  readonly client: DynamoDBStreamsClient;
  readonly streamArn: string;
  readonly settings: StreamEventSourceMappingSettings;
  /** Invokes the function; rejects when the function fails (LocalLambda.invoke does). */
  readonly invoke: (event: StreamLambdaEvent) => Promise<unknown>;
  /** The on-failure destination: receives what AWS would send to DestinationConfig.OnFailure. */
  readonly onFailure: (record: StreamOnFailureRecord) => Promise<void> | void;
  readonly log: (message: string) => void;
  /** Written into on-failure records. */
  readonly functionArn: string;
  /** The attribute whose value picks a record's lane. @default the HASH key that DescribeStream reports */
  readonly partitionKeyName?: string;
  /** awsRegion of the records. @default the region in the stream ARN */
  readonly region?: string;
  /** The wait before polling a shard again after an empty read. @default 100 */
  readonly pollIntervalMs?: number;
  /** How often DescribeStream looks for new shards. @default 1000 */
  readonly shardDiscoveryIntervalMs?: number;
  /** The delays between retries of a failed batch. @default 200 ms doubling up to 5 s, full jitter */
  readonly retryBackoff?: BackoffBounds;
  /** For the jitter of retry delays. @default Math.random */
  readonly random?: () => number;
  /** The clock of record ages and on-failure timestamps (epoch ms). @default Date.now */
  readonly now?: () => number;
}

export interface StreamEventSourceStats {
  /** Invocations attempted, injected failures included. */
  readonly invocations: number;
  /** Records the function processed successfully (a record retried and then processed counts once). */
  readonly recordsDelivered: number;
  /** Records the filters kept from the function (they count as processed). */
  readonly recordsFiltered: number;
  /** Invocations repeated after a failure (bisected halves included). */
  readonly retries: number;
  /** Calls to onFailure, and the records they covered. */
  readonly failuresReported: number;
  readonly recordsGivenUp: number;
  /** Records read from the stream and not finished yet. */
  readonly pendingRecords: number;
  /** Age of the oldest record not finished yet, 0 when there is none. */
  readonly lagMs: number;
}

/** GetRecords returns at most 1000 records; reading stops while this many wait for the function. */
const READ_LIMIT = 1000;
const MAX_READ_ERROR_DELAY_MS = 5000;

interface ShardState {
  readonly shard: Shard;
  /** Resolves once every record of the (closed) shard has been processed or given up. */
  readonly finished: Promise<void>;
  readonly lanes: StreamLane[];
}

export class LocalStreamEventSource {
  private readonly settings: ResolvedMappingSettings;
  private readonly filter: RecordFilter;
  private readonly controller = new AbortController();
  private readonly shards = new Map<string, ShardState>();
  private readonly tasks: Promise<void>[] = [];
  private readonly counters = { recordsDelivered: 0, retries: 0, failuresReported: 0, recordsGivenUp: 0 };
  private invocations = 0;
  private recordsFiltered = 0;
  private injectedFailures = 0;
  private partitionKeyName: string | undefined;
  private started = false;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly pollIntervalMs: number;
  private readonly region: string;

  /** Throws, as CreateEventSourceMapping would refuse them, on out-of-range settings and bad filters. */
  constructor(private readonly options: LocalStreamEventSourceOptions) {
    this.settings = resolveMappingSettings(options.settings);
    this.filter = compileFilterCriteria(options.settings.FilterCriteria);
    this.partitionKeyName = options.partitionKeyName;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
    this.region = options.region ?? options.streamArn.split(':')[3] ?? 'local';
  }

  /**
   * Finds the shards and fixes the starting positions, then polls in the background: with LATEST, records
   * written after start() resolves are delivered and earlier ones are not. Rejects, with nothing left
   * running, if the stream cannot be described.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('this event source has already been started');
    this.started = true;
    try {
      await this.startReaders();
    } catch (error) {
      await this.stop();
      throw error;
    }
    this.tasks.push(this.discoverShards());
  }

  private async startReaders(): Promise<void> {
    const shards = await this.describeShards();
    if (this.settings.parallelization > 1 && !this.partitionKeyName) {
      throw new Error('ParallelizationFactor needs the partition key name: pass partitionKeyName');
    }
    for (const shard of shards) {
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      if (this.settings.startingPosition === 'LATEST') {
        // Nothing will ever be written after LATEST on a closed shard: it counts as read.
        const iterator = closed ? undefined : await this.shardIterator(shard, 'LATEST');
        this.adopt(shard, closed ? 'skip' : { iterator, type: 'LATEST' });
      } else {
        this.adopt(shard, { type: 'TRIM_HORIZON' });
      }
    }
  }

  /** The next `count` invocations fail as if the function had thrown, without running it. */
  failNextInvocations(count: number): void {
    this.injectedFailures += count;
  }

  /** Failures armed by failNextInvocations and not used yet. */
  get injectedFailuresLeft(): number {
    return this.injectedFailures;
  }

  /** Disarms the failures failNextInvocations armed and no invocation has used yet. */
  clearInjectedFailures(): void {
    this.injectedFailures = 0;
  }

  get stats(): StreamEventSourceStats {
    const lanes = [...this.shards.values()].flatMap((state) => state.lanes);
    const arrivals = lanes.map((lane) => lane.oldestArrivalMs).filter((ms) => ms !== undefined);
    return {
      invocations: this.invocations,
      ...this.counters,
      recordsFiltered: this.recordsFiltered,
      pendingRecords: lanes.reduce((sum, lane) => sum + lane.pending, 0),
      lagMs: arrivals.length === 0 ? 0 : Math.max(0, this.now() - Math.min(...arrivals)),
    };
  }

  /** Stops polling; resolves once the invocations in flight have returned. No timer is left behind. */
  async stop(): Promise<void> {
    this.controller.abort();
    await Promise.all(this.tasks);
  }

  private get signal(): AbortSignal {
    return this.controller.signal;
  }

  private async describeShards(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const { StreamDescription: description } = await this.options.client.send(
        new DescribeStreamCommand({
          StreamArn: this.options.streamArn,
          ExclusiveStartShardId: exclusiveStartShardId,
        }),
        { abortSignal: this.signal },
      );
      this.partitionKeyName ??= description?.KeySchema?.find((key) => key.KeyType === 'HASH')?.AttributeName;
      shards.push(...(description?.Shards ?? []));
      exclusiveStartShardId = description?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  /** Shards that appear after start (a shard rolls over about every 4 hours on AWS) are read from their start. */
  private async discoverShards(): Promise<void> {
    let failures = 0;
    while (!this.signal.aborted) {
      await pause(this.options.shardDiscoveryIntervalMs ?? 1000, this.signal);
      if (this.signal.aborted) return;
      try {
        for (const shard of await this.describeShards()) this.adopt(shard, { type: 'TRIM_HORIZON' });
        failures = 0;
      } catch (error) {
        if (this.signal.aborted) return;
        failures += 1;
        if (failures === 1) this.options.log(`DescribeStream failed: ${(error as Error).message}`);
      }
    }
  }

  private adopt(shard: Shard, start: 'skip' | { type: ShardIteratorType; iterator?: string }): void {
    const shardId = shard.ShardId;
    if (!shardId || this.shards.has(shardId)) return;
    const lanes = start === 'skip' ? [] : this.newLanes();
    let markFinished = (): void => undefined;
    const finished = new Promise<void>((resolve) => (markFinished = resolve));
    this.shards.set(shardId, { shard, finished, lanes });
    if (start === 'skip') {
      markFinished();
      return;
    }
    const reading = this.readShard(shard, lanes, start.type, start.iterator).then(
      markFinished,
      (error: Error) => this.options.log(`the reader of ${shardId} stopped: ${error.stack ?? error.message}`),
    );
    this.tasks.push(reading);
  }

  private newLanes(): StreamLane[] {
    const context: DeliveryContext = {
      settings: this.settings,
      functionArn: this.options.functionArn,
      streamArn: this.options.streamArn,
      signal: this.signal,
      now: this.now,
      retryBackoff: this.options.retryBackoff ?? { baseMs: 200, maxMs: 5000 },
      random: this.random,
      log: this.options.log,
      invoke: (event) => this.invokeFunction(event),
      reportFailure: async (record) => this.options.onFailure(record),
      counters: this.counters,
    };
    return Array.from({ length: this.settings.parallelization }, () => new StreamLane(context));
  }

  /**
   * Reads one shard to its end (or until stop), after its parent has been fully processed: a key's changes
   * continue in the child shard, and reading both at once could deliver them out of order.
   */
  private async readShard(
    shard: Shard,
    lanes: StreamLane[],
    startType: ShardIteratorType,
    startIterator: string | undefined,
  ): Promise<void> {
    const parent = shard.ParentShardId ? this.shards.get(shard.ParentShardId) : undefined;
    if (parent) await Promise.race([parent.finished, aborted(this.signal)]);
    const running = lanes.map((lane) => lane.run());
    let iterator = startIterator;
    let type = startType;
    let lastSequenceNumber: string | undefined;
    let failures = 0;
    let closed = false;
    while (!this.signal.aborted && !closed) {
      if (
        lanes.reduce((sum, lane) => sum + lane.pending, 0) >= Math.max(READ_LIMIT, this.settings.batchSize)
      ) {
        await pause(this.pollIntervalMs, this.signal);
        continue;
      }
      try {
        iterator ??= await this.shardIterator(shard, type, lastSequenceNumber);
        const output = await this.options.client.send(
          new GetRecordsCommand({ ShardIterator: iterator, Limit: READ_LIMIT }),
          {
            abortSignal: this.signal,
          },
        );
        failures = 0;
        const readAtMs = this.now();
        for (const source of output.Records ?? []) {
          const read = toReadRecord(source, {
            shardId: shard.ShardId ?? '',
            streamArn: this.options.streamArn,
            region: this.region,
            readAtMs,
          });
          lastSequenceNumber = read.record.dynamodb.SequenceNumber;
          if (!this.filter.matches(read.record)) {
            this.recordsFiltered += 1;
            continue;
          }
          lanes[laneIndex(read.record, this.partitionKeyName ?? '', lanes.length)]?.push(read);
        }
        iterator = output.NextShardIterator;
        closed = iterator === undefined;
        if (!closed && (output.Records ?? []).length === 0) await pause(this.pollIntervalMs, this.signal);
      } catch (error) {
        if (this.signal.aborted) break;
        iterator = undefined;
        const name = (error as Error).name;
        if (name === 'ExpiredIteratorException') continue; // resumes after the last record read
        if (name === 'TrimmedDataAccessException') {
          this.options.log(
            `${shard.ShardId}: records were trimmed before they were read; resuming at TRIM_HORIZON`,
          );
          type = 'TRIM_HORIZON';
          lastSequenceNumber = undefined;
          continue;
        }
        failures += 1;
        this.options.log(`${shard.ShardId}: ${name}: ${(error as Error).message}`);
        const bounds = { baseMs: this.pollIntervalMs, maxMs: MAX_READ_ERROR_DELAY_MS };
        await pause(Math.max(this.pollIntervalMs, backoffDelay(failures, bounds, this.random)), this.signal);
      }
    }
    if (closed) for (const lane of lanes) lane.endInput();
    await Promise.all(running);
  }

  private async shardIterator(
    shard: Shard,
    type: ShardIteratorType,
    afterSequenceNumber?: string,
  ): Promise<string> {
    const resume = afterSequenceNumber !== undefined;
    const { ShardIterator: iterator } = await this.options.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.options.streamArn,
        ShardId: shard.ShardId,
        ShardIteratorType: resume ? 'AFTER_SEQUENCE_NUMBER' : type,
        SequenceNumber: afterSequenceNumber,
      }),
      { abortSignal: this.signal },
    );
    if (!iterator) throw new Error(`GetShardIterator returned no iterator for ${shard.ShardId}`);
    return iterator;
  }

  private async invokeFunction(event: StreamLambdaEvent): Promise<InvocationResult> {
    const requestId = randomUUID();
    this.invocations += 1;
    if (this.injectedFailures > 0) {
      this.injectedFailures -= 1;
      return {
        requestId,
        failed: true,
        functionError: 'Unhandled',
        message: 'injected failure (failNextInvocations)',
      };
    }
    try {
      return { requestId, failed: false, response: await this.options.invoke(event) };
    } catch (error) {
      // A throw, a timeout and a crashed runtime all reach the mapping as an unhandled function error.
      return { requestId, failed: true, functionError: 'Unhandled', message: (error as Error).message };
    }
  }
}
