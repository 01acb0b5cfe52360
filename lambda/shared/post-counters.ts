import { BatchGetCommand, GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { backoffDelay, type BackoffBounds } from '../../contracts/backoff';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';
import { StoreBusyError } from './change-cancellation';

/**
 * Reads of the posts' counters (`post#<id>` / `seq`): the seq of each post's latest event, always strongly
 * consistent, since a snapshot, a replay and a heartbeat must all see every event committed before them.
 */
const { partitionKey, sortKey } = commentsTableSchema;

/** The counter item's attribute holding the seq of the post's latest event. */
export const LAST_SEQ_ATTRIBUTE = 'lastSeq';

/** Most keys one BatchGetItem takes. */
const MAX_BATCH_GET = 100;
/** The wait before resending keys a BatchGetItem left unprocessed (throttled): below 10, 20, 40, 80 ms. */
const UNPROCESSED_BACKOFF: BackoffBounds = { baseMs: 10, maxMs: 200 };

export function counterKey(postId: string): Record<string, string> {
  return {
    [partitionKey.name]: commentKeys.postPartition(postId),
    [sortKey.name]: commentKeys.counterSortKey,
  };
}

export function lastSeqOf(item: Record<string, unknown>): number {
  const lastSeq = item[LAST_SEQ_ATTRIBUTE];
  return typeof lastSeq === 'number' ? lastSeq : 0;
}

/** The post's lastSeq, or undefined when it has no counter (no such post). */
export async function readLastSeq(
  client: DynamoDBDocumentClient,
  tableName: string,
  postId: string,
): Promise<number | undefined> {
  const result = await client.send(
    new GetCommand({
      TableName: tableName,
      Key: counterKey(postId),
      ConsistentRead: true,
      ProjectionExpression: '#lastSeq',
      ExpressionAttributeNames: { '#lastSeq': LAST_SEQ_ATTRIBUTE },
    }),
  );
  return result.Item ? lastSeqOf(result.Item) : undefined;
}

export async function readLastSeqs(
  client: DynamoDBDocumentClient,
  tableName: string,
  postIds: readonly string[],
  sleep: (ms: number) => Promise<void>,
): Promise<Map<string, number>> {
  const seqs = new Map<string, number>();
  const unique = [...new Set(postIds)];
  for (let start = 0; start < unique.length; start += MAX_BATCH_GET) {
    await readCounters(client, tableName, unique.slice(start, start + MAX_BATCH_GET), seqs, sleep);
  }
  return seqs;
}

/** One BatchGetItem of at most 100 counters into `seqs`, resending the keys DynamoDB left unprocessed. */
async function readCounters(
  client: DynamoDBDocumentClient,
  tableName: string,
  postIds: string[],
  seqs: Map<string, number>,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  let pending: Record<string, unknown>[] = postIds.map((postId) => counterKey(postId));
  for (let attempt = 1; pending.length > 0; attempt += 1) {
    if (attempt > 1) await sleep(backoffDelay(attempt, UNPROCESSED_BACKOFF, Math.random));
    const result = await client.send(
      new BatchGetCommand({
        RequestItems: {
          [tableName]: {
            Keys: pending,
            ConsistentRead: true,
            ProjectionExpression: '#pk, #lastSeq',
            ExpressionAttributeNames: { '#pk': partitionKey.name, '#lastSeq': LAST_SEQ_ATTRIBUTE },
          },
        },
      }),
    );
    for (const item of result.Responses?.[tableName] ?? []) {
      seqs.set(String(item[partitionKey.name]).slice(commentKeys.postPartition('').length), lastSeqOf(item));
    }
    pending = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
    if (attempt >= 5 && pending.length > 0) throw new StoreBusyError('BatchGetItem left keys unprocessed');
  }
}
