import { IDEMPOTENCY_WINDOW_SECONDS } from '../../contracts/idempotency';
import { MetricNames } from '../../contracts/telemetry-names';
import type { Comment, Post, SequencedChangeEvent } from '../../contracts/protocol';
import { InvalidCursorError } from '../shared/comment-cursor';
import type { ChangeOutcome, CommentRepository, EventStamp } from '../shared/comment-repository';
import {
  ForbiddenError,
  NotFoundError,
  ServiceUnavailableError,
  UnprocessableEntityError,
  ValidationError,
} from '../shared/errors';
import type { IdempotentWrite, StoredAnswer } from '../shared/idempotency-record';
import { countMetric, logger } from '../shared/telemetry';
import type { BroadcastPublisher } from './broadcast-client';
import {
  codePointLength,
  MAX_BODY_LENGTH,
  MAX_COMMENT_LENGTH,
  MAX_TITLE_LENGTH,
  pageLimit,
  requireId,
  requireText,
  requireWellFormed,
} from './input-rules';

export {
  DEFAULT_PAGE_LIMIT,
  MAX_BODY_LENGTH,
  MAX_COMMENT_LENGTH,
  MAX_PAGE_LIMIT,
  MAX_TITLE_LENGTH,
} from './input-rules';

/** Who performs a write: the verified token's subject (identity.ts is the one place that reads it). */
export interface Actor {
  userId: string;
}

export interface NewPost {
  title: string;
  body?: string;
}

/**
 * A write sent with an Idempotency-Key: the key, and a fingerprint of the request it came with (the route,
 * its path and its exact body), so that the same key with another request can be told apart.
 */
export interface IdempotencyRequest {
  key: string;
  fingerprint: string;
}

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export interface CommentListing {
  postId: string;
  comments: Comment[];
  /** Comments on this page, as the original `len(comments)`. */
  count: number;
  nextCursor?: string;
}

/** The shape of GET /websocket/connections in the original backend, kept so its dashboards keep working. */
export type ConnectionStatus =
  | { status: 'healthy'; connectionCount: number; timestamp: string; endpoint: string }
  | { status: 'error'; connectionCount: 0; error: string; timestamp: string };

export type Clock = () => Date;
/** Given the creation time in epoch ms, so that an id (a ULID) and its createdAt agree. */
export type IdGenerator = (now: number) => string;

export interface CommentServiceDependencies {
  comments: CommentRepository;
  broadcaster: BroadcastPublisher;
  clock: Clock;
  newId: IdGenerator;
  /** The wss:// URL clients connect to, reported by the status endpoint; may be ''. */
  websocketEndpoint: string;
  /** Seconds a change event is kept for replay before TTL may delete it: the stage's eventRetentionSeconds. */
  eventRetentionSeconds: number;
}

/**
 * Posts and comments, and the real-time notification of every change to comments. Storage and the
 * broadcast transport are ports, so this class is the same whether it runs in Lambda or in a test.
 */
export class CommentService {
  private readonly comments: CommentRepository;
  private readonly broadcaster: BroadcastPublisher;
  private readonly clock: Clock;
  private readonly newId: IdGenerator;
  private readonly websocketEndpoint: string;
  private readonly eventRetentionSeconds: number;

  constructor(deps: CommentServiceDependencies) {
    this.comments = deps.comments;
    this.broadcaster = deps.broadcaster;
    this.clock = deps.clock;
    this.newId = deps.newId;
    this.websocketEndpoint = deps.websocketEndpoint;
    const retention = deps.eventRetentionSeconds;
    if (!Number.isInteger(retention) || retention < 1) {
      throw new RangeError(`eventRetentionSeconds must be a positive integer, got ${retention}`);
    }
    this.eventRetentionSeconds = retention;
  }

  async createPost(actor: Actor, input: NewPost, idempotency?: IdempotencyRequest): Promise<Post> {
    const title = requireText('title', input.title, MAX_TITLE_LENGTH);
    const body = (input.body ?? '').trim();
    if (codePointLength(body) > MAX_BODY_LENGTH) {
      throw new ValidationError(`body must be at most ${MAX_BODY_LENGTH} characters`);
    }
    requireWellFormed('body', body);
    const now = this.clock();
    const post: Post = {
      id: this.newId(now.getTime()),
      title,
      body,
      userId: actor.userId,
      createdAt: now.toISOString(),
    };
    const outcome = await this.comments.createPost(post, this.idempotent(actor, idempotency, post, now));
    if (!outcome.ok) return this.replay<Post>(outcome.previous, idempotency);
    return post;
  }

  async getPost(postId: string): Promise<Post> {
    const post = await this.comments.getPost(requireId('postId', postId));
    if (!post) throw new NotFoundError('Post not found');
    return post;
  }

  async createComment(
    actor: Actor,
    postId: string,
    content: string,
    idempotency?: IdempotencyRequest,
  ): Promise<Comment> {
    requireId('postId', postId);
    const text = requireText('content', content, MAX_COMMENT_LENGTH);
    const now = this.clock();
    const comment: Comment = {
      id: this.newId(now.getTime()),
      postId,
      userId: actor.userId,
      content: text,
      createdAt: now.toISOString(),
    };
    const outcome = await storeOrRefuse(() =>
      this.comments.createComment(
        comment,
        this.stamp(now),
        this.idempotent(actor, idempotency, comment, now),
      ),
    );
    // The first request stored (and published) the comment: answer as it was answered, write nothing.
    if (!outcome.ok && outcome.reason === 'keyUsed')
      return this.replay<Comment>(outcome.previous, idempotency);
    const event = settle(outcome);
    // Exactly the stored event, so that a client replaying it later gets the same bytes. The stream
    // publishes it too if this call fails: this is only the fast path (docs/fan-out.md).
    await this.broadcaster.publish(event);
    return comment;
  }

  async listComments(postId: string, page: PageRequest = {}): Promise<CommentListing> {
    requireId('postId', postId);
    const limit = pageLimit(page.limit);
    // Both reads go out together; the outcomes are then judged in a fixed order so that a bad cursor
    // is always a 400 and a missing post a 404, whichever answer arrives first.
    const [post, listing] = await Promise.allSettled([
      this.comments.getPost(postId),
      this.comments.listComments(postId, { limit, cursor: page.cursor }),
    ]);
    if (listing.status === 'rejected' && listing.reason instanceof InvalidCursorError) {
      throw new ValidationError(listing.reason.message);
    }
    if (post.status === 'rejected') throw post.reason;
    if (!post.value) throw new NotFoundError('Post not found');
    if (listing.status === 'rejected') throw listing.reason;
    const { comments, nextCursor } = listing.value;
    return nextCursor === undefined
      ? { postId, comments, count: comments.length }
      : { postId, comments, count: comments.length, nextCursor };
  }

  async updateComment(actor: Actor, postId: string, commentId: string, content: string): Promise<Comment> {
    requireId('postId', postId);
    requireId('commentId', commentId);
    const text = requireText('content', content, MAX_COMMENT_LENGTH);
    const existing = await this.requireOwnComment(actor, postId, commentId);
    const now = this.clock();
    const updatedAt = now.toISOString();
    const event = settle(
      await storeOrRefuse(() =>
        this.comments.updateComment(
          {
            postId,
            commentId,
            userId: actor.userId,
            content: text,
            updatedAt,
            createdAt: existing.createdAt,
          },
          this.stamp(now),
        ),
      ),
    );
    await this.broadcaster.publish(event);
    // Only content and updatedAt change, and both are ours: the rest is what the ownership check read.
    return { ...existing, content: text, updatedAt };
  }

  async deleteComment(actor: Actor, postId: string, commentId: string): Promise<void> {
    requireId('postId', postId);
    requireId('commentId', commentId);
    await this.requireOwnComment(actor, postId, commentId);
    const event = settle(
      await storeOrRefuse(() =>
        this.comments.deleteComment({ postId, commentId, userId: actor.userId }, this.stamp(this.clock())),
      ),
    );
    await this.broadcaster.publish(event);
  }

  async connectionStatus(): Promise<ConnectionStatus> {
    try {
      const connectionCount = await this.broadcaster.connectionCount();
      return {
        status: 'healthy',
        connectionCount,
        timestamp: this.clock().toISOString(),
        endpoint: this.websocketEndpoint,
      };
    } catch (error) {
      // A monitoring endpoint reports the failure in its body instead of failing itself, as the
      // original did; the message is ours (see HttpBroadcastClient), so it leaks nothing internal.
      const message = error instanceof Error ? error.message : String(error);
      logger.warn('Connection count unavailable', { error: message });
      return { status: 'error', connectionCount: 0, error: message, timestamp: this.clock().toISOString() };
    }
  }

  /**
   * Only the author may change a comment. Checked here first, so a refused change costs one read and no
   * transaction; the write repeats both conditions (exists, same author), so a comment deleted in between
   * is still refused.
   */
  private async requireOwnComment(actor: Actor, postId: string, commentId: string): Promise<Comment> {
    const existing = await this.comments.getComment(postId, commentId);
    if (!existing) throw new NotFoundError('Comment not found');
    if (existing.userId !== actor.userId) throw new ForbiddenError(NOT_AUTHOR);
    return existing;
  }

  /** The idempotency record to store with a write, when the request carried a key. */
  private idempotent(
    actor: Actor,
    request: IdempotencyRequest | undefined,
    result: Post | Comment,
    now: Date,
  ): IdempotentWrite | undefined {
    if (!request) return undefined;
    return {
      userId: actor.userId,
      key: request.key,
      requestHash: request.fingerprint,
      result: JSON.stringify(result),
      expiresAt: Math.floor(now.getTime() / 1000) + IDEMPOTENCY_WINDOW_SECONDS,
    };
  }

  /** The first answer to a key, for a request that is the same as the first; 422 for another request. */
  private replay<T extends Post | Comment>(
    previous: StoredAnswer,
    request: IdempotencyRequest | undefined,
  ): T {
    if (!request || previous.requestHash !== request.fingerprint) {
      throw new UnprocessableEntityError(
        'This Idempotency-Key was already used for another request; use a new key for a new request',
      );
    }
    countMetric(MetricNames.idempotentReplays);
    return JSON.parse(previous.result) as T;
  }

  /** The new event's id, time and expiry; its seq is taken by the repository, in the write itself. */
  private stamp(now: Date): EventStamp {
    return {
      eventId: this.newId(now.getTime()),
      createdAt: now.toISOString(),
      expiresAt: Math.floor(now.getTime() / 1000) + this.eventRetentionSeconds,
    };
  }
}

const NOT_AUTHOR = 'Only the author may change this comment';

/**
 * Runs a change, turning the store's capacity refusals (throttling, or writers of one post keeping this
 * one from its seq past its deadline) into 503 with Retry-After. Nothing was written in either case.
 */
async function storeOrRefuse(write: () => Promise<ChangeOutcome>): Promise<ChangeOutcome> {
  try {
    return await write();
  } catch (error) {
    const { name, message } = error as Error;
    if (name === 'SeqContentionError' || name === 'StoreBusyError') {
      // Counted here, as toErrorResponse counts the refusals it turns into 503: a domain error skips that count.
      logger.warn('Change refused for capacity', { errorName: name, error: message });
      countMetric(MetricNames.capacityRefusals);
      throw new ServiceUnavailableError('Too many changes to this post right now; try again in a moment');
    }
    throw error;
  }
}

/** The stored event of a change, or the domain error for why it was refused. */
function settle(outcome: ChangeOutcome): SequencedChangeEvent {
  if (outcome.ok) return outcome.event;
  switch (outcome.reason) {
    case 'keyUsed':
      // Only creates carry keys, and they answer a used key before settling.
      throw new Error('An edit or deletion cannot reuse an idempotency key');
    case 'postNotFound':
      throw new NotFoundError('Post not found');
    case 'commentNotFound':
      throw new NotFoundError('Comment not found');
    case 'notAuthor':
      throw new ForbiddenError(NOT_AUTHOR);
  }
}
