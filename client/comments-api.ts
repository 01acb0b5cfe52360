import { CommentsApiRoutes, type CommentsApiRouteKey } from '../contracts/comments-api-routes';
import { IDEMPOTENCY_KEY_HEADER, isValidIdempotencyKey } from '../contracts/idempotency';
import { isRecord } from '../contracts/json';
import { isValidId, type Comment, type Post } from '../contracts/protocol';
import { backoffDelay, resolveBackoff, type BackoffOptions } from './backoff';
import { errorMessage } from './errors';
import type { TokenSource } from './options';

export interface CommentsApiClientOptions {
  /** The comments API's URL (the `CommentsApiUrl` output); routes are under its `/api/v1`. */
  readonly url: string;
  /** The bearer token for writes, like the WebSocket client's; after a 401 a function is asked again once with `refresh: true`. */
  readonly token?: TokenSource;
  /** @default globalThis.fetch (browsers, Node 18+) */
  readonly fetch?: typeof fetch;
  /** Each attempt is abandoned after this long, and tried again. @default 10_000 */
  readonly timeoutMs?: number;
  /** Attempts per call in all, the first included. @default 4 */
  readonly maxAttempts?: number;
  /** Delays between attempts, with full jitter. @default {initialMs: 250, maxMs: 5_000, factor: 2} */
  readonly backoff?: BackoffOptions;
  /** A `Retry-After` longer than this is not waited for: the call fails with it at once. @default 30_000 */
  readonly maxRetryAfterMs?: number;
  /** The jitter source; tests inject their own. @default Math.random */
  readonly random?: () => number;
  /** Makes an idempotency key. @default globalThis.crypto.randomUUID (random hex where it is missing) */
  readonly newIdempotencyKey?: () => string;
}

export interface CallOptions {
  /** Aborts the call, its retries and its waits; the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface CreateOptions extends CallOptions {
  /**
   * The key of this user action, when the application keeps it itself (e.g. to retry the action after a
   * reload); one is made per call otherwise. 8–128 of `A-Z a-z 0-9 _ -`.
   */
  readonly idempotencyKey?: string;
}

export interface CommentPage {
  postId: string;
  comments: Comment[];
  count: number;
  /** Pass back as `cursor` for the next page; absent on the last one. */
  nextCursor?: string;
}

/** How a call failed: the server answered with an error status, the network failed, or it timed out. */
export type CommentsApiFailure = 'http' | 'network' | 'timeout';

export class CommentsApiError extends Error {
  override readonly name = 'CommentsApiError';

  constructor(
    message: string,
    readonly details: {
      readonly failure: CommentsApiFailure;
      /** The HTTP status of the last answer, when there was one. */
      readonly status?: number;
      /** The server's `{detail}`, when it gave one. */
      readonly detail?: string;
      /** Attempts made, the first included. */
      readonly attempts: number;
      /** The server's `Retry-After`, when it sent one the client did not wait for. */
      readonly retryAfterMs?: number;
      readonly cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get status(): number | undefined {
    return this.details.status;
  }

  get detail(): string | undefined {
    return this.details.detail;
  }
}

/** Answers that say "try again": throttled, or a gateway that could not reach or hear from the function. */
const RETRY_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 250, maxMs: 5_000, factor: 2 };

interface Call {
  readonly route: CommentsApiRouteKey;
  readonly params: Readonly<Record<string, string>>;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  /** Writes send the bearer token. */
  readonly write: boolean;
  /** A 404 on a retry means an earlier attempt did it (a delete whose answer was lost): success. */
  readonly goneOnRetryIsDone?: boolean;
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

/** What one request came to: the answer's body, or an error and whether another attempt may succeed. */
type Attempt =
  | { readonly ok: true; readonly value: unknown }
  | {
      readonly ok: false;
      readonly error: CommentsApiError;
      readonly retry: boolean;
      readonly retryAfterMs?: number;
    };

/**
 * The comments API over `fetch`, for browsers and Node 20+. Each write is one user action: a create sends
 * one `Idempotency-Key`, made once per call, and every retry of it sends the same key, so a retry after a
 * lost answer returns the first answer instead of creating a second comment (contracts/idempotency.ts).
 * Edits and deletes are idempotent by nature and are retried the same way without a key. Network errors,
 * timeouts, 429 and 502–504 are retried with jittered backoff (honouring `Retry-After`), a bounded number
 * of times; any other error fails at once with a CommentsApiError carrying the status and `detail`.
 */
export class CommentsApiClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: Required<BackoffOptions>;
  private readonly maxRetryAfterMs: number;
  private readonly random: () => number;
  private readonly newIdempotencyKey: () => string;

  constructor(private readonly options: CommentsApiClientOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new TypeError(`url must be an http: or https: URL, got ${url.protocol}`);
    }
    this.baseUrl = options.url.replace(/\/+$/, '');
    const platformFetch = globalThis.fetch;
    // Called unbound, a browser's fetch throws "Illegal invocation".
    this.fetch = options.fetch ?? ((input, init) => platformFetch(input, init));
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? 10_000);
    this.maxAttempts = positive('maxAttempts', Math.floor(options.maxAttempts ?? 4));
    this.backoff = resolveBackoff({ ...DEFAULT_BACKOFF, ...options.backoff });
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.newIdempotencyKey = options.newIdempotencyKey ?? randomKey;
  }

  createPost(post: { title: string; body?: string }, options: CreateOptions = {}): Promise<Post> {
    return this.call<Post>({
      route: CommentsApiRoutes.createPost,
      params: {},
      body: post,
      write: true,
      idempotencyKey: this.keyFor(options),
      ...signalOf(options),
    });
  }

  getPost(postId: string, options: CallOptions = {}): Promise<Post> {
    return this.call<Post>({
      route: CommentsApiRoutes.getPost,
      params: { id: postId },
      write: false,
      ...signalOf(options),
    });
  }

  createComment(postId: string, content: string, options: CreateOptions = {}): Promise<Comment> {
    return this.call<Comment>({
      route: CommentsApiRoutes.createComment,
      params: { id: postId },
      body: { content },
      write: true,
      idempotencyKey: this.keyFor(options),
      ...signalOf(options),
    });
  }

  editComment(
    postId: string,
    commentId: string,
    content: string,
    options: CallOptions = {},
  ): Promise<Comment> {
    return this.call<Comment>({
      route: CommentsApiRoutes.updateComment,
      params: { id: postId, commentId },
      body: { content },
      write: true,
      ...signalOf(options),
    });
  }

  /** Resolves once the comment is gone, also when a retry finds that a lost attempt already deleted it. */
  async deleteComment(postId: string, commentId: string, options: CallOptions = {}): Promise<void> {
    await this.call<unknown>({
      route: CommentsApiRoutes.deleteComment,
      params: { id: postId, commentId },
      write: true,
      goneOnRetryIsDone: true,
      ...signalOf(options),
    });
  }

  /** One page of a post's comments, oldest first. */
  listComments(
    postId: string,
    page: { limit?: number; cursor?: string } = {},
    options: CallOptions = {},
  ): Promise<CommentPage> {
    return this.call<CommentPage>({
      route: CommentsApiRoutes.listComments,
      params: { id: postId },
      query: { limit: page.limit, cursor: page.cursor },
      write: false,
      ...signalOf(options),
    });
  }

  /** One key per call, that is per user action: every retry of the call sends it again. */
  private keyFor(options: CreateOptions): string {
    return options.idempotencyKey ?? this.newIdempotencyKey();
  }

  private async call<T>(call: Call): Promise<T> {
    if (call.idempotencyKey !== undefined && !isValidIdempotencyKey(call.idempotencyKey)) {
      throw new TypeError('idempotencyKey must be 8-128 of A-Z a-z 0-9 _ -');
    }
    const { method, url } = this.target(call);
    let refreshToken = false;
    let refreshed = false;
    for (let attempt = 1; ; attempt += 1) {
      const outcome = await this.attempt(call, method, url, attempt, refreshToken);
      refreshToken = false;
      if (outcome.ok) return outcome.value as T;
      const { error, retry, retryAfterMs } = outcome;
      if (call.goneOnRetryIsDone && attempt > 1 && error.status === 404) return undefined as T;
      // A token that expired while cached: ask for a fresh one and try again at once, once.
      if (error.status === 401 && typeof this.options.token === 'function' && !refreshed) {
        refreshed = true;
        refreshToken = true;
        continue;
      }
      if (!retry || attempt >= this.maxAttempts) throw error;
      if (retryAfterMs !== undefined && retryAfterMs > this.maxRetryAfterMs) {
        throw new CommentsApiError(error.message, { ...error.details, retryAfterMs });
      }
      const jittered = backoffDelay(attempt - 1, this.backoff, this.random);
      await wait(Math.max(jittered, retryAfterMs ?? 0), call.signal);
    }
  }

  /** One request; never throws but for the caller's abort. */
  private async attempt(
    call: Call,
    method: string,
    url: string,
    attempt: number,
    refreshToken: boolean,
  ): Promise<Attempt> {
    call.signal?.throwIfAborted();
    const headers: Record<string, string> = {};
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    if (call.idempotencyKey !== undefined) headers[IDEMPOTENCY_KEY_HEADER] = call.idempotencyKey;
    const failed = (failure: CommentsApiFailure, message: string, cause?: unknown): CommentsApiError =>
      new CommentsApiError(`${method} ${url}: ${message}`, { failure, attempts: attempt, cause });
    try {
      const token = call.write ? await this.token(refreshToken) : undefined;
      if (token) headers.authorization = `Bearer ${token}`;
    } catch (error) {
      const tokenError = failed('network', `the token function failed: ${errorMessage(error)}`, error);
      return { ok: false, error: tokenError, retry: false };
    }
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.timeoutMs);
    const abort = (): void => timeout.abort();
    call.signal?.addEventListener('abort', abort);
    try {
      const response = await this.fetch(url, {
        method,
        headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        signal: timeout.signal,
      });
      const text = await response.text();
      if (response.ok) return { ok: true, value: text ? (JSON.parse(text) as unknown) : undefined };
      const detail = detailOf(text);
      const error = new CommentsApiError(
        `${method} ${url}: ${response.status}${detail ? ` ${detail}` : ''}`,
        {
          failure: 'http',
          status: response.status,
          attempts: attempt,
          ...(detail === undefined ? {} : { detail }),
        },
      );
      if (!RETRY_STATUSES.has(response.status)) return { ok: false, error, retry: false };
      const retryAfterMs = retryAfter(response.headers.get('retry-after'));
      return { ok: false, error, retry: true, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    } catch (error) {
      call.signal?.throwIfAborted();
      if (error instanceof SyntaxError) {
        return { ok: false, error: failed('http', 'the answer is not JSON', error), retry: false };
      }
      const lost = timeout.signal.aborted
        ? failed('timeout', `no answer within ${this.timeoutMs} ms`, error)
        : failed('network', errorMessage(error), error);
      return { ok: false, error: lost, retry: true };
    } finally {
      clearTimeout(timer);
      call.signal?.removeEventListener('abort', abort);
    }
  }

  private async token(refresh: boolean): Promise<string | undefined> {
    const source = this.options.token;
    if (source === undefined || typeof source === 'string') return source;
    const token: unknown = await source({ refresh });
    if (typeof token !== 'string') throw new TypeError('the token function must resolve to a string');
    return token;
  }

  private target(call: Call): { method: string; url: string } {
    const [method, template] = call.route.split(' ') as [string, string];
    const path = template.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = call.params[name];
      if (!isValidId(value)) throw new TypeError(`${name} must match ^[A-Za-z0-9_-]{1,64}$, got ${value}`);
      return value;
    });
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(call.query ?? {})) {
      if (value !== undefined) query.set(name, String(value));
    }
    const search = query.toString() ? `?${query.toString()}` : '';
    return { method, url: `${this.baseUrl}${path}${search}` };
  }
}

function signalOf(options: CallOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}

/** The server's `{detail}`, or the answer's text when it is not that shape. */
function detailOf(text: string): string | undefined {
  if (!text) return undefined;
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && typeof body.detail === 'string') return body.detail;
  } catch {
    // Not JSON (a gateway's HTML page): the text itself, shortened, says more than nothing.
  }
  return text.slice(0, 200);
}

/** `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3), in milliseconds. */
function retryAfter(header: string | null): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** A random key: a UUID where `randomUUID` exists (secure contexts: https, localhost), 32 hex digits elsewhere. */
function randomKey(): string {
  const { crypto } = globalThis;
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) =>
    byte.toString(16).padStart(2, '0'),
  ).join('');
}

/** Waits between attempts; an abort of the call ends the wait at once. */
function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be > 0, got ${value}`);
  return value;
}
