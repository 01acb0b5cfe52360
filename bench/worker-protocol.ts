/**
 * Messages between the benchmark (parent) and its client workers (bench/client-worker.ts), over the
 * child_process IPC channel. Every request carries an id; the worker answers each with a `reply`.
 */

/** One client connection to open: its place in the pool and the posts it subscribes to. */
export interface ConnectionSpec {
  index: number;
  posts: string[];
}

export type WorkerRequest =
  | {
      kind: 'open';
      id: number;
      pool: string;
      url: string;
      /** Append `?i=<index>` so the server can tell the connections apart (the plain ws baseline). */
      queryIndex: boolean;
      connections: ConnectionSpec[];
      concurrency: number;
      timeoutMs: number;
    }
  | { kind: 'counts'; id: number; markers: string[] }
  | { kind: 'times'; id: number; markers: string[] }
  | { kind: 'forget'; id: number; markers: string[] }
  | { kind: 'closePool'; id: number; pool: string; graceful: boolean };

export type WorkerReply =
  | { kind: 'reply'; id: number; opened: number; failed: number; errors: string[] }
  | { kind: 'reply'; id: number; counts: Record<string, number> }
  | { kind: 'reply'; id: number; times: Record<string, number[]> }
  | { kind: 'reply'; id: number; done: true };

export type WorkerMessage =
  WorkerReply | { kind: 'progress'; pool: string; opened: number; failed: number } | { kind: 'ready' };

/** The clock every process shares: wall-clock epoch milliseconds with sub-millisecond resolution. */
export const sharedNow = (): number => performance.timeOrigin + performance.now();

/**
 * The marker a received event is counted under: the content of a created comment (the benchmark writes
 * a unique marker as the content), or `data.marker` of an envelope the benchmark broadcast itself.
 */
export function markerOf(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null) return undefined;
  const { type, data } = event as { type?: unknown; data?: Record<string, unknown> };
  if (typeof data !== 'object' || data === null) return undefined;
  if (type === 'comment.created') {
    const content = (data.comment as { content?: unknown } | undefined)?.content;
    return typeof content === 'string' ? content : undefined;
  }
  return typeof data.marker === 'string' ? data.marker : undefined;
}
