import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { backoffCeiling, sleep } from '../../contracts/backoff';
import {
  CONNECTIONS_BY_TOPIC_INDEX,
  connectionKeys,
  connectionsTableSchema,
} from '../../contracts/table-schema';

export interface NewConnection {
  connectionId: string;
  /** Epoch milliseconds, from the $connect event's requestContext.connectedAt. */
  connectedAt: number;
  userId?: string;
}

export interface Subscription {
  connectionId: string;
  postId: string;
  /** Epoch milliseconds of the connection's start: subscription rows expire with their connection. */
  connectedAt: number;
}

/**
 * Who a broadcast reaches, and the removal of connections found gone: the part of the connections table
 * the broadcast and the fan-out worker use. It reads and deletes but never writes a row, as their grants
 * (`readDelete`) allow, so it needs no row lifetime.
 */
export interface ConnectionAudience {
  /** Deletes the connection row and every subscription of it. Returns how many rows were deleted. */
  removeConnection(connectionId: string): Promise<number>;
  /** Connection ids subscribed to a post, a page at a time (never a Scan). */
  postSubscribers(postId: string): AsyncIterable<string[]>;
  /** Every live connection id, a page at a time. */
  allConnections(): AsyncIterable<string[]>;
  countConnections(): Promise<number>;
}

/** Where connections and their subscriptions live: the port the WebSocket routes depend on. */
export interface ConnectionRepository extends ConnectionAudience {
  addConnection(connection: NewConnection): Promise<void>;
  addSubscription(subscription: Subscription): Promise<void>;
  removeSubscription(connectionId: string, postId: string): Promise<void>;
  /** How many posts the connection is subscribed to: a COUNT Query on its own partition. */
  countSubscriptions(connectionId: string): Promise<number>;
  isSubscribed(connectionId: string, postId: string): Promise<boolean>;
}

const { partitionKey, sortKey, timeToLiveAttribute } = connectionsTableSchema;
/** BatchWriteItem's own limit. */
const MAX_BATCH_WRITE = 25;
const MAX_UNPROCESSED_RETRIES = 5;
/**
 * The wait before resending unprocessed deletes: 50 ms, doubling, 800 ms before the last retry. No jitter:
 * these are one caller's retries, not a crowd's.
 */
const UNPROCESSED_BACKOFF = { baseMs: 50, maxMs: 50 * 2 ** (MAX_UNPROCESSED_RETRIES - 1) };

export class DynamoConnectionAudience implements ConnectionAudience {
  constructor(
    protected readonly client: DynamoDBDocumentClient,
    protected readonly tableName: string,
  ) {}

  async removeConnection(connectionId: string): Promise<number> {
    const sortKeys: string[] = [];
    for await (const items of this.queryPages({
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
      ExpressionAttributeValues: { ':pk': connectionId },
      ProjectionExpression: '#sk',
    })) {
      for (const item of items) sortKeys.push(String(item[sortKey.name]));
    }
    for (let i = 0; i < sortKeys.length; i += MAX_BATCH_WRITE) {
      const batch = sortKeys.slice(i, i + MAX_BATCH_WRITE);
      await this.batchDelete(batch.map((sk) => ({ [partitionKey.name]: connectionId, [sortKey.name]: sk })));
    }
    return sortKeys.length;
  }

  postSubscribers(postId: string): AsyncIterable<string[]> {
    return this.topicMembers(connectionKeys.postTopic(postId));
  }

  allConnections(): AsyncIterable<string[]> {
    return this.topicMembers(connectionKeys.allConnectionsTopic);
  }

  countConnections(): Promise<number> {
    return this.countQuery({
      TableName: this.tableName,
      IndexName: CONNECTIONS_BY_TOPIC_INDEX,
      KeyConditionExpression: 'topic = :topic',
      ExpressionAttributeValues: { ':topic': connectionKeys.allConnectionsTopic },
    });
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

  private async *topicMembers(topic: string): AsyncIterable<string[]> {
    for await (const items of this.queryPages({
      TableName: this.tableName,
      IndexName: CONNECTIONS_BY_TOPIC_INDEX,
      KeyConditionExpression: 'topic = :topic',
      ExpressionAttributeValues: { ':topic': topic },
    })) {
      if (items.length > 0) yield items.map((item) => String(item[partitionKey.name]));
    }
  }

  private async *queryPages(input: QueryCommandInput): AsyncIterable<Record<string, unknown>[]> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }));
      yield page.Items ?? [];
      startKey = page.LastEvaluatedKey;
    } while (startKey);
  }

  private async batchDelete(keys: Record<string, string>[]): Promise<void> {
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
        request.DeleteRequest?.Key
          ? [{ DeleteRequest: { Key: request.DeleteRequest.Key as Record<string, string> } }]
          : [],
      );
    }
  }
}

/** The whole table: the audience's reads and deletes, plus the rows of connections and subscriptions. */
export class DynamoConnectionRepository extends DynamoConnectionAudience implements ConnectionRepository {
  constructor(
    client: DynamoDBDocumentClient,
    tableName: string,
    /** Rows outlive API Gateway's 2-hour cap by a margin, so TTL only ever reaps connections already gone. */
    private readonly ttlSeconds: number,
  ) {
    super(client, tableName);
  }

  private expiresAt(connectedAt: number): number {
    return Math.floor(connectedAt / 1000) + this.ttlSeconds;
  }

  async addConnection({ connectionId, connectedAt, userId }: NewConnection): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [partitionKey.name]: connectionId,
          [sortKey.name]: connectionKeys.connectionSortKey,
          topic: connectionKeys.allConnectionsTopic,
          connectedAt,
          userId,
          [timeToLiveAttribute]: this.expiresAt(connectedAt),
        },
      }),
    );
  }

  async addSubscription({ connectionId, postId, connectedAt }: Subscription): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          [partitionKey.name]: connectionId,
          [sortKey.name]: connectionKeys.subscriptionSortKey(postId),
          topic: connectionKeys.postTopic(postId),
          postId,
          [timeToLiveAttribute]: this.expiresAt(connectedAt),
        },
      }),
    );
  }

  async removeSubscription(connectionId: string, postId: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: {
          [partitionKey.name]: connectionId,
          [sortKey.name]: connectionKeys.subscriptionSortKey(postId),
        },
      }),
    );
  }

  countSubscriptions(connectionId: string): Promise<number> {
    return this.countQuery({
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
      ExpressionAttributeValues: { ':pk': connectionId, ':prefix': connectionKeys.subscriptionPrefix },
    });
  }

  async isSubscribed(connectionId: string, postId: string): Promise<boolean> {
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: {
          [partitionKey.name]: connectionId,
          [sortKey.name]: connectionKeys.subscriptionSortKey(postId),
        },
        ProjectionExpression: '#sk',
        ExpressionAttributeNames: { '#sk': sortKey.name },
      }),
    );
    return result.Item !== undefined;
  }
}
