import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { backoffDelay, sleep } from '../../contracts/backoff';
import { connectionKeys, connectionShard, connectionsTableSchema } from '../../contracts/table-schema';
import { DynamoConnectionAudience, rowKey, type ConnectionAudience } from './connection-audience';

export type { ConnectionAudience } from './connection-audience';
export { DynamoConnectionAudience } from './connection-audience';

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
 * How a subscribe ended. `limitReached` and `connectionGone` stored nothing; `alreadySubscribed` changed
 * nothing but made sure the post's subscriber row is there.
 */
export type SubscribeOutcome = 'added' | 'alreadySubscribed' | 'limitReached' | 'connectionGone';

/** Where connections and their subscriptions live: the port the WebSocket routes depend on. */
export interface ConnectionRepository extends ConnectionAudience {
  /** The connection row and its row in the live-connection index, together. */
  addConnection(connection: NewConnection): Promise<void>;
  /**
   * Subscribes, unless the connection already holds `maxSubscriptions`: the count on the connection row and
   * both subscription rows change in one transaction, so subscribes racing on one connection can never
   * pass the limit together.
   */
  addSubscription(subscription: Subscription, maxSubscriptions: number): Promise<SubscribeOutcome>;
  removeSubscription(connectionId: string, postId: string): Promise<void>;
  /** The posts the connection subscribes to, read consistently. */
  subscribedPosts(connectionId: string): Promise<string[]>;
}

const { partitionKey: PK, timeToLiveAttribute: TTL } = connectionsTableSchema;
/** The connection row's count of its subscriptions, kept in step by the subscribe transactions. */
const COUNT_ATTRIBUTE = 'subscriptionCount';

/** The positions in the subscribe transaction, which is how its cancellation reasons are told apart. */
const CONNECTION_ROW = 0;
const SUBSCRIPTION_ROW = 1;

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
    const expiresAt = this.expiresAt(connectedAt);
    await this.client.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.tableName,
              Item: {
                ...rowKey(connectionKeys.connectionPartition(connectionId), connectionKeys.connectionSortKey),
                connectionId,
                connectedAt,
                userId,
                [COUNT_ATTRIBUTE]: 0,
                [TTL]: expiresAt,
              },
            },
          },
          {
            Put: {
              TableName: this.tableName,
              Item: {
                ...rowKey(
                  connectionKeys.liveConnectionsPartition(connectionShard(connectionId)),
                  connectionId,
                ),
                [TTL]: expiresAt,
              },
            },
          },
        ],
      }),
    );
  }

  /**
   * Subscribes and unsubscribes of one connection all change its row, so on AWS two sent at once can
   * collide (TransactionConflict): the loser tries again, a few times.
   */
  async addSubscription(subscription: Subscription, maxSubscriptions: number): Promise<SubscribeOutcome> {
    return retryConflicts(() => this.subscribeOnce(subscription, maxSubscriptions));
  }

  async removeSubscription(connectionId: string, postId: string): Promise<void> {
    await retryConflicts(() => this.unsubscribeOnce(connectionId, postId));
  }

  private async subscribeOnce(
    { connectionId, postId, connectedAt }: Subscription,
    maxSubscriptions: number,
  ): Promise<SubscribeOutcome> {
    const own = connectionKeys.connectionPartition(connectionId);
    const expiresAt = this.expiresAt(connectedAt);
    const subscriberRow = {
      ...rowKey(connectionKeys.subscribersPartition(postId), connectionId),
      [TTL]: expiresAt,
    };
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            this.countSubscriptions(own, '+', maxSubscriptions),
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...rowKey(own, connectionKeys.subscriptionSortKey(postId)),
                  postId,
                  [TTL]: expiresAt,
                },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': PK.name },
              },
            },
            { Put: { TableName: this.tableName, Item: subscriberRow } },
          ],
        }),
      );
      return 'added';
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      const reasons = error.CancellationReasons ?? [];
      if (reasons[SUBSCRIPTION_ROW]?.Code === 'ConditionalCheckFailed') {
        // Subscribed before: the count already includes it. Rewrite the subscriber row in case a crash
        // between an earlier unsubscribe's deletes left it out.
        await this.client.send(new PutCommand({ TableName: this.tableName, Item: subscriberRow }));
        return 'alreadySubscribed';
      }
      if (reasons[CONNECTION_ROW]?.Code === 'ConditionalCheckFailed') {
        return (await this.connectionExists(connectionId)) ? 'limitReached' : 'connectionGone';
      }
      throw error;
    }
  }

  /**
   * The transaction item that moves the connection row's subscription count by one, on the condition that
   * the row exists and the count is within its bound: what makes the limit atomic with the subscription.
   */
  private countSubscriptions(own: string, sign: '+' | '-', bound: number) {
    // Up to the limit (':max') when subscribing, down to zero (':zero') when unsubscribing.
    const [comparison, name] = sign === '+' ? ['<', ':max'] : ['>', ':zero'];
    return {
      Update: {
        TableName: this.tableName,
        Key: rowKey(own, connectionKeys.connectionSortKey),
        UpdateExpression: `SET #count = #count ${sign} :one`,
        ConditionExpression: `attribute_exists(#pk) AND #count ${comparison} ${name}`,
        ExpressionAttributeNames: { '#pk': PK.name, '#count': COUNT_ATTRIBUTE },
        ExpressionAttributeValues: { ':one': 1, [name]: bound },
      },
    };
  }

  private async unsubscribeOnce(connectionId: string, postId: string): Promise<void> {
    const own = connectionKeys.connectionPartition(connectionId);
    const subscriberRow = rowKey(connectionKeys.subscribersPartition(postId), connectionId);
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            this.countSubscriptions(own, '-', 0),
            {
              Delete: {
                TableName: this.tableName,
                Key: rowKey(own, connectionKeys.subscriptionSortKey(postId)),
                ConditionExpression: 'attribute_exists(#pk)',
                ExpressionAttributeNames: { '#pk': PK.name },
              },
            },
            { Delete: { TableName: this.tableName, Key: subscriberRow } },
          ],
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionCanceledException)) throw error;
      // Only a failed condition means "not subscribed" (or the connection gone): nothing to count down. A
      // conflict or a throttle left the subscription in place, and is the caller's to retry.
      const notSubscribed = (error.CancellationReasons ?? []).some(
        (reason) => reason.Code === 'ConditionalCheckFailed',
      );
      if (!notSubscribed) throw error;
      // A subscriber row without its subscription would only cost pushes, so it goes either way.
      await this.client.send(new DeleteCommand({ TableName: this.tableName, Key: subscriberRow }));
    }
  }

  async subscribedPosts(connectionId: string): Promise<string[]> {
    return (await this.subscriptionSortKeys(connectionId)).map(connectionKeys.postIdOfSubscription);
  }

  private async connectionExists(connectionId: string): Promise<boolean> {
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: rowKey(connectionKeys.connectionPartition(connectionId), connectionKeys.connectionSortKey),
        ProjectionExpression: '#pk',
        ExpressionAttributeNames: { '#pk': PK.name },
        ConsistentRead: true,
      }),
    );
    return result.Item !== undefined;
  }
}

/** Attempts at a subscription change that keeps colliding with another change of the same connection. */
const CONFLICT_ATTEMPTS = 4;
const CONFLICT_BACKOFF = { baseMs: 20, maxMs: 200 };

function isConflict(error: unknown): boolean {
  return (
    error instanceof TransactionCanceledException &&
    (error.CancellationReasons ?? []).some((reason) => reason.Code === 'TransactionConflict')
  );
}

async function retryConflicts<T>(change: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await change();
    } catch (error) {
      if (!isConflict(error) || attempt >= CONFLICT_ATTEMPTS) throw error;
      await sleep(backoffDelay(attempt, CONFLICT_BACKOFF, Math.random));
    }
  }
}
