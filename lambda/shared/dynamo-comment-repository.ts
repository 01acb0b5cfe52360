import {
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { backoffDelay, sleep, type BackoffBounds } from '../../contracts/backoff';
import type { Comment, Post, SequencedChangeEvent } from '../../contracts/protocol';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';
import { judgeCancellation, StoreBusyError, type ChangeKind } from './change-cancellation';
import { decodeCursor, encodeCursor } from './comment-cursor';
import { toComment, toPost, toSequencedEvent } from './comment-items';
import { readEvent, readEvents } from './event-log';
import { KeyedTurns } from './keyed-turns';
import { counterKey, lastSeqOf, LAST_SEQ_ATTRIBUTE, readLastSeq, readLastSeqs } from './post-counters';
import {
  SeqContentionError,
  type ChangeOutcome,
  type CommentEdit,
  type CommentPage,
  type CommentRemoval,
  type CommentRepository,
  type EventRange,
  type EventStamp,
  type ListCommentsOptions,
  type PostOutcome,
} from './comment-repository';
import {
  idempotencyPut,
  readStoredAnswer,
  type IdempotentWrite,
  type StoredAnswer,
} from './idempotency-record';

const { partitionKey, sortKey, timeToLiveAttribute } = commentsTableSchema;

/**
 * Writers of one post take its seqs one after another: each change is one transaction conditioned on the
 * counter, and a writer that lost the race learns the new lastSeq from the cancellation and tries the next
 * at once, after a short jittered pause (below 10, 20, 40, … 200 ms) that keeps a crowd from colliding in
 * lockstep. It keeps trying until a deadline rather than for a number of attempts, so a burst of fifty
 * writers all get through; a post written faster than that for longer is refused with 503 (docs/fan-out.md).
 * Not a stage setting: the race is between writers of one post, whatever the stage.
 */
const SEQ_BACKOFF: BackoffBounds = { baseMs: 10, maxMs: 200 };
export const DEFAULT_SEQ_DEADLINE_MS = 5000;

export interface DynamoCommentRepositoryOptions {
  /** How long one change may keep losing the race for its seq. @default DEFAULT_SEQ_DEADLINE_MS */
  seqDeadlineMs?: number;
  /** Waits between seq attempts; tests pass one that does not. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds from any origin, for the deadline. @default performance.now */
  now?: () => number;
}

/** One change to record: what {@link DynamoCommentRepository.recordChange} takes turns with. */
interface ChangeRequest {
  postId: string;
  kind: ChangeKind;
  change: TransactItem;
  event: Pick<SequencedChangeEvent, 'type' | 'data'>;
  stamp: EventStamp;
  idempotent?: IdempotentWrite;
}

export class DynamoCommentRepository implements CommentRepository {
  private readonly seqDeadlineMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** Changes of each post being written by this process, one at a time. */
  private readonly turns = new KeyedTurns();

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoCommentRepositoryOptions = {},
  ) {
    this.seqDeadlineMs = options.seqDeadlineMs ?? DEFAULT_SEQ_DEADLINE_MS;
    this.sleep = options.sleep ?? sleep;
    this.now = options.now ?? (() => performance.now());
  }

  private postKey(postId: string): Record<string, string> {
    return {
      [partitionKey.name]: commentKeys.postPartition(postId),
      [sortKey.name]: commentKeys.postSortKey,
    };
  }

  private commentKey(postId: string, commentId: string): Record<string, string> {
    return {
      [partitionKey.name]: commentKeys.postPartition(postId),
      [sortKey.name]: commentKeys.commentSortKey(commentId),
    };
  }

  async createPost(post: Post, idempotent?: IdempotentWrite): Promise<PostOutcome> {
    const items: TransactItem[] = [
      {
        Put: {
          TableName: this.tableName,
          Item: { ...this.postKey(post.id), ...post },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': partitionKey.name },
        },
      },
      {
        Put: {
          TableName: this.tableName,
          Item: { ...counterKey(post.id), [LAST_SEQ_ATTRIBUTE]: 0 },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': partitionKey.name },
        },
      },
    ];
    if (idempotent) items.push(idempotencyPut(this.tableName, idempotent));
    try {
      await this.client.send(new TransactWriteCommand({ TransactItems: items }));
      return { ok: true };
    } catch (error) {
      // Throttling throws StoreBusyError here, with a key or without.
      const verdict = judgeCancellation(error, 'newPost', idempotent ? items.length - 1 : undefined);
      if (idempotent && verdict?.retry === false && verdict.reason === 'keyUsed') {
        return { ok: false, reason: 'keyUsed', previous: await this.answerOf(idempotent, verdict.previous) };
      }
      throw error;
    }
  }

  async getPost(postId: string): Promise<Post | undefined> {
    const result = await this.client.send(
      // Strongly consistent: a client that subscribes right after creating the post must find it.
      new GetCommand({ TableName: this.tableName, Key: this.postKey(postId), ConsistentRead: true }),
    );
    return result.Item ? toPost(result.Item) : undefined;
  }

  getLastSeq(postId: string): Promise<number | undefined> {
    return readLastSeq(this.client, this.tableName, postId);
  }

  getLastSeqs(postIds: readonly string[]): Promise<Map<string, number>> {
    return readLastSeqs(this.client, this.tableName, postIds, this.sleep);
  }

  async createComment(
    comment: Comment,
    stamp: EventStamp,
    idempotent?: IdempotentWrite,
  ): Promise<ChangeOutcome> {
    return this.recordChange(
      comment.postId,
      'newComment',
      {
        Put: {
          TableName: this.tableName,
          Item: { ...this.commentKey(comment.postId, comment.id), ...comment },
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': partitionKey.name },
        },
      },
      { type: 'comment.created', data: { postId: comment.postId, comment } },
      stamp,
      idempotent,
    );
  }

  async getComment(postId: string, commentId: string): Promise<Comment | undefined> {
    const result = await this.client.send(
      // Strongly consistent: an edit right after the create must not see a 404.
      new GetCommand({
        TableName: this.tableName,
        Key: this.commentKey(postId, commentId),
        ConsistentRead: true,
      }),
    );
    return result.Item ? toComment(result.Item) : undefined;
  }

  async listComments(
    postId: string,
    { limit, cursor, consistent }: ListCommentsOptions,
  ): Promise<CommentPage> {
    const startKey = cursor === undefined ? undefined : this.commentKey(postId, decodeCursor(cursor));
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
        ExpressionAttributeValues: {
          ':pk': commentKeys.postPartition(postId),
          ':prefix': commentKeys.commentPrefix,
        },
        ScanIndexForward: true,
        Limit: limit,
        ExclusiveStartKey: startKey,
        ...(consistent ? { ConsistentRead: true } : {}),
      }),
    );
    const comments = (result.Items ?? []).map(toComment);
    const last = comments[comments.length - 1];
    // DynamoDB may hand back a LastEvaluatedKey even when nothing follows; the next page is then empty,
    // which is correct if slightly wasteful.
    return result.LastEvaluatedKey && last ? { comments, nextCursor: encodeCursor(last.id) } : { comments };
  }

  async updateComment(edit: CommentEdit, stamp: EventStamp): Promise<ChangeOutcome> {
    const { postId, commentId, userId, content, updatedAt, createdAt } = edit;
    const comment: Comment = { id: commentId, postId, userId, content, createdAt, updatedAt };
    return this.recordChange(
      postId,
      'existingComment',
      {
        Update: {
          TableName: this.tableName,
          Key: this.commentKey(postId, commentId),
          UpdateExpression: 'SET content = :content, updatedAt = :updatedAt',
          ConditionExpression: 'attribute_exists(#pk) AND userId = :userId',
          ExpressionAttributeNames: { '#pk': partitionKey.name },
          ExpressionAttributeValues: { ':content': content, ':updatedAt': updatedAt, ':userId': userId },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      { type: 'comment.updated', data: { postId, commentId, action: 'updated', comment } },
      stamp,
    );
  }

  async deleteComment(removal: CommentRemoval, stamp: EventStamp): Promise<ChangeOutcome> {
    const { postId, commentId, userId } = removal;
    return this.recordChange(
      postId,
      'existingComment',
      {
        Delete: {
          TableName: this.tableName,
          Key: this.commentKey(postId, commentId),
          ConditionExpression: 'attribute_exists(#pk) AND userId = :userId',
          ExpressionAttributeNames: { '#pk': partitionKey.name },
          ExpressionAttributeValues: { ':userId': userId },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      },
      { type: 'comment.updated', data: { postId, commentId, action: 'deleted' } },
      stamp,
    );
  }

  getEvent(postId: string, seq: number): Promise<SequencedChangeEvent | undefined> {
    return readEvent(this.client, this.tableName, postId, seq);
  }

  listEvents(postId: string, range: EventRange): Promise<SequencedChangeEvent[]> {
    return readEvents(this.client, this.tableName, postId, range);
  }

  /**
   * One transaction: the post's counter moves from n - 1 to n (only if no one else moved it), the comment
   * is written (under its own conditions), event n is stored, and so is the idempotency record when there
   * is one. Losing the race for n tells the new lastSeq (the counter comes back with the cancellation), and
   * the next attempt tries the seq after it, until the deadline.
   */
  private recordChange(
    postId: string,
    kind: ChangeKind,
    change: TransactItem,
    event: Pick<SequencedChangeEvent, 'type' | 'data'>,
    stamp: EventStamp,
    idempotent?: IdempotentWrite,
  ): Promise<ChangeOutcome> {
    // Writers of one post in this process take turns instead of racing each other to the counter: the race
    // is then only between processes (Lambda instances), where the transaction's condition settles it.
    const request: ChangeRequest = {
      postId,
      kind,
      change,
      event,
      stamp,
      ...(idempotent ? { idempotent } : {}),
    };
    return this.turns.run(postId, () => this.takeSeq(request));
  }

  private async takeSeq({
    postId,
    kind,
    change,
    event,
    stamp,
    idempotent,
  }: ChangeRequest): Promise<ChangeOutcome> {
    const started = this.now();
    let lastSeq = await this.getLastSeq(postId);
    for (let attempt = 1; ; attempt += 1) {
      if (lastSeq === undefined) return { ok: false, reason: 'postNotFound' };
      const seq = lastSeq + 1;
      const item = {
        [partitionKey.name]: commentKeys.postPartition(postId),
        [sortKey.name]: commentKeys.eventSortKey(seq),
        eventId: stamp.eventId,
        seq,
        type: event.type,
        data: event.data,
        createdAt: stamp.createdAt,
        [timeToLiveAttribute]: stamp.expiresAt,
      };
      // In ChangeItemPositions order: the cancellation reasons are read by position.
      const items: TransactItem[] = [
        this.advanceSeq(postId, lastSeq),
        change,
        {
          Put: {
            TableName: this.tableName,
            Item: item,
            // History is never overwritten; with the counter guarded this cannot fail, short of a bug.
            ConditionExpression: 'attribute_not_exists(#pk)',
            ExpressionAttributeNames: { '#pk': partitionKey.name },
          },
        },
      ];
      if (idempotent) items.push(idempotencyPut(this.tableName, idempotent));
      try {
        await this.client.send(new TransactWriteCommand({ TransactItems: items }));
        return { ok: true, event: toSequencedEvent(item) };
      } catch (error) {
        const verdict = judgeCancellation(error, kind, idempotent ? items.length - 1 : undefined);
        if (!verdict) throw error;
        if (!verdict.retry) {
          if (verdict.reason !== 'keyUsed') return { ok: false, reason: verdict.reason };
          if (!idempotent) throw error;
          return {
            ok: false,
            reason: 'keyUsed',
            previous: await this.answerOf(idempotent, verdict.previous),
          };
        }
        const waited = this.now() - started;
        if (waited >= this.seqDeadlineMs) throw new SeqContentionError(postId, attempt, Math.round(waited));
        await this.sleep(backoffDelay(attempt, SEQ_BACKOFF, Math.random));
        // The counter as the winner left it, when the cancellation brought it; else read it again.
        lastSeq = verdict.counter === undefined ? await this.getLastSeq(postId) : lastSeqOf(verdict.counter);
      }
    }
  }

  /** The answer stored under a used key: as the cancellation brought it, or read when it did not. */
  private async answerOf(write: IdempotentWrite, returned?: StoredAnswer): Promise<StoredAnswer> {
    const answer = returned ?? (await readStoredAnswer(this.client, this.tableName, write.userId, write.key));
    // Taken, yet gone by the time it is read: expired and reaped in between. Not this request's to decide.
    if (!answer) throw new StoreBusyError('The idempotency record changed while it was read');
    return answer;
  }

  /** The counter's part of a change: lastSeq from `previous` to previous + 1, and only from there. */
  private advanceSeq(postId: string, previous: number): TransactItem {
    return {
      Update: {
        TableName: this.tableName,
        Key: counterKey(postId),
        UpdateExpression: 'SET #lastSeq = :seq',
        ConditionExpression: '#lastSeq = :previous',
        ExpressionAttributeNames: { '#lastSeq': LAST_SEQ_ATTRIBUTE },
        ExpressionAttributeValues: { ':seq': previous + 1, ':previous': previous },
        // A lost race returns the counter, so the next attempt needs no read to learn where it stands.
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    };
  }
}

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];
