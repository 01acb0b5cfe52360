import { ClientEventListeners, type ClientEvents } from './client-events';
import { Connection, type ConnectionState } from './connection';
import { resolveClientOptions, type RealtimeCommentsClientOptions } from './options';
import type { Comment } from '../contracts/protocol';
import {
  Subscriptions,
  type PostState,
  type SubscribeOptions,
  type SubscriptionHandlers,
} from './subscriptions';

export type { ClientEvents } from './client-events';
export type { ConnectionState } from './connection';
export type {
  ClientLogger,
  RealtimeCommentsClientOptions,
  TokenRequest,
  TokenSource,
  TokenTransport,
} from './options';
export type { PostState, SubscribeOptions, SubscriptionHandlers } from './subscriptions';

/**
 * A client for the realtime comments WebSocket API: one connection, kept open (pings, reconnects with
 * backoff, replaced ahead of API Gateway's 2-hour limit), any number of post subscriptions, each with its
 * complete list of comments and every change after it, in order, once, including those missed while
 * disconnected or lost on the way. See client/README.md.
 */
export class RealtimeCommentsClient {
  private readonly listeners: ClientEventListeners;
  private readonly connection: Connection;
  private readonly subscriptions: Subscriptions;

  constructor(options: RealtimeCommentsClientOptions) {
    const settings = resolveClientOptions(options);
    this.listeners = new ClientEventListeners(settings.logger);
    // The two parts talk to each other: the connection tells the subscriptions about its links, and
    // the subscriptions send on the connection's current link.
    this.connection = new Connection(settings, this.listeners, {
      opened: (link) => this.subscriptions.opened(link),
      received: (link, event) => this.subscriptions.received(link, event),
      released: (link) => this.subscriptions.released(link),
    });
    this.subscriptions = new Subscriptions(settings, this.listeners, this.connection);
  }

  get state(): ConnectionState {
    return this.connection.state;
  }

  /** Listens for state changes or errors; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    return this.listeners.on(event, listener);
  }

  /** Opens the connection and keeps it open until close(). Does nothing unless idle or closed. */
  connect(): void {
    this.connection.connect();
  }

  /**
   * Connects again now: while open, a new connection is opened and subscribed before the old one is
   * closed (e.g. after the user signed in as someone else); while waiting to reconnect, the wait is cut
   * short (e.g. on the browser's `online` event). Connects when idle or closed.
   */
  reconnect(): void {
    this.connection.reconnect();
  }

  /** Closes the connection and stops reconnecting. Subscriptions are kept: connect() resumes them. */
  close(): void {
    this.subscriptions.clearTimers();
    this.connection.close();
  }

  /**
   * Follows a post: `handlers.onSnapshot` first gets all its comments, then `onEvent` every change, in
   * order and once each, across reconnects; `onView` gets the resulting list after each change, and
   * `onState` whether it is `live`. Returns the function that ends the subscription.
   */
  subscribe(postId: string, handlers: SubscriptionHandlers, options: SubscribeOptions = {}): () => void {
    return this.subscriptions.add(postId, handlers, options);
  }

  /** The seq of the last event delivered for a post (save it to resume after a reload); undefined if none. */
  lastSeq(postId: string): number | undefined {
    return this.subscriptions.lastSeq(postId);
  }

  /**
   * A followed post's comments, oldest first: the last complete list with every change delivered since
   * applied. Empty until the first complete list (and for posts not followed). Frozen; a new array after
   * each change.
   */
  comments(postId: string): readonly Comment[] {
    return this.subscriptions.comments(postId);
  }

  /** `live` once the post's view is complete and nothing is missing; `syncing` otherwise; undefined if not followed. */
  postState(postId: string): PostState | undefined {
    return this.subscriptions.state(postId);
  }
}
