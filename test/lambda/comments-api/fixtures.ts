import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { BroadcastPublisher } from '../../../lambda/comments-api/broadcast-client';
import type {
  ChangeOutcome,
  CommentEdit,
  CommentPage,
  CommentRemoval,
  CommentRepository,
  EventRange,
  EventStamp,
  ListCommentsOptions,
  PostOutcome,
} from '../../../lambda/shared/comment-repository';
import { decodeCursor, encodeCursor } from '../../../lambda/shared/comment-cursor';
import { toSequencedEvent } from '../../../lambda/shared/comment-items';
import type { IdempotentWrite, StoredAnswer } from '../../../lambda/shared/idempotency-record';
import type { CommentChangeEvent, Comment, Post, SequencedChangeEvent } from '../../../contracts/protocol';

export interface RequestOptions {
  pathParameters?: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string;
  /** Claims of a bearer token the HTTP API's JWT authorizer verified; absent for an anonymous request. */
  claims?: Record<string, unknown>;
}

/** The claims API Gateway's JWT authorizer passes on for a verified token of `sub`. */
export function tokenClaims(sub: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub,
    iss: 'https://issuer.example.test',
    client_id: 'comments-client',
    token_use: 'access',
    exp: '1798765200',
    ...extra,
  };
}

/** An HTTP API (payload format 2.0) event as API Gateway delivers it for a matched route. */
export function httpEvent(routeKey: string, options: RequestOptions = {}): APIGatewayProxyEventV2 {
  const [method = 'GET', path = '/'] = routeKey.split(' ');
  const authorizer =
    options.claims === undefined
      ? {}
      : {
          authorizer: {
            principalId: '',
            integrationLatency: 0,
            jwt: { claims: options.claims, scopes: null },
          },
        };
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: new URLSearchParams(options.queryStringParameters ?? {}).toString(),
    headers: options.headers ?? {},
    pathParameters: options.pathParameters,
    queryStringParameters: options.queryStringParameters,
    body: options.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.test',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'jest' },
      requestId: 'request-1',
      routeKey,
      stage: '$default',
      time: '01/Jan/2027:00:00:00 +0000',
      timeEpoch: 1798761600000,
      ...authorizer,
    },
  };
}

export function jsonBody(result: { body?: string }): unknown {
  return JSON.parse(result.body ?? '');
}

/** A publisher that remembers what it was asked to send. */
export class RecordingPublisher implements BroadcastPublisher {
  readonly events: CommentChangeEvent[] = [];
  count: number | Error = 0;

  async publish(event: CommentChangeEvent): Promise<void> {
    this.events.push(event);
  }

  async connectionCount(): Promise<number> {
    if (this.count instanceof Error) throw this.count;
    return this.count;
  }
}

/** An event as the in-memory repository keeps it: the envelope and its TTL. */
export interface StoredEvent {
  event: SequencedChangeEvent;
  createdAt: string;
  expiresAt: number;
}

/** BatchGetItem's own limit, which getLastSeqs keeps to. */
const MAX_BATCH_GET = 100;

/**
 * CommentRepository in memory, with the DynamoDB adapter's contract: comments come back in id order (ids
 * are ULIDs) behind the adapter's own opaque cursor; every post has a counter (lastSeq 0 from its
 * creation) and every change takes the next seq and appends its event (built by the adapter's own
 * toSequencedEvent), all at once or not at all. An idempotent write stores its record in the same step,
 * and a key already held by an unexpired record refuses the whole write (keyUsed, with that record), as
 * the adapter's transaction does. Each method checks and writes without
 * yielding in between, so concurrent calls are as atomic as DynamoDB's transactions.
 */
export class InMemoryCommentRepository implements CommentRepository {
  readonly posts = new Map<string, Post>();
  readonly comments = new Map<string, Comment>();
  readonly lastSeq = new Map<string, number>();
  /** Per post, in seq order. */
  readonly events = new Map<string, StoredEvent[]>();
  /** Idempotency records by `userId#key`. */
  readonly idempotency = new Map<string, IdempotentWrite>();

  /** @param nowSeconds Epoch seconds, which judges whether an idempotency record has expired. */
  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  async createPost(post: Post, idempotent?: IdempotentWrite): Promise<PostOutcome> {
    const previous = this.keyHolder(idempotent);
    if (previous) return { ok: false, reason: 'keyUsed', previous };
    this.posts.set(post.id, post);
    this.lastSeq.set(post.id, 0);
    this.keep(idempotent);
    return { ok: true };
  }

  async getPost(postId: string): Promise<Post | undefined> {
    return this.posts.get(postId);
  }

  async getLastSeq(postId: string): Promise<number | undefined> {
    return this.posts.has(postId) ? (this.lastSeq.get(postId) ?? 0) : undefined;
  }

  async getLastSeqs(postIds: readonly string[]): Promise<Map<string, number>> {
    const unique = [...new Set(postIds)];
    if (unique.length > MAX_BATCH_GET) throw new RangeError(`At most ${MAX_BATCH_GET} posts at once`);
    const seqs = new Map<string, number>();
    for (const postId of unique) {
      if (this.posts.has(postId)) seqs.set(postId, this.lastSeq.get(postId) ?? 0);
    }
    return seqs;
  }

  async createComment(
    comment: Comment,
    stamp: EventStamp,
    idempotent?: IdempotentWrite,
  ): Promise<ChangeOutcome> {
    // As the adapter: a post without a counter is refused before the transaction is tried.
    if (!this.posts.has(comment.postId)) return { ok: false, reason: 'postNotFound' };
    const previous = this.keyHolder(idempotent);
    if (previous) return { ok: false, reason: 'keyUsed', previous };
    this.comments.set(`${comment.postId}/${comment.id}`, comment);
    this.keep(idempotent);
    return this.append(comment.postId, 'comment.created', { postId: comment.postId, comment }, stamp);
  }

  async getComment(postId: string, commentId: string): Promise<Comment | undefined> {
    return this.comments.get(`${postId}/${commentId}`);
  }

  async listComments(postId: string, { limit, cursor }: ListCommentsOptions): Promise<CommentPage> {
    // The adapter's own cursor: garbage is refused with InvalidCursorError, as it is there.
    const after = cursor === undefined ? undefined : decodeCursor(cursor);
    const all = [...this.comments.values()]
      .filter((comment) => comment.postId === postId && (after === undefined || comment.id > after))
      .sort((a, b) => (a.id < b.id ? -1 : 1));
    const comments = all.slice(0, limit);
    const last = comments[comments.length - 1];
    return all.length > limit && last ? { comments, nextCursor: encodeCursor(last.id) } : { comments };
  }

  async updateComment(edit: CommentEdit, stamp: EventStamp): Promise<ChangeOutcome> {
    const { postId, commentId, userId, content, updatedAt, createdAt } = edit;
    const existing = this.comments.get(`${postId}/${commentId}`);
    if (!this.posts.has(postId)) return { ok: false, reason: 'postNotFound' };
    if (!existing) return { ok: false, reason: 'commentNotFound' };
    if (existing.userId !== userId) return { ok: false, reason: 'notAuthor' };
    this.comments.set(`${postId}/${commentId}`, { ...existing, content, updatedAt });
    // As the adapter: the event carries the comment as it is after the edit, built from the edit itself.
    const comment: Comment = { id: commentId, postId, userId, content, createdAt, updatedAt };
    return this.append(postId, 'comment.updated', { postId, commentId, action: 'updated', comment }, stamp);
  }

  async deleteComment(removal: CommentRemoval, stamp: EventStamp): Promise<ChangeOutcome> {
    const { postId, commentId, userId } = removal;
    const existing = this.comments.get(`${postId}/${commentId}`);
    if (!this.posts.has(postId)) return { ok: false, reason: 'postNotFound' };
    if (!existing) return { ok: false, reason: 'commentNotFound' };
    if (existing.userId !== userId) return { ok: false, reason: 'notAuthor' };
    this.comments.delete(`${postId}/${commentId}`);
    return this.append(postId, 'comment.updated', { postId, commentId, action: 'deleted' }, stamp);
  }

  /** As the adapter's consistent GetItem: the stored event, expired or not (TTL deletes it later). */
  async getEvent(postId: string, seq: number): Promise<SequencedChangeEvent | undefined> {
    return (this.events.get(postId) ?? []).find(({ event }) => event.seq === seq)?.event;
  }

  async listEvents(
    postId: string,
    { afterSeq, throughSeq, now }: EventRange,
  ): Promise<SequencedChangeEvent[]> {
    return (this.events.get(postId) ?? [])
      .filter(({ event, expiresAt }) => event.seq > afterSeq && event.seq <= throughSeq && expiresAt >= now)
      .map(({ event }) => event);
  }

  /** The record holding the write's key, unless it has expired (then the key is free again). */
  private keyHolder(write: IdempotentWrite | undefined): StoredAnswer | undefined {
    if (!write) return undefined;
    const record = this.idempotency.get(`${write.userId}#${write.key}`);
    if (!record || record.expiresAt < this.nowSeconds()) return undefined;
    return { requestHash: record.requestHash, result: record.result };
  }

  private keep(write: IdempotentWrite | undefined): void {
    if (write) this.idempotency.set(`${write.userId}#${write.key}`, write);
  }

  private append(postId: string, type: string, data: unknown, stamp: EventStamp): ChangeOutcome {
    const seq = (this.lastSeq.get(postId) ?? 0) + 1;
    this.lastSeq.set(postId, seq);
    const event = toSequencedEvent({ type, data, eventId: stamp.eventId, seq });
    const log = this.events.get(postId) ?? [];
    log.push({ event, createdAt: stamp.createdAt, expiresAt: stamp.expiresAt });
    this.events.set(postId, log);
    return { ok: true, event };
  }
}

/** A clock that stands still unless moved, and ids that count up: outputs are fully predictable. */
export function fixedTimeDependencies(start = '2027-01-01T00:00:00.000Z'): {
  clock: () => Date;
  newId: () => string;
  advance: (ms: number) => void;
} {
  let now = new Date(start).getTime();
  let sequence = 0;
  return {
    clock: () => new Date(now),
    newId: () => `ID${String((sequence += 1)).padStart(4, '0')}`,
    advance: (ms) => {
      now += ms;
    },
  };
}
