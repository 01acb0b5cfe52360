import WebSocket from 'ws';
import {
  RealtimeCommentsClient,
  type CommentEvent,
  type CommentsListEvent,
  type ConnectionState,
  type RealtimeCommentsClientOptions,
  type WebSocketConstructor,
} from '../../../client';
import { CommentsApiClient } from '../comments-api-client';
import { eventually, loadTarget, tokenFor } from '../target';

/**
 * The client SDK in Node (with `ws`) against the local stack: events arrive with consecutive seq, and a
 * client cut off while comments are written comes back with every one it missed, in order, once.
 * Local-only: its users (sdk-reader, sdk-writer) sign in through the local stack's token route.
 */
const target = loadTarget();

/** `ws`, keeping every socket the client opens so a test can cut one the way a network would. */
function trackedWebSocket(): { WebSocket: WebSocketConstructor; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class TrackedWebSocket extends WebSocket {
    // The protocols carry the token (Sec-WebSocket-Protocol): a subclass must pass them on.
    constructor(url: string, protocols?: string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return { WebSocket: TrackedWebSocket, sockets };
}

interface Recorded {
  client: RealtimeCommentsClient;
  sockets: WebSocket[];
  events: CommentEvent[];
  snapshots: CommentsListEvent[];
  states: ConnectionState[];
}

const clients: RealtimeCommentsClient[] = [];

function subscribedClient(postId: string, options: Partial<RealtimeCommentsClientOptions> = {}): Recorded {
  const tracked = trackedWebSocket();
  const client = new RealtimeCommentsClient({
    url: target.webSocketUrl,
    token: () => tokenFor(target, 'sdk-reader'),
    WebSocket: tracked.WebSocket,
    ...options,
  });
  clients.push(client);
  const recorded: Recorded = { client, sockets: tracked.sockets, events: [], snapshots: [], states: [] };
  client.on('state', (state) => recorded.states.push(state));
  client.subscribe(postId, {
    onEvent: (event) => recorded.events.push(event),
    onSnapshot: (event) => recorded.snapshots.push(event),
  });
  client.connect();
  return recorded;
}

const until = (check: () => boolean, timeoutMs?: number): Promise<true> =>
  eventually(() => Promise.resolve(check() ? true : undefined), timeoutMs);

function consecutive(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => from + index);
}

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

it('delivers created and updated events with consecutive seq after the snapshot', async () => {
  const writer = await CommentsApiClient.as(target, 'sdk-writer');
  const post = await writer.createPost('SDK events');
  const reader = subscribedClient(post.id);
  await until(() => reader.snapshots.length === 1);
  const base = reader.snapshots[0]?.data.seq;
  expect(typeof base).toBe('number');

  const first = await writer.createComment(post.id, 'first');
  await writer.updateComment(post.id, first.id, 'first, edited');
  const second = await writer.createComment(post.id, 'second');
  await writer.deleteComment(post.id, second.id);
  await until(() => reader.events.length >= 4);

  expect(
    reader.events.map((e) => [e.type, e.type === 'comment.updated' ? e.data.action : e.data.comment.id]),
  ).toEqual([
    ['comment.created', first.id],
    ['comment.updated', 'updated'],
    ['comment.created', second.id],
    ['comment.updated', 'deleted'],
  ]);
  expect(reader.events.map((e) => e.seq)).toEqual(consecutive((base as number) + 1, 4));
  expect(new Set(reader.events.map((e) => e.eventId)).size).toBe(4);
  expect(reader.client.state).toBe('open');
});

it('comes back from an abrupt disconnect with every comment it missed, in order, once', async () => {
  const writer = await CommentsApiClient.as(target, 'sdk-writer');
  const post = await writer.createPost('SDK recovery');
  // The token function is the gate that keeps the client offline: it asks for one before each connect.
  let release: () => void = () => undefined;
  let gate: Promise<void> = Promise.resolve();
  let tokenRequests = 0;
  const reader = subscribedClient(post.id, {
    token: async () => {
      tokenRequests += 1;
      await gate;
      return tokenFor(target, 'sdk-reader');
    },
  });
  await until(() => reader.snapshots.length === 1);
  const before = await writer.createComment(post.id, 'before the outage');
  await until(() => reader.events.length === 1);
  const lastSeqBefore = reader.client.lastSeq(post.id);

  gate = new Promise((resolve) => (release = resolve));
  const [socket] = reader.sockets;
  socket?.terminate();
  await until(() => reader.client.state === 'reconnecting' && tokenRequests === 2);
  const missed = [];
  for (let i = 1; i <= 5; i += 1) missed.push(await writer.createComment(post.id, `while offline ${i}`));
  release();
  await until(() => reader.client.state === 'open' && reader.events.length >= 1 + missed.length);
  const after = await writer.createComment(post.id, 'after the outage');
  await until(() => reader.events.length >= 2 + missed.length);

  const ids = reader.events.map((e) => (e.type === 'comment.created' ? e.data.comment.id : e.data.commentId));
  expect(ids).toEqual([before.id, ...missed.map((c) => c.id), after.id]);
  expect(reader.events.map((e) => e.seq)).toEqual(consecutive(lastSeqBefore as number, 7));
  expect(new Set(reader.events.map((e) => e.eventId)).size).toBe(7);
  // Replayed, not re-listed: the only snapshot is the first one.
  expect(reader.snapshots).toHaveLength(1);
  expect(reader.sockets).toHaveLength(2);
  expect(reader.states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
});

it('replaces its connection before maxConnectionMs without losing or repeating an event', async () => {
  const writer = await CommentsApiClient.as(target, 'sdk-writer');
  const post = await writer.createPost('SDK recycle');
  const reader = subscribedClient(post.id, { maxConnectionMs: 1500 });
  await until(() => reader.snapshots.length === 1);
  const base = reader.snapshots[0]?.data.seq as number;

  const written = [];
  const deadline = Date.now() + 4000;
  while (Date.now() < deadline || reader.sockets.length < 2) {
    written.push(await writer.createComment(post.id, `comment ${written.length + 1}`));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await until(() => reader.events.length >= written.length);

  expect(reader.sockets.length).toBeGreaterThanOrEqual(2);
  expect(reader.events.map((e) => e.seq)).toEqual(consecutive(base + 1, written.length));
  expect(reader.states).toEqual(['connecting', 'open']);
});
