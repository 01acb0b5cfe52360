import type {
  ClientMessage,
  Comment,
  CommentCreatedEvent,
  CommentUpdatedEvent,
  CommentsListEvent,
  CommentsPageEvent,
  ErrorCode,
  ServerEvent,
} from '../../contracts/protocol';
import type { WebSocketConstructor, WebSocketErrorEvent } from '../../client';

type Listener = (event: never) => void;

/**
 * A WebSocket without a network, driven by the test: it records what the client sends, and the test
 * opens it, pushes server events into it, refuses its handshake or drops it.
 */
export class FakeSocket {
  readyState = 0;
  binaryType = 'blob';
  readonly sent: ClientMessage[] = [];
  readonly closeCalls: { code?: number; reason?: string }[] = [];
  /** Answer every ping with a pong (on a later microtask, as a network would). */
  autoPong = false;
  /** Called with every message the client sends, after it is recorded: a scripted server answers here. */
  onSend: ((message: ClientMessage) => void) | undefined;
  private readonly listeners = new Map<string, Listener[]>();

  constructor(
    readonly url: string,
    /** The subprotocols offered: what a real socket would send as Sec-WebSocket-Protocol. */
    readonly protocols?: string[],
  ) {}

  addEventListener(type: string, listener: Listener): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    const message = JSON.parse(data) as ClientMessage;
    this.sent.push(message);
    this.onSend?.(message);
    if (this.autoPong && message.action === 'ping') {
      void Promise.resolve().then(() => this.receive({ type: 'pong' }));
    }
  }

  close(code?: number, reason?: string): void {
    this.closeCalls.push({ code, reason });
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.emit('close', { code: code ?? 1005, reason: reason ?? '' });
  }

  // ---- driven by the test ----

  open(): void {
    this.readyState = 1;
    this.emit('open', {});
  }

  receive(event: ServerEvent | Record<string, unknown>): void {
    this.emit('message', { data: JSON.stringify(event) });
  }

  receiveRaw(data: unknown): void {
    this.emit('message', { data });
  }

  /** The connection ends without the client asking (network loss, server close). */
  drop(code = 1006): void {
    this.readyState = 3;
    this.emit('close', { code, reason: '' });
  }

  /** The handshake fails; `ws` reports the HTTP status in the error message, browsers do not. */
  refuse(status?: number): void {
    const error: WebSocketErrorEvent = status ? { message: `Unexpected server response: ${status}` } : {};
    this.emit('error', error);
    this.readyState = 3;
    this.emit('close', { code: 1006, reason: '' });
  }

  get isClosed(): boolean {
    return this.readyState === 3;
  }

  /** The `listComments` requests sent, in order. */
  pageRequests(): Extract<ClientMessage, { action: 'listComments' }>[] {
    return this.sent.filter(
      (m): m is Extract<ClientMessage, { action: 'listComments' }> => m.action === 'listComments',
    );
  }

  subscribes(): Extract<ClientMessage, { action: 'subscribe' }>[] {
    return this.sent.filter(
      (m): m is Extract<ClientMessage, { action: 'subscribe' }> => m.action === 'subscribe',
    );
  }

  private emit(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) (listener as (event: unknown) => void)(event);
  }
}

/** A WebSocket class of its own for each test, and the sockets the client made with it. */
export function fakeWebSocket(): {
  WebSocket: WebSocketConstructor;
  sockets: FakeSocket[];
  latest(): FakeSocket;
} {
  const sockets: FakeSocket[] = [];
  class TestWebSocket extends FakeSocket {
    constructor(url: string, protocols?: string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return {
    WebSocket: TestWebSocket,
    sockets,
    latest: () => {
      const socket = sockets[sockets.length - 1];
      if (!socket) throw new Error('no socket was created');
      return socket;
    },
  };
}

export const POST = 'post-1';

export function comment(id: string, postId = POST): Comment {
  return { id, postId, userId: 'alice', content: `comment ${id}`, createdAt: '2026-01-01T00:00:00.000Z' };
}

export function created(
  seq: number | undefined,
  postId = POST,
  eventId = `evt-${postId}-${seq}`,
): CommentCreatedEvent {
  return {
    type: 'comment.created',
    data: { postId, comment: comment(`c${seq ?? eventId}`, postId) },
    ...(seq === undefined ? {} : { seq, eventId }),
  };
}

export function updated(seq: number, commentId: string, postId = POST): CommentUpdatedEvent {
  return {
    type: 'comment.updated',
    data: { postId, commentId, action: 'deleted' },
    seq,
    eventId: `evt-${postId}-${seq}`,
  };
}

/** An edit that carries the comment as stored after it, as current servers send. */
export function edited(seq: number, edit: Comment, postId = POST): CommentUpdatedEvent {
  return {
    type: 'comment.updated',
    data: { postId, commentId: edit.id, action: 'updated', comment: edit },
    seq,
    eventId: `evt-${postId}-${seq}`,
  };
}

export function snapshot(
  seq: number | undefined,
  {
    postId = POST,
    comments = [] as Comment[],
    reset = false,
    cursor = undefined as string | undefined,
    truncated = false,
  } = {},
): CommentsListEvent {
  return {
    type: 'comments.list',
    data: {
      postId,
      comments,
      count: comments.length,
      ...(seq === undefined ? {} : { seq }),
      ...(reset ? { reset } : {}),
      ...(truncated ? { truncated } : {}),
      ...(cursor === undefined ? {} : { hasMore: true, cursor }),
    },
  };
}

/** A `comments.page`; more follow when `cursor` is given. */
export function page(
  comments: Comment[],
  { postId = POST, cursor = undefined as string | undefined, truncated = false } = {},
): CommentsPageEvent {
  return {
    type: 'comments.page',
    data: {
      postId,
      comments,
      count: comments.length,
      ...(truncated ? { truncated } : {}),
      hasMore: cursor !== undefined,
      ...(cursor === undefined ? {} : { cursor }),
    },
  };
}

export const pong = (seqs?: Record<string, number>): ServerEvent =>
  seqs === undefined ? { type: 'pong' } : { type: 'pong', data: { seqs } };

export const serverError = (code: ErrorCode, postId?: string): ServerEvent => ({
  type: 'error',
  data: { code, message: `refused: ${code}`, ...(postId === undefined ? {} : { postId }) },
});

export const subscribed = (postId = POST): ServerEvent => ({ type: 'subscribed', data: { postId } });
