/**
 * A benchmark client process (child_process.fork): holds a share of the WebSocket clients, apart from
 * the server's process, and records when each marked event arrives, on the clock every process shares.
 * Driven by the parent over IPC (see worker-protocol.ts); exits when the parent goes away.
 */
import WebSocket, { type RawData } from 'ws';
import { sleep } from '../contracts/backoff';
import { ErrorCodes } from '../contracts/protocol';
import {
  markerOf,
  sharedNow,
  type ConnectionSpec,
  type WorkerMessage,
  type WorkerRequest,
} from './worker-protocol';

/** API Gateway closes a connection idle for 10 minutes; a ping frame every few minutes keeps it open. */
const KEEPALIVE_MS = 4 * 60 * 1000;
const OPEN_ATTEMPTS = 3;
/**
 * A subscribe the server could not complete (INTERNAL_ERROR: a call of its own timed out on a machine
 * this benchmark keeps saturated) is sent again after a pause, as the client SDK does, up to this often.
 */
const SUBSCRIBE_ATTEMPTS = 5;
const SUBSCRIBE_RETRY_MS = 250;
const PROGRESS_MS = 500;

const pools = new Map<string, Set<WebSocket>>();
/** marker → receipt times, one per received event. */
const receipts = new Map<string, number[]>();

function post(message: WorkerMessage): void {
  process.send?.(message);
}

function recordMessage(data: RawData, onOther: (event: unknown) => void): void {
  const at = sharedNow();
  let event: unknown;
  try {
    event = JSON.parse(data.toString());
  } catch {
    return;
  }
  const marker = markerOf(event);
  if (marker === undefined) {
    onOther(event);
    return;
  }
  const times = receipts.get(marker);
  if (times) times.push(at);
  else receipts.set(marker, [at]);
}

/** Opens one connection and subscribes it to its posts, waiting for each post's snapshot. */
function openOne(url: string, posts: string[], timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const pending = new Set(posts);
    const timer = setTimeout(() => fail(new Error(`not set up within ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.terminate();
      reject(error);
    };
    const succeed = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(socket);
    };
    socket.on('message', (data) =>
      recordMessage(data, (event) => {
        const { type, data: body } = event as { type?: string; data?: { postId?: string; code?: string } };
        if (type === 'comments.list' && body?.postId && pending.delete(body.postId) && pending.size === 0) {
          succeed();
        }
        if (type !== 'error') return;
        const postId = body?.postId;
        const attempt = (postId ? attempts.get(postId) : undefined) ?? SUBSCRIBE_ATTEMPTS;
        if (body?.code !== ErrorCodes.internalError || !postId || attempt >= SUBSCRIBE_ATTEMPTS) {
          fail(new Error(`server error ${body?.code ?? ''}`));
          return;
        }
        attempts.set(postId, attempt + 1);
        setTimeout(() => subscribe(postId), SUBSCRIBE_RETRY_MS * attempt);
      }),
    );
    const attempts = new Map(posts.map((postId) => [postId, 1]));
    const subscribe = (postId: string): void => {
      if (!settled) socket.send(JSON.stringify({ action: 'subscribe', postId }));
    };
    socket.once('open', () => {
      if (pending.size === 0) return succeed();
      for (const postId of posts) subscribe(postId);
    });
    socket.once('unexpected-response', (_req, res) => fail(new Error(`upgrade refused: ${res.statusCode}`)));
    // Kept for the socket's life: after setup `fail` does nothing, and an unheard 'error' would crash.
    socket.on('error', (error) => fail(error));
    socket.once('close', () => fail(new Error('closed during setup')));
  });
}

async function open(request: Extract<WorkerRequest, { kind: 'open' }>): Promise<WorkerMessage> {
  const sockets = pools.get(request.pool) ?? new Set<WebSocket>();
  pools.set(request.pool, sockets);
  let next = 0;
  let opened = 0;
  let failed = 0;
  const errors: string[] = [];
  const progress = setInterval(
    () => post({ kind: 'progress', pool: request.pool, opened, failed }),
    PROGRESS_MS,
  );
  const openWithRetries = async (spec: ConnectionSpec): Promise<void> => {
    const url = request.queryIndex ? `${request.url}?i=${spec.index}` : request.url;
    for (let attempt = 1; ; attempt += 1) {
      try {
        const socket = await openOne(url, spec.posts, request.timeoutMs);
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
        opened += 1;
        return;
      } catch (error) {
        if (attempt >= OPEN_ATTEMPTS) {
          failed += 1;
          if (errors.length < 5) errors.push(`#${spec.index}: ${(error as Error).message}`);
          return;
        }
      }
    }
  };
  const runner = async (): Promise<void> => {
    while (next < request.connections.length) {
      const spec = request.connections[next];
      next += 1;
      if (spec) await openWithRetries(spec);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, request.concurrency) }, runner));
  clearInterval(progress);
  post({ kind: 'progress', pool: request.pool, opened, failed });
  return { kind: 'reply', id: request.id, opened, failed, errors };
}

async function closePool(pool: string, graceful: boolean): Promise<void> {
  const sockets = [...(pools.get(pool) ?? [])];
  pools.delete(pool);
  if (graceful) {
    // A close frame runs $disconnect, so a shared stack is left clean; bounded, then cut.
    await Promise.race([
      Promise.all(
        sockets.map(
          (socket) =>
            new Promise<void>((resolve) => {
              if (socket.readyState === WebSocket.CLOSED) return resolve();
              socket.once('close', () => resolve());
              socket.close(1000);
            }),
        ),
      ),
      sleep(10_000),
    ]);
  }
  for (const socket of sockets) socket.terminate();
}

function pick<T>(markers: string[], of: (times: number[]) => T): Record<string, T> {
  return Object.fromEntries(markers.map((marker) => [marker, of(receipts.get(marker) ?? [])]));
}

async function handle(request: WorkerRequest): Promise<WorkerMessage> {
  switch (request.kind) {
    case 'open':
      return open(request);
    case 'counts':
      return { kind: 'reply', id: request.id, counts: pick(request.markers, (times) => times.length) };
    case 'times':
      return { kind: 'reply', id: request.id, times: pick(request.markers, (times) => times) };
    case 'forget':
      for (const marker of request.markers) receipts.delete(marker);
      return { kind: 'reply', id: request.id, done: true };
    case 'closePool':
      await closePool(request.pool, request.graceful);
      return { kind: 'reply', id: request.id, done: true };
  }
}

process.on('message', (request: WorkerRequest) => {
  handle(request)
    .then(post)
    .catch((error: Error) => {
      console.error(`[bench worker] ${request.kind} failed: ${error.message}`);
      process.exit(1);
    });
});
// The parent is gone (finished or crashed): nothing will ask for these sockets again.
process.on('disconnect', () => process.exit(0));
setInterval(() => {
  for (const sockets of pools.values()) for (const socket of sockets) socket.ping();
}, KEEPALIVE_MS).unref();
post({ kind: 'ready' });
