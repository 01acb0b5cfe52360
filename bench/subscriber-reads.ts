/**
 * The two ways to find who listens to a post, each metered: the strongly consistent Query of the post's
 * subscriber partition that a broadcast makes, and the full Scan of the AWS samples. The fan-out
 * measurements use the Query for their audiences.
 */
import { QueryCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { connectionKeys, connectionsTableSchema } from '../contracts/table-schema';
import { documentClient, type BenchTarget } from './target';

/** A subscriber row is `pk = subscribers#<postId>`, `sk = <connectionId>` (contracts/table-schema.ts). */
const { partitionKey: PK, sortKey: SK } = connectionsTableSchema;

/** What the reads of one broadcast cost, as DynamoDB reports it (ReturnConsumedCapacity: TOTAL). */
export interface ReadCost {
  requests: number;
  /** Items returned (Count): the connections the broadcast needs. */
  itemsReturned: number;
  /** Items read (ScannedCount): what is paid for. */
  itemsRead: number;
  /** Read capacity units, as DynamoDB Local reported them. */
  consumedCapacityUnits: number;
  /** Requests whose response carried no ConsumedCapacity (then the units above are incomplete). */
  requestsWithoutCapacity: number;
  durationMs: number;
}

/** A document client whose every request asks for ConsumedCapacity and adds the answer to `cost`. */
function meteredClient(target: BenchTarget, cost: ReadCost): { db: DynamoDBDocumentClient; destroy(): void } {
  const client = documentClient(target);
  client.db.middlewareStack.add(
    (next) => async (args) => {
      (args.input as unknown as Record<string, unknown>).ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const output = result.output as unknown as {
        Count?: number;
        ScannedCount?: number;
        ConsumedCapacity?: { CapacityUnits?: number };
      };
      cost.requests += 1;
      cost.itemsReturned += output.Count ?? 0;
      cost.itemsRead += output.ScannedCount ?? 0;
      if (output.ConsumedCapacity?.CapacityUnits === undefined) cost.requestsWithoutCapacity += 1;
      else cost.consumedCapacityUnits += output.ConsumedCapacity.CapacityUnits;
      return result;
    },
    { step: 'initialize', name: 'benchReadMeter' },
  );
  return client;
}

const emptyCost = (): ReadCost => ({
  requests: 0,
  itemsReturned: 0,
  itemsRead: 0,
  consumedCapacityUnits: 0,
  requestsWithoutCapacity: 0,
  durationMs: 0,
});

/**
 * The broadcast path's own read, page by page: the same strongly consistent Query of the base-table
 * partition `subscribers#<postId>` as the functions' connection audience (lambda/shared/connection-audience.ts),
 * written here against the SDK because the benchmark does not load function code.
 */
export async function subscriberQueryCost(
  target: BenchTarget,
  postId: string,
): Promise<{ cost: ReadCost; connectionIds: string[] }> {
  const cost = emptyCost();
  const client = meteredClient(target, cost);
  const started = performance.now();
  try {
    const connectionIds: string[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await client.db.send(
        new QueryCommand({
          TableName: target.connectionsTableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK.name, '#sk': SK.name },
          ExpressionAttributeValues: { ':pk': connectionKeys.subscribersPartition(postId) },
          ProjectionExpression: '#sk',
          // As the broadcast reads it: a subscription stored just before the change is always seen.
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) connectionIds.push(String(item[SK.name]));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    cost.durationMs = performance.now() - started;
    return { cost, connectionIds };
  } finally {
    client.destroy();
  }
}

/**
 * The AWS samples' read: Scan the whole connections table (here filtered to the post's subscriber rows, so
 * that it returns what the Query returns), paying for every row of every connection.
 */
export async function fullScanCost(target: BenchTarget, postId: string): Promise<ReadCost> {
  const cost = emptyCost();
  const client = meteredClient(target, cost);
  const started = performance.now();
  try {
    let startKey: Record<string, unknown> | undefined;
    // Bounded: a table of a million rows is far beyond any benchmark pool, so the loop always ends.
    for (let page = 0; page < 10_000; page += 1) {
      const result = await client.db.send(
        new ScanCommand({
          TableName: target.connectionsTableName,
          ProjectionExpression: '#sk',
          FilterExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PK.name, '#sk': SK.name },
          ExpressionAttributeValues: { ':pk': connectionKeys.subscribersPartition(postId) },
          ExclusiveStartKey: startKey,
        }),
      );
      startKey = result.LastEvaluatedKey;
      if (!startKey) break;
    }
    cost.durationMs = performance.now() - started;
    return cost;
  } finally {
    client.destroy();
  }
}
