import { backoffCeiling } from '../../contracts/backoff';
import {
  BatchWriteCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { connectionKeys, connectionsTableSchema } from '../../contracts/table-schema';
import type { VirtualClock } from '../clock';
import { lognormal, type LatencySpec, type Random } from '../random';
import { ConnectionBook } from './connection-book';
import type { CallerEnvironment, ClientCpuCosts } from './environment';

/**
 * DynamoDB as the fan-out uses it: the strongly consistent Query of a post's subscriber partition, page by
 * page; the deletes of a stale connection's rows; and small reads and conditional writes of the comments
 * table (the publish cursor, a stored event).
 * - A Query page holds at most 1 MB (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Query.Pagination.html).
 * - A strongly consistent read costs 1 read unit per 4 KB of the items read, rounded up over the page; an
 *   eventually consistent one half (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
 * - A partition serves at most 3,000 read units and 1,000 write units per second, whatever the table's mode
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html); above
 *   that DynamoDB throttles, and the SDK retries (3 attempts, throttling backoff from 500 ms).
 */
export interface DynamoDbSettings {
  /** A small request's round trip. */
  readonly latency: LatencySpec;
  /** Added per MB a request returns (a full Query page). */
  readonly transferMsPerMb: number;
  readonly pageBytes: number;
  readonly partitionReadUnitsPerSecond: number;
  readonly partitionWriteUnitsPerSecond: number;
  readonly sdkMaxAttempts: number;
  readonly sdkThrottlingBaseDelayMs: number;
}

export interface DynamoDbStats {
  requests: number;
  readUnits: number;
  writeUnits: number;
  throttled: number;
  /** Requests that still failed after the SDK's retries. */
  failed: number;
  /** Virtual ms callers spent waiting in SDK backoff after a throttle. */
  throttleWaitMs: number;
  /**
   * Deletes a partition's write capacity would have throttled. BatchWriteItem hands throttled rows back as
   * unprocessed, which our adapter retries after a real-time sleep; the model admits them and counts them.
   */
  writesOverCapacity: number;
}

export class ThroughputExceededError extends Error {
  constructor(partition: string) {
    super(`Throughput exceeds the current capacity of partition ${partition}`);
    this.name = 'ProvisionedThroughputExceededException';
  }
}

/** A partition's read or write capacity: a bucket of one second's worth, debited after admission. */
class PartitionCapacity {
  private units: number;
  private refilledAt = 0;

  constructor(private readonly perSecond: number) {
    this.units = perSecond;
  }

  /** Admits a request while any capacity is left, and debits all it consumes (which may go below zero). */
  admit(now: number, consumed: number): boolean {
    this.units = Math.min(this.perSecond, this.units + ((now - this.refilledAt) * this.perSecond) / 1000);
    this.refilledAt = now;
    if (this.units <= 0) return false;
    this.units -= consumed;
    return true;
  }
}

const SK = connectionsTableSchema.sortKey.name;

/** Subscribers of one post: the connections of [from, from + count) in the book. */
export interface PostAudience {
  readonly postId: string;
  readonly from: number;
  readonly count: number;
}

export class DynamoDbModel {
  readonly stats: DynamoDbStats = {
    requests: 0,
    readUnits: 0,
    writeUnits: 0,
    throttled: 0,
    failed: 0,
    throttleWaitMs: 0,
    writesOverCapacity: 0,
  };
  private readonly latency: () => number;
  private readonly reads = new Map<string, PartitionCapacity>();
  private readonly writes = new Map<string, PartitionCapacity>();
  private readonly audiences = new Map<string, PostAudience>();
  private readonly sortedAudiences: PostAudience[] = [];

  constructor(
    private readonly clock: VirtualClock,
    private readonly random: Random,
    private readonly settings: DynamoDbSettings,
  ) {
    this.latency = lognormal(settings.latency, random.fork('latency'));
  }

  addAudience(audience: PostAudience): void {
    this.audiences.set(connectionKeys.subscribersPartition(audience.postId), audience);
    this.sortedAudiences.push(audience);
    this.sortedAudiences.sort((a, b) => a.from - b.from);
  }

  /**
   * One request against one partition, as the SDK makes it: client CPU, a socket, admission against the
   * partition's capacity with the SDK's throttling retries, then the round trip.
   */
  async request(
    environment: CallerEnvironment,
    costs: ClientCpuCosts,
    partition: string,
    use: { readUnits?: number; writeUnits?: number; bytes?: number; items?: number },
  ): Promise<void> {
    const { clock, settings, stats } = this;
    await environment.cpu.run(costs.dynamodbCallMs);
    const sockets = environment.sockets('dynamodb');
    await sockets.acquire();
    try {
      for (let attempt = 1; ; attempt += 1) {
        stats.requests += 1;
        const readOk =
          !use.readUnits ||
          this.capacity(this.reads, partition, settings.partitionReadUnitsPerSecond).admit(
            clock.now(),
            use.readUnits,
          );
        const writeOk =
          readOk &&
          (!use.writeUnits ||
            this.capacity(this.writes, partition, settings.partitionWriteUnitsPerSecond).admit(
              clock.now(),
              use.writeUnits,
            ));
        if (readOk && writeOk) {
          stats.readUnits += use.readUnits ?? 0;
          stats.writeUnits += use.writeUnits ?? 0;
          await clock.sleep(this.latency() + ((use.bytes ?? 0) / 1_048_576) * settings.transferMsPerMb);
          break;
        }
        stats.throttled += 1;
        await clock.sleep(this.latency());
        if (attempt >= settings.sdkMaxAttempts) {
          stats.failed += 1;
          throw new ThroughputExceededError(partition);
        }
        const ceiling = backoffCeiling(attempt + 1, {
          baseMs: settings.sdkThrottlingBaseDelayMs,
          maxMs: 20_000,
        });
        const backoff = this.random.next() * ceiling;
        stats.throttleWaitMs += backoff;
        await clock.sleep(backoff);
      }
    } finally {
      sockets.release();
    }
    // Parsing the answer and unmarshalling its items happens in the caller, after the bytes arrive.
    await environment.cpu.run((use.items ?? 0) * costs.dynamodbItemMs);
  }

  /**
   * A DynamoDBDocumentClient for one execution environment, answering the two commands our
   * DynamoConnectionAudience sends for a fan-out: Query (a post's subscribers, a connection's own rows)
   * and BatchWrite (the deletes of a stale connection).
   */
  documentClient(environment: CallerEnvironment, costs: ClientCpuCosts): DynamoDBDocumentClient {
    const send = async (command: unknown): Promise<object> => {
      if (command instanceof QueryCommand) return this.query(environment, costs, command.input);
      if (command instanceof BatchWriteCommand) {
        const requests = Object.values(command.input.RequestItems ?? {}).flat();
        await this.request(environment, costs, '', {});
        for (const request of requests) {
          // Each row debits its own partition: the subscriber rows land on the post's hot partition.
          const pk = String(request.DeleteRequest?.Key?.pk ?? request.PutRequest?.Item?.pk ?? '');
          const admitted = this.capacity(this.writes, pk, this.settings.partitionWriteUnitsPerSecond).admit(
            this.clock.now(),
            1,
          );
          this.stats.writeUnits += 1;
          if (!admitted) this.stats.writesOverCapacity += 1;
        }
        // Never unprocessed items: the adapter would wait for them on a real timer (see writesOverCapacity).
        return { UnprocessedItems: {} };
      }
      throw new Error(`${(command as object).constructor.name} is not modelled`);
    };
    return { send } as unknown as DynamoDBDocumentClient;
  }

  private async query(
    environment: CallerEnvironment,
    costs: ClientCpuCosts,
    input: QueryCommandInput,
  ): Promise<object> {
    const values = input.ExpressionAttributeValues ?? {};
    const partition = String(values[':pk']);
    const prefix = values[':prefix'];
    const rows =
      prefix === undefined ? this.subscriberIds(partition) : this.ownRows(partition, String(prefix));
    const start = Number((input.ExclusiveStartKey as { [SK]?: unknown } | undefined)?.[SK] ?? 0);
    const itemBytes = 2 + partition.length + 2 + 16 + 9 + 8;
    const perPage = Math.max(1, Math.floor(this.settings.pageBytes / itemBytes));
    const end = Math.min(rows.count, start + perPage);
    const bytes = (end - start) * itemBytes;
    await this.request(environment, costs, partition, {
      readUnits: input.ConsistentRead
        ? Math.max(1, Math.ceil(bytes / 4096))
        : Math.max(0.5, Math.ceil(bytes / 4096) / 2),
      bytes,
      items: end - start,
    });
    const Items = Array.from({ length: end - start }, (_, i) => ({ [SK]: rows.at(start + i) }));
    // The model's own cursor (a position) stands for the last key: the adapter only passes it back.
    return end < rows.count ? { Items, LastEvaluatedKey: { [SK]: end } } : { Items };
  }

  private subscriberIds(partition: string): { count: number; at: (i: number) => string } {
    const audience = this.audiences.get(partition);
    if (!audience) return { count: 0, at: () => '' };
    return { count: audience.count, at: (i) => ConnectionBook.idOf(audience.from + i) };
  }

  /** A connection's own rows under a prefix: its one subscription, in this model. */
  private ownRows(partition: string, prefix: string): { count: number; at: (i: number) => string } {
    const id = partition.slice('conn#'.length);
    const index = ConnectionBook.indexOf(id);
    const audience = this.audienceOf(index);
    if (!audience || prefix !== connectionKeys.subscriptionPrefix) return { count: 0, at: () => '' };
    return { count: 1, at: () => connectionKeys.subscriptionSortKey(audience.postId) };
  }

  private audienceOf(index: number): PostAudience | undefined {
    let low = 0;
    let high = this.sortedAudiences.length - 1;
    while (low <= high) {
      const mid = (low + high) >> 1;
      const audience = this.sortedAudiences[mid] as PostAudience;
      if (index < audience.from) high = mid - 1;
      else if (index >= audience.from + audience.count) low = mid + 1;
      else return audience;
    }
    return undefined;
  }

  private capacity(
    map: Map<string, PartitionCapacity>,
    partition: string,
    perSecond: number,
  ): PartitionCapacity {
    let capacity = map.get(partition);
    if (!capacity) {
      capacity = new PartitionCapacity(perSecond);
      map.set(partition, capacity);
    }
    return capacity;
  }
}
