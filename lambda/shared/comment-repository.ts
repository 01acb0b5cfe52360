import {
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type DynamoDBDocumentClient,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { backoffDelay, sleep, type RetryPolicy } from '../../contracts/backoff';
import type { Comment, Post, SequencedChangeEvent } from '../../contracts/protocol';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';
import { judgeCancellation, type ChangeKind } from './change-cancellation';
import { decodeCursor, encodeCursor } from './comment-cursor';
import { toComment, toPost, toSequencedEvent } from './comment-items';

export interface CommentPage {
  comments: Comment[];
  /** Opaque; present when more comments follow. */
  nextCursor?: string;
}

export interface ListCommentsOptions {
  limit: number;
  cursor?: string;
  /** A strongly consistent read: sees every change committed before it. @default false */
  consistent?: boolean;
}

/** The identity and lifetime of the event a change records; chosen by the caller, which owns the clock. */
export interface EventStamp {
  /** A ULID (ids.ts). */
  eventId: string;
  /** ISO time of the change. */
  createdAt: string;
  /** Epoch seconds after which the event may be deleted (the table's TTL attribute). */
  expiresAt: number;
}

/** An edit by `userId`, who must be the comment's author. */
export interface CommentEdit {
  postId: string;
  commentId: string;
  userId: string;
  content: string;
  updatedAt: string;
}

/** A deletion by `userId`, who must be the comment's author. */
export interface CommentRemoval {
  postId: string;
  commentId: string;
  userId: string;
}

/** Why a change was refused. Nothing was written: not the change, not its event, not the post's seq. */
export type ChangeRejection = 'postNotFound' | 'commentNotFound' | 'notAuthor';

/** A change either happened, as exactly this stored event, or was refused. */
export type ChangeOutcome =
  { ok: true; event: SequencedChangeEvent } | { ok: false; reason: ChangeRejection };

/** Which events to read: `afterSeq < seq <= throughSeq`, as of `now`. */
export interface EventRange {
  afterSeq: number;
  throughSeq: number;
  /** Epoch seconds: events whose `expiresAt` is before this are treated as gone (TTL deletes lazily). */
  now: number;
}

/**
 * Posts, comments and the per-post log of comment changes: the port the comment service and the
 * subscribe route depend on. Every comment write also appends its event, with the post's next `seq`, in
 * one transaction: a change without its event, or an event without its change, cannot be stored.
 */
export interface CommentRepository {
  createPost(post: Post): Promise<void>;
  getPost(postId: string): Promise<Post | undefined>;
  /** The seq of the post's latest event (0 before the first), read consistently; undefined without the post. */
  getLastSeq(postId: string): Promise<number | undefined>;
  /** Stores the comment (refused when its post does not exist) and its `comment.created` event. */
  createComment(comment: Comment, stamp: EventStamp): Promise<ChangeOutcome>;
  getComment(postId: string, commentId: string): Promise<Comment | undefined>;
  listComments(postId: string, options: ListCommentsOptions): Promise<CommentPage>;
  /** Sets content and updatedAt (refused unless the comment exists and is the user's) and records the event. */
  updateComment(edit: CommentEdit, stamp: EventStamp): Promise<ChangeOutcome>;
  /** Deletes the comment (refused unless it exists and is the user's) and records the event. */
  deleteComment(removal: CommentRemoval, stamp: EventStamp): Promise<ChangeOutcome>;
  /** The unexpired events in the range, oldest first, read consistently; gaps are the caller's to judge. */
  listEvents(postId: string, range: EventRange): Promise<SequencedChangeEvent[]>;
}

/**
 * Too many writers raced for the post's next seq and this one lost every time. Nothing was written; the
 * caller may try again later.
 */
export class SeqContentionError extends Error {
  constructor(postId: string, attempts: number) {
    super(`Could not take the next event seq of post ${postId} in ${attempts} attempts`);
    this.name = 'SeqContentionError';
  }
}

const { partitionKey, sortKey, timeToLiveAttribute } = commentsTableSchema;

/** The post item's attribute holding the seq of its latest event. */
const LAST_SEQ_ATTRIBUTE = 'lastSeq';

/**
 * Taking the next seq when other writers to the same post keep winning the race: a few attempts, with a
 * fully jittered wait below 20, 40, 80, 160, then 250 ms between them. Not a stage setting: the race is
 * between writers of one post, whatever the stage.
 */
const SEQ_RETRY: RetryPolicy = { maxAttempts: 6, baseMs: 20, maxMs: 250 };
export const DEFAULT_MAX_SEQ_ATTEMPTS = SEQ_RETRY.maxAttempts;

export interface DynamoCommentRepositoryOptions {
  /** @default DEFAULT_MAX_SEQ_ATTEMPTS */
  maxSeqAttempts?: number;
  /** Waits between seq attempts; tests pass one that does not. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

export class DynamoCommentRepository implements CommentRepository {
  private readonly maxSeqAttempts: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: DynamoCommentRepositoryOptions = {},
  ) {
    this.maxSeqAttempts = options.maxSeqAttempts ?? DEFAULT_MAX_SEQ_ATTEMPTS;
    this.sleep = options.sleep ?? sleep;
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

  async createPost(post: Post): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...this.postKey(post.id), ...post },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': partitionKey.name },
      }),
    );
  }

  async getPost(postId: string): Promise<Post | undefined> {
    const result = await this.client.send(
      // Strongly consistent: a client that subscribes right after creating the post must find it.
      new GetCommand({ TableName: this.tableName, Key: this.postKey(postId), ConsistentRead: true }),
    );
    return result.Item ? toPost(result.Item) : undefined;
  }

  async getLastSeq(postId: string): Promise<number | undefined> {
    const result = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: this.postKey(postId),
        ConsistentRead: true,
        ProjectionExpression: '#pk, #lastSeq',
        ExpressionAttributeNames: { '#pk': partitionKey.name, '#lastSeq': LAST_SEQ_ATTRIBUTE },
      }),
    );
    if (!result.Item) return undefined;
    const lastSeq = result.Item[LAST_SEQ_ATTRIBUTE];
    return typeof lastSeq === 'number' ? lastSeq : 0;
  }

  async createComment(comment: Comment, stamp: EventStamp): Promise<ChangeOutcome> {
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
    const { postId, commentId, userId, content, updatedAt } = edit;
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
      { type: 'comment.updated', data: { postId, commentId, action: 'updated' } },
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

  async listEvents(
    postId: string,
    { afterSeq, throughSeq, now }: EventRange,
  ): Promise<SequencedChangeEvent[]> {
    if (throughSeq <= afterSeq) return [];
    const events: SequencedChangeEvent[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :through',
          ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
          ExpressionAttributeValues: {
            ':pk': commentKeys.postPartition(postId),
            ':from': commentKeys.eventSortKey(afterSeq + 1),
            ':through': commentKeys.eventSortKey(throughSeq),
          },
          ScanIndexForward: true,
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const expiresAt = item[timeToLiveAttribute];
        // TTL deletes an expired item some time after it expires, not at once: it is already gone to us.
        if (typeof expiresAt === 'number' && expiresAt < now) continue;
        events.push(toSequencedEvent(item));
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return events;
  }

  /**
   * One transaction: the post's lastSeq moves from n - 1 to n (only if no one else moved it), the comment
   * is written (under its own conditions), and event n is stored. Losing the race for n re-reads lastSeq
   * and tries n + 1, a few times, with jittered backoff.
   */
  private async recordChange(
    postId: string,
    kind: ChangeKind,
    change: NonNullable<TransactWriteCommandInput['TransactItems']>[number],
    event: Pick<SequencedChangeEvent, 'type' | 'data'>,
    stamp: EventStamp,
  ): Promise<ChangeOutcome> {
    for (let attempt = 1; ; attempt += 1) {
      const lastSeq = await this.getLastSeq(postId);
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
      try {
        await this.client.send(
          new TransactWriteCommand({
            // In ChangeItemPositions order: the cancellation reasons are read by position.
            TransactItems: [
              this.advanceSeq(postId, lastSeq),
              change,
              {
                Put: {
                  TableName: this.tableName,
                  Item: item,
                  // History is never overwritten; with lastSeq guarded this cannot fail, short of a bug.
                  ConditionExpression: 'attribute_not_exists(#pk)',
                  ExpressionAttributeNames: { '#pk': partitionKey.name },
                },
              },
            ],
          }),
        );
        return { ok: true, event: toSequencedEvent(item) };
      } catch (error) {
        const verdict = judgeCancellation(error, kind);
        if (!verdict) throw error;
        if (!verdict.retry) return { ok: false, reason: verdict.reason };
        if (attempt >= this.maxSeqAttempts) throw new SeqContentionError(postId, attempt);
        await this.sleep(backoffDelay(attempt, SEQ_RETRY, Math.random));
      }
    }
  }

  /** The post item's part of a change: lastSeq from `previous` to previous + 1, and only from there. */
  private advanceSeq(
    postId: string,
    previous: number,
  ): NonNullable<TransactWriteCommandInput['TransactItems']>[number] {
    // A post has no lastSeq until its first event; attribute_exists(#pk) keeps the update from creating
    // a post that is not there.
    return {
      Update: {
        TableName: this.tableName,
        Key: this.postKey(postId),
        UpdateExpression: 'SET #lastSeq = :seq',
        ConditionExpression:
          previous === 0
            ? 'attribute_exists(#pk) AND attribute_not_exists(#lastSeq)'
            : 'attribute_exists(#pk) AND #lastSeq = :previous',
        ExpressionAttributeNames: { '#pk': partitionKey.name, '#lastSeq': LAST_SEQ_ATTRIBUTE },
        ExpressionAttributeValues:
          previous === 0 ? { ':seq': previous + 1 } : { ':seq': previous + 1, ':previous': previous },
      },
    };
  }
}
