import { randomUUID } from 'node:crypto';
import { IDEMPOTENCY_KEY_HEADER } from '../../contracts/idempotency';
import type { Comment, Post } from '../../contracts/protocol';
import { tokenFor, type E2eTarget } from './target';

/** Answers after which the same request may succeed: it was throttled, or the service failed in between. */
const RETRYABLE = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 4;

/** The comments API as a client uses it, over real HTTP. */
export class CommentsApiClient {
  constructor(
    private readonly target: E2eTarget,
    /** Bearer token of the acting user; undefined for anonymous reads. */
    private readonly token: string | undefined,
  ) {}

  static async as(target: E2eTarget, user: string): Promise<CommentsApiClient> {
    return new CommentsApiClient(target, await tokenFor(target, user));
  }

  async request(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.target.commentsApiUrl}/api/v1${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  /**
   * A POST as one user action: one Idempotency-Key, sent again with every retry of it (a network error,
   * 429, 502, 503, 504), so that a retry whose first attempt was stored gets the first answer instead of
   * storing a second copy.
   */
  async postOnce(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const headers = { [IDEMPOTENCY_KEY_HEADER]: randomUUID() };
    for (let attempt = 1; ; attempt += 1) {
      try {
        const response = await this.request('POST', path, body, headers);
        if (!RETRYABLE.has(response.status) || attempt >= MAX_ATTEMPTS) return response;
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt));
    }
  }

  private async expectStatus<T>(status: number, method: string, path: string, body?: unknown): Promise<T> {
    const response =
      method === 'POST' ? await this.postOnce(path, body) : await this.request(method, path, body);
    if (response.status !== status) {
      throw new Error(
        `${method} ${path}: expected ${status}, got ${response.status} ${JSON.stringify(response.body)}`,
      );
    }
    return response.body as T;
  }

  createPost(title: string): Promise<Post> {
    return this.expectStatus(201, 'POST', '/posts', { title });
  }

  createComment(postId: string, content: string): Promise<Comment> {
    return this.expectStatus(201, 'POST', `/posts/${postId}/comments`, { content });
  }

  updateComment(postId: string, commentId: string, content: string): Promise<Comment> {
    return this.expectStatus(200, 'PATCH', `/posts/${postId}/comments/${commentId}`, { content });
  }

  deleteComment(postId: string, commentId: string): Promise<void> {
    return this.expectStatus(204, 'DELETE', `/posts/${postId}/comments/${commentId}`);
  }
}
