import {
  GetCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';

/**
 * The record of an idempotent write: what the first POST with a given Idempotency-Key created, stored in
 * the same transaction as the write itself, so that a write without its record (or the other way round)
 * cannot exist. A retry with the same key finds it and is answered with the same result; nothing is
 * written twice.
 */
export interface StoredAnswer {
  /** A hash of what the first request asked for: the same key with another request is refused (422). */
  requestHash: string;
  /** The created post or comment, as JSON. */
  result: string;
}

/** An idempotent write's record, as the write's transaction stores it. */
export interface IdempotentWrite extends StoredAnswer {
  /** Keys are per user: one user's key can never replay another's answer. */
  userId: string;
  key: string;
  /** Epoch seconds after which the record may be reaped (TTL) and the key used afresh. */
  expiresAt: number;
}

const { partitionKey, sortKey, timeToLiveAttribute } = commentsTableSchema;

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

const recordKey = (userId: string, key: string): Record<string, string> => ({
  [partitionKey.name]: commentKeys.idempotencyPartition(userId, key),
  [sortKey.name]: commentKeys.idempotencySortKey,
});

/**
 * The transaction item that stores the record, refused when the key is already taken: its condition fails,
 * and the record that holds the key comes back with the cancellation. A record past its expiry is free
 * again even before TTL has deleted it.
 */
export function idempotencyPut(tableName: string, write: IdempotentWrite): TransactItem {
  const { userId, key, requestHash, result, expiresAt } = write;
  return {
    Put: {
      TableName: tableName,
      Item: { ...recordKey(userId, key), requestHash, result, [timeToLiveAttribute]: expiresAt },
      ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now',
      ExpressionAttributeNames: { '#pk': partitionKey.name, '#expiresAt': timeToLiveAttribute },
      ExpressionAttributeValues: { ':now': Math.floor(Date.now() / 1000) },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

export function toStoredAnswer(item: Record<string, unknown>): StoredAnswer {
  return { requestHash: String(item.requestHash), result: String(item.result) };
}

/** The record holding a key, read consistently; for when a cancellation did not bring it back. */
export async function readStoredAnswer(
  client: DynamoDBDocumentClient,
  tableName: string,
  userId: string,
  key: string,
): Promise<StoredAnswer | undefined> {
  const result = await client.send(
    new GetCommand({ TableName: tableName, Key: recordKey(userId, key), ConsistentRead: true }),
  );
  return result.Item ? toStoredAnswer(result.Item) : undefined;
}
