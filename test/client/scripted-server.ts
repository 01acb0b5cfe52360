import type {
  ClientMessage,
  Comment,
  CommentsListEvent,
  SequencedChangeEvent,
  ServerEvent,
} from '../../contracts/protocol';
import type { WebSocketConstructor } from '../../client';
import { FakeSocket } from './fake-websocket';

/** A seeded PRNG (mulberry32): the same seed gives the same run, so a failing seed can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Probabilities (0–1) and delays of what goes wrong. */
export interface Faults {
  /** A broadcast never reaches a subscriber. */
  dropEvent: number;
  /** A broadcast reaches a subscriber twice. */
  duplicateEvent: number;
  /** Every broadcast frame is late by up to this much, so they overtake each other. */
  maxEventDelayMs: number;
  /** A subscribe or listComments gets no answer at all. */
  loseAnswer: number;
  /** A subscribe or listComments is refused with INTERNAL_ERROR (naming the post). */
  errorAnswer: number;
  /** `subscribed` is lost, and so is each replayed event or the snapshot after it, independently. */
  losePart: number;
  /** A pong is lost (the client then replaces the connection). */
  losePong: number;
}

export const NO_FAULTS: Faults = {
  dropEvent: 0,
  duplicateEvent: 0,
  maxEventDelayMs: 0,
  loseAnswer: 0,
  errorAnswer: 0,
  losePart: 0,
  losePong: 0,
};

interface StoredPost {
  seq: number;
  readonly comments: Map<string, Comment>;
  readonly events: SequencedChangeEvent[];
  nextComment: number;
}

interface ServerSocket extends FakeSocket {
  readonly subscriptions: Set<string>;
}

/**
 * A comments server at the WebSocket level, for the SDK's convergence tests: it stores posts, comments and
 * their events, broadcasts each change, answers subscribes (snapshot pages, replays, reset snapshots when
 * events have expired), `listComments` and pings, all as docs/protocol.md says, and loses, repeats,
 * reorders and refuses frames as `faults` say. Time is jest's fake time; randomness is the seeded source.
 */
export class ScriptedServer {
  faults: Faults = NO_FAULTS;
  readonly sockets: ServerSocket[] = [];
  readonly WebSocket: WebSocketConstructor;
  private readonly posts = new Map<string, StoredPost>();
  /** Handshakes are refused until then (fake time). */
  private offlineUntil = 0;

  constructor(
    private readonly random: () => number,
    private readonly options: {
      /** Comments per snapshot or page. */
      readonly pageSize: number;
      /** Events kept per post; older ones have expired and a replay that needs them gets a reset. */
      readonly retainEvents: number;
    },
  ) {
    const register = (socket: ScriptedSocket): void => {
      this.sockets.push(socket);
      socket.onSend = (message) => this.handle(socket, message);
      const offline = Date.now() < this.offlineUntil;
      setTimeout(() => (offline ? socket.refuse(503) : socket.open()), this.delay(200));
    };
    class ScriptedSocket extends FakeSocket implements ServerSocket {
      readonly subscriptions = new Set<string>();

      constructor(url: string, protocols?: string[]) {
        super(url, protocols);
        register(this);
      }
    }
    this.WebSocket = ScriptedSocket;
  }

  addPost(postId: string): void {
    this.posts.set(postId, { seq: 0, comments: new Map(), events: [], nextComment: 0 });
  }

  /** The post's comments as stored, oldest first. */
  stored(postId: string): Comment[] {
    return [...this.post(postId).comments.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  seq(postId: string): number {
    return this.post(postId).seq;
  }

  /** A random change to the post (a comment created, edited or deleted), stored and broadcast. */
  write(postId: string): void {
    const post = this.post(postId);
    const existing = [...post.comments.values()];
    const choice = this.random();
    const at = new Date(Date.UTC(2026, 0, 1) + post.seq * 1000).toISOString();
    let event: SequencedChangeEvent;
    const meta = { eventId: `${postId}-e${post.seq + 1}`, seq: post.seq + 1 };
    const target = existing[Math.floor(this.random() * existing.length)];
    if (!target || choice < 0.6) {
      post.nextComment += 1;
      const comment: Comment = {
        id: `${postId}-c${String(post.nextComment).padStart(5, '0')}`,
        postId,
        userId: 'writer',
        content: `comment ${post.nextComment}`,
        createdAt: at,
      };
      post.comments.set(comment.id, comment);
      event = { type: 'comment.created', data: { postId, comment }, ...meta };
    } else if (choice < 0.85) {
      const comment = { ...target, content: `${target.content} (edited at ${meta.seq})`, updatedAt: at };
      post.comments.set(comment.id, comment);
      event = {
        type: 'comment.updated',
        data: { postId, commentId: comment.id, action: 'updated', comment },
        ...meta,
      };
    } else {
      post.comments.delete(target.id);
      event = { type: 'comment.updated', data: { postId, commentId: target.id, action: 'deleted' }, ...meta };
    }
    post.seq = meta.seq;
    post.events.push(event);
    if (post.events.length > this.options.retainEvents) post.events.shift();
    for (const socket of this.sockets) {
      if (!socket.subscriptions.has(postId) || this.chance(this.faults.dropEvent)) continue;
      this.push(socket, event, this.delay(this.faults.maxEventDelayMs));
      if (this.chance(this.faults.duplicateEvent))
        this.push(socket, event, this.delay(this.faults.maxEventDelayMs));
    }
  }

  /** The connection ends without either side asking. */
  dropConnection(): void {
    const open = this.sockets.filter((socket) => socket.readyState === 1);
    const socket = open[Math.floor(this.random() * open.length)];
    socket?.drop();
  }

  /** Every connection drops and handshakes are refused for a while: the client is away. */
  goOffline(forMs: number): void {
    this.offlineUntil = Date.now() + forMs;
    for (const socket of this.sockets) if (socket.readyState === 1) socket.drop();
  }

  private handle(socket: ServerSocket, message: ClientMessage): void {
    switch (message.action) {
      case 'ping': {
        if (this.chance(this.faults.losePong)) return;
        const seqs: Record<string, number> = {};
        for (const postId of socket.subscriptions) seqs[postId] = this.post(postId).seq;
        this.push(socket, { type: 'pong', data: { seqs } }, this.delay(100));
        return;
      }
      case 'unsubscribe':
        socket.subscriptions.delete(message.postId);
        this.push(socket, { type: 'unsubscribed', data: { postId: message.postId } }, this.delay(100));
        return;
      case 'subscribe':
        this.subscribe(socket, message.postId, message.lastSeq);
        return;
      case 'listComments':
        if (this.chance(this.faults.loseAnswer)) return;
        if (this.chance(this.faults.errorAnswer)) {
          this.refuse(socket, message.postId);
          return;
        }
        this.push(socket, this.page(message.postId, message.cursor), this.delay(300));
        return;
    }
  }

  /** Stores the subscription, then answers: `subscribed`, then a snapshot, a replay or a reset snapshot. */
  private subscribe(socket: ServerSocket, postId: string, lastSeq: number | undefined): void {
    if (this.chance(this.faults.errorAnswer)) {
      this.refuse(socket, postId);
      return;
    }
    socket.subscriptions.add(postId);
    if (this.chance(this.faults.loseAnswer)) return;
    const post = this.post(postId);
    const answer: ServerEvent[] = [{ type: 'subscribed', data: { postId } }];
    const oldest = post.events[0]?.seq ?? post.seq + 1;
    if (lastSeq === undefined) {
      answer.push(this.snapshot(postId, false));
    } else if (lastSeq < post.seq && lastSeq + 1 >= oldest) {
      answer.push(...post.events.filter((event) => event.seq > lastSeq));
    } else if (lastSeq !== post.seq) {
      answer.push(this.snapshot(postId, true));
    }
    // One function sends these one after the other: they arrive in order, each possibly lost.
    let at = this.delay(300);
    for (const event of answer) {
      if (!this.chance(this.faults.losePart)) this.push(socket, event, at);
      at += 1;
    }
  }

  private snapshot(postId: string, reset: boolean): CommentsListEvent {
    const { data } = this.page(postId, undefined);
    return {
      type: 'comments.list',
      data: { ...data, seq: this.post(postId).seq, ...(reset ? { reset } : {}) },
    };
  }

  /** The page after `cursor` (the last id sent), read now; now and then cut short, as at 128 KB. */
  private page(postId: string, cursor: string | undefined): Extract<ServerEvent, { type: 'comments.page' }> {
    const after = this.stored(postId).filter((comment) => cursor === undefined || comment.id > cursor);
    const truncated = after.length > 1 && this.chance(0.2);
    const size = truncated
      ? 1 + Math.floor(this.random() * (Math.min(after.length, this.options.pageSize) - 1))
      : this.options.pageSize;
    const comments = after.slice(0, size);
    const last = comments[comments.length - 1];
    const hasMore = after.length > comments.length && last !== undefined;
    return {
      type: 'comments.page',
      data: {
        postId,
        comments,
        count: comments.length,
        ...(truncated && hasMore ? { truncated: true } : {}),
        hasMore,
        ...(hasMore ? { cursor: last.id } : {}),
      },
    };
  }

  private refuse(socket: ServerSocket, postId: string): void {
    this.push(
      socket,
      { type: 'error', data: { code: 'INTERNAL_ERROR', message: 'scripted failure', postId } },
      this.delay(300),
    );
  }

  private push(socket: ServerSocket, event: ServerEvent, delayMs: number): void {
    setTimeout(() => {
      if (socket.readyState === 1) socket.receive(event);
    }, delayMs);
  }

  private post(postId: string): StoredPost {
    const post = this.posts.get(postId);
    if (!post) throw new Error(`no post ${postId}`);
    return post;
  }

  private chance(probability: number): boolean {
    return probability > 0 && this.random() < probability;
  }

  private delay(maxMs: number): number {
    return Math.floor(this.random() * maxMs);
  }
}
