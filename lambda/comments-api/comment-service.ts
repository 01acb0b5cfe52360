import { InvalidCursorError } from '../shared/comment-cursor';
import type { ChangeOutcome, CommentRepository, EventStamp } from '../shared/comment-repository';
import { ForbiddenError, NotFoundError, ValidationError } from '../shared/errors';
import {
  ID_PATTERN,
  isValidId,
  type Comment,
  type Post,
  type SequencedChangeEvent,
} from '../../contracts/protocol';
import { logger } from '../shared/telemetry';
import type { BroadcastPublisher } from './broadcast-client';

/** Limits carried over from the original API's request models. */
export const MAX_COMMENT_LENGTH = 2000;
export const MAX_TITLE_LENGTH = 200;
export const MAX_BODY_LENGTH = 10_000;
export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 100;

/** Who performs a write: the verified token's subject (identity.ts is the one place that reads it). */
export interface Actor {
  userId: string;
}

export interface NewPost {
  title: string;
  body?: string;
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

// Tab, line feed and carriage return are legitimate in multi-line text; every other C0/C1 control
// character is either invisible or a terminal escape, and has no business in stored user content.
const FORBIDDEN_CONTROL = /(?![\t\n\r])\p{Cc}/u;
// A lone UTF-16 surrogate ("\ud800" in JSON) is not text: it cannot be encoded as UTF-8 for storage.
const LONE_SURROGATE = /\p{Cs}/u;

function requireWellFormed(field: string, text: string): void {
  if (FORBIDDEN_CONTROL.test(text)) throw new ValidationError(`${field} must not contain control characters`);
  if (LONE_SURROGATE.test(text)) throw new ValidationError(`${field} must be valid Unicode text`);
}

// The original validated with Python's len(), which counts code points, not UTF-16 units: an emoji is 1.
function codePointLength(text: string): number {
  return [...text].length;
}

/** Trims, then enforces 1..max code points, no control characters, no lone surrogates. Returns the trimmed text. */
function requireText(field: string, value: string, max: number): string {
  const text = value.trim();
  if (text.length === 0) throw new ValidationError(`${field} must not be empty`);
  if (codePointLength(text) > max) throw new ValidationError(`${field} must be at most ${max} characters`);
  requireWellFormed(field, text);
  return text;
}

// Malformed ids are answered with 400 rather than 404: the request is wrong whatever the table holds,
// and it never reaches DynamoDB.
function requireId(field: string, value: string): string {
  if (!isValidId(value)) throw new ValidationError(`${field} must match ${ID_PATTERN.source}`);
  return value;
}

function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new ValidationError(`limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  }
  return limit;
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

  async createPost(actor: Actor, input: NewPost): Promise<Post> {
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
    await this.comments.createPost(post);
    return post;
  }

  async getPost(postId: string): Promise<Post> {
    const post = await this.comments.getPost(requireId('postId', postId));
    if (!post) throw new NotFoundError('Post not found');
    return post;
  }

  async createComment(actor: Actor, postId: string, content: string): Promise<Comment> {
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
    const event = settle(await this.comments.createComment(comment, this.stamp(now)));
    // Exactly the stored event, so that a client replaying it later gets the same bytes.
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
      await this.comments.updateComment(
        { postId, commentId, userId: actor.userId, content: text, updatedAt },
        this.stamp(now),
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
      await this.comments.deleteComment(
        { postId, commentId, userId: actor.userId },
        this.stamp(this.clock()),
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

/** The stored event of a change, or the domain error for why it was refused. */
function settle(outcome: ChangeOutcome): SequencedChangeEvent {
  if (outcome.ok) return outcome.event;
  switch (outcome.reason) {
    case 'postNotFound':
      throw new NotFoundError('Post not found');
    case 'commentNotFound':
      throw new NotFoundError('Comment not found');
    case 'notAuthor':
      throw new ForbiddenError(NOT_AUTHOR);
  }
}
