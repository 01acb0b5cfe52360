import {
  BatchWriteCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { backoffCeiling, sleep } from '../../contracts/backoff';
import {
  CONNECTION_INDEX_SHARDS,
  connectionKeys,
  connectionShard,
  connectionsTableSchema,
} from '../../contracts/table-schema';

/**
 * Who a broadcast reaches, and the removal of connections found gone: the part of the connections table
 * the broadcast, the publisher and the fan-out worker use. It reads and deletes but never writes a row, as
 * their grants (`readDelete`) allow, so it needs no row lifetime.
 */
export interface ConnectionAudience {
  /**
   * Deletes the connection, its subscriptions, its subscriber rows and its index row. Returns how many
   * rows were deleted.
   */
  removeConnection(connectionId: string): Promise<number>;
  /**
   * Connection ids subscribed to a post, a page at a time: one strongly consistent Query on the base table,
   * so a subscription stored before the change is always seen (never a Scan, never a lagging index).
   */
  postSubscribers(postId: string): AsyncIterable<string[]>;
  /** Every live connection id, a page at a time, read shard by shard. */
  allConnections(): AsyncIterable<string[]>;
  /** Live connections: a COUNT over each shard of the index, in parallel; no single hot key. */
  countConnections(): Promise<number>;
}

const { partitionKey: PK, sortKey: SK } = connectionsTableSchema;
/** BatchWriteItem's own limit. */
const MAX_BATCH_WRITE = 25;
const MAX_UNPROCESSED_RETRIES = 5;
/**
 * The wait before resending unprocessed deletes: 50 ms, doubling, 800 ms before the last retry. No jitter:
 * these are one caller's retries, not a crowd's.
 */
const UNPROCESSED_BACKOFF = { baseMs: 50, maxMs: 50 * 2 ** (MAX_UNPROCESSED_RETRIES - 1) };

export type ItemKey = Record<string, string>;

/** The key of a row, from its partition and sort key values. */
export const rowKey = (pk: string, sk: string): ItemKey => ({ [PK.name]: pk, [SK.name]: sk });

/** Every row a connection may have, given the posts it subscribes to. */
export function connectionRowKeys(connectionId: string, subscriptionSortKeys: readonly string[]): ItemKey[] {
  const own = connectionKeys.connectionPartition(connectionId);
  return [
    rowKey(own, connectionKeys.connectionSortKey),
    ...subscriptionSortKeys.map((sk) => rowKey(own, sk)),
    ...subscriptionSortKeys.map((sk) =>
      rowKey(connectionKeys.subscribersPartition(connectionKeys.postIdOfSubscription(sk)), connectionId),
    ),
    rowKey(connectionKeys.liveConnectionsPartition(connectionShard(connectionId)), connectionId),
  ];
}

export class DynamoConnectionAudience implements ConnectionAudience {
  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
  ) {}

  async removeConnection(connectionId: string): Promise<number> {
    const subscriptions = await this.subscriptionSortKeys(connectionId);
    const keys = connectionRowKeys(connectionId, subscriptions);
    for (let i = 0; i < keys.length; i += MAX_BATCH_WRITE) {
      await this.batchDelete(keys.slice(i, i + MAX_BATCH_WRITE));
    }
    // The connection row and its subscriptions: what the caller thinks of as "its rows".
    return 1 + subscriptions.length;
  }

  postSubscribers(postId: string): AsyncIterable<string[]> {
    return this.sortKeysOf(connectionKeys.subscribersPartition(postId));
  }

  async *allConnections(): AsyncIterable<string[]> {
    for (let shard = 0; shard < CONNECTION_INDEX_SHARDS; shard += 1) {
      yield* this.sortKeysOf(connectionKeys.liveConnectionsPartition(shard));
    }
  }

  async countConnections(): Promise<number> {
    const shards = Array.from({ length: CONNECTION_INDEX_SHARDS }, (_, shard) =>
      this.countQuery({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': PK.name },
        ExpressionAttributeValues: { ':pk': connectionKeys.liveConnectionsPartition(shard) },
      }),
    );
    return (await Promise.all(shards)).reduce((sum, count) => sum + count, 0);
  }

  /** The sort keys of a connection's subscription rows, read consistently. */
  protected async subscriptionSortKeys(connectionId: string): Promise<string[]> {
    const sortKeys: string[] = [];
    for await (const items of this.queryPages({
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': PK.name, '#sk': SK.name },
      ExpressionAttributeValues: {
        ':pk': connectionKeys.connectionPartition(connectionId),
        ':prefix': connectionKeys.subscriptionPrefix,
      },
      ProjectionExpression: '#sk',
      ConsistentRead: true,
    })) {
      for (const item of items) sortKeys.push(String(item[SK.name]));
    }
    return sortKeys;
  }

  /** Sums a Select COUNT query over every page: a count never reads the items themselves. */
  protected async countQuery(input: QueryCommandInput): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({ ...input, Select: 'COUNT', ExclusiveStartKey: startKey }),
      );
      count += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return count;
  }

  /** The sort keys of one partition (connection ids, for the index partitions), consistently, by page. */
  private async *sortKeysOf(partition: string): AsyncIterable<string[]> {
    for await (const items of this.queryPages({
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': PK.name, '#sk': SK.name },
      ExpressionAttributeValues: { ':pk': partition },
      ProjectionExpression: '#sk',
      ConsistentRead: true,
    })) {
      if (items.length > 0) yield items.map((item) => String(item[SK.name]));
    }
  }

  protected async *queryPages(input: QueryCommandInput): AsyncIterable<Record<string, unknown>[]> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      yield page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  protected async batchDelete(keys: ItemKey[]): Promise<void> {
    let pending = keys.map((Key) => ({ DeleteRequest: { Key } }));
    for (let attempt = 0; pending.length > 0; attempt += 1) {
      if (attempt > MAX_UNPROCESSED_RETRIES) {
        throw new Error(`BatchWriteItem left ${pending.length} deletes unprocessed after retries`);
      }
      if (attempt > 0) await sleep(backoffCeiling(attempt, UNPROCESSED_BACKOFF));
      const result = await this.client.send(
        new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
      );
      pending = (result.UnprocessedItems?.[this.tableName] ?? []).flatMap((request) =>
        request.DeleteRequest?.Key ? [{ DeleteRequest: { Key: request.DeleteRequest.Key as ItemKey } }] : [],
      );
    }
  }
}
