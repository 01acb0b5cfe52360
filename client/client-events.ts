import type { ConnectionState } from './connection';
import { errorMessage, type RealtimeCommentsError } from './errors';
import type { ClientLogger } from './options';

export interface ClientEvents {
  state: (state: ConnectionState, previous: ConnectionState) => void;
  error: (error: RealtimeCommentsError) => void;
}

/**
 * The application's `state` and `error` listeners, shared by the connection and the subscriptions. A
 * listener that throws is logged and skipped: one faulty listener must not stop the client or the others.
 */
export class ClientEventListeners {
  private readonly listeners: { [K in keyof ClientEvents]: Set<ClientEvents[K]> } = {
    state: new Set(),
    error: new Set(),
  };

  constructor(private readonly logger: ClientLogger) {}

  /** Returns a function that stops listening. */
  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    const set = this.listeners[event] as Set<ClientEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof ClientEvents>(event: K, ...args: Parameters<ClientEvents[K]>): void {
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (...values: Parameters<ClientEvents[K]>) => void)(...args);
      } catch (error) {
        this.logger.error?.(`a "${event}" listener threw`, { error: errorMessage(error) });
      }
    }
  }

  /** Tells the subscription (`onError`, when the error is about one) and then every `error` listener. */
  report(error: RealtimeCommentsError, onError?: (error: RealtimeCommentsError) => void): void {
    this.logger.warn?.(error.message, { code: error.code, postId: error.postId, retrying: error.retrying });
    if (onError) {
      try {
        onError(error);
      } catch (thrown) {
        this.logger.error?.('an onError handler threw', {
          postId: error.postId,
          error: errorMessage(thrown),
        });
      }
    }
    this.emit('error', error);
  }
}
