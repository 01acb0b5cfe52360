import type { Comment, Post } from '../../contracts/protocol';
import { tokenFor, type E2eTarget } from './target';

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

  async request(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.target.commentsApiUrl}/api/v1${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : undefined };
  }

  private async expectStatus<T>(status: number, method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body);
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
