import { readFileSync } from 'node:fs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import {
  RealtimeCommentsClient,
  type CommentEvent,
  type CommentsListEvent,
  type WebSocketConstructor,
} from '../../../client';
import { CommentsApiClient } from '../comments-api-client';
import { connectionRows, documentClient, eventually, loadTarget, subscriberIds, tokenFor } from '../target';
import { TestClient } from '../ws-client';

/**
 * Delivery under the local stack's fault injection: stale connections are removed while the
 * rest are delivered; throttling loses nothing; a broadcast outage and an offline client are recovered
 * from the event log; a gateway crash mid-fan-out is survived by reconnecting clients.
 */
const target = loadTarget();
const outputs = JSON.parse(readFileSync(process.env.E2E_LOCAL_OUTPUTS_FILE ?? '', 'utf8')) as {
  LocalStack: { FaultsUrl: string; GatewayCrashUrl: string };
};
let db: DynamoDBDocumentClient;
let writer: CommentsApiClient;
const clients: RealtimeCommentsClient[] = [];

async function setFaults(faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(outputs.LocalStack.FaultsUrl, { method: 'PUT', body: JSON.stringify(faults) });
  if (!response.ok) throw new Error(`setting faults answered ${response.status}`);
}

interface Reader {
  client: RealtimeCommentsClient;
  sockets: WebSocket[];
  events: CommentEvent[];
  snapshots: CommentsListEvent[];
}

/** An SDK client in Node, keeping its sockets so a test can cut them. Fast backoff: the tests wait on it. */
function reader(postId: string, user: string): Reader {
  const sockets: WebSocket[] = [];
  class Tracked extends WebSocket {
    // The protocols carry the token (Sec-WebSocket-Protocol): a subclass must pass them on.
    constructor(url: string, protocols?: string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  const client = new RealtimeCommentsClient({
    url: target.webSocketUrl,
    token: () => tokenFor(target, user),
    WebSocket: Tracked as WebSocketConstructor,
    backoff: { initialMs: 200, maxMs: 1000, factor: 2 },
  });
  clients.push(client);
  const recorded: Reader = { client, sockets, events: [], snapshots: [] };
  client.subscribe(postId, {
    onEvent: (event) => recorded.events.push(event),
    onSnapshot: (event) => recorded.snapshots.push(event),
  });
  client.connect();
  return recorded;
}

const until = (check: () => boolean, timeoutMs = 30_000): Promise<true> =>
  eventually(() => Promise.resolve(check() ? true : undefined), timeoutMs);

const createdIds = (r: Reader): string[] =>
  r.events
    .filter((e) => e.type === 'comment.created')
    .map((e) => (e.type === 'comment.created' ? e.data.comment.id : ''));
const seqs = (r: Reader): number[] => r.events.map((e) => e.seq ?? -1);

beforeAll(async () => {
  db = documentClient(target);
  writer = await CommentsApiClient.as(target, 'fault-writer');
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await fetch(outputs.LocalStack.FaultsUrl, { method: 'DELETE' });
});

afterAll(() => db.destroy());

it('removes every connection reported gone (10%) and delivers to every other subscriber', async () => {
  const post = await writer.createPost('Gone connections');
  // Plain sockets that never reconnect: a connection reported gone must stay gone.
  const sockets = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => {
      const client = await TestClient.connect(target.webSocketUrl, await tokenFor(target, `gone-${i}`));
      await client.subscribe(post.id);
      return client;
    }),
  );
  const before = await subscriberIds(db, target, post.id);
  expect(before).toHaveLength(40);
  await setFaults({ goneRate: 0.1 });

  const comment = await writer.createComment(post.id, 'who is still there?');

  const isIt = (e: { type: string; data?: unknown }) =>
    e.type === 'comment.created' && (e.data as { comment: { id: string } }).comment.id === comment.id;
  const received = () => sockets.filter((client) => client.events.some(isIt));
  // Every subscriber either received it or was reported gone and deleted: nothing in between.
  const remaining = await eventually(async () => {
    const ids = await subscriberIds(db, target, post.id);
    return ids.length === received().length ? ids : undefined;
  });
  const gone = before.filter((id) => !remaining.includes(id));
  for (const id of gone) expect(await connectionRows(db, target, id)).toEqual([]);
  expect(remaining.length).toBeGreaterThan(0);
  expect(remaining.length + gone.length).toBe(40);
  expect(received()).toHaveLength(remaining.length);
  await Promise.all(sockets.map((client) => client.close()));
});

it('delivers every event exactly once to every subscriber through bursts of 429', async () => {
  const post = await writer.createPost('Throttled');
  const readers = Array.from({ length: 30 }, (_, i) => reader(post.id, `throttled-${i}`));
  await until(() => readers.every((r) => r.snapshots.length === 1));
  await setFaults({ throttleRate: 0.4 });

  const comments = [];
  for (let i = 0; i < 5; i += 1) comments.push(await writer.createComment(post.id, `burst ${i}`));

  const expected = comments.map((c) => c.id);
  await until(() => readers.every((r) => createdIds(r).length === expected.length));
  for (const r of readers) expect(createdIds(r)).toEqual(expected);
});

it('stores comments while the broadcast API is down; subscribers recover them when it is back', async () => {
  const post = await writer.createPost('Broadcast outage');
  const r = reader(post.id, 'outage-reader');
  await until(() => r.snapshots.length === 1);
  await setFaults({ broadcastUnavailable: true });

  const missed = [];
  for (let i = 0; i < 3; i += 1) missed.push(await writer.createComment(post.id, `during outage ${i}`));
  await setFaults({ broadcastUnavailable: false });
  const after = await writer.createComment(post.id, 'after the outage');

  // The first live event after the outage shows a seq gap; the client replays what it missed.
  const expected = [...missed, after].map((c) => c.id);
  await until(() => createdIds(r).length === expected.length);
  expect(createdIds(r)).toEqual(expected);
  const firstSeq = r.snapshots[0]?.data.seq ?? 0;
  expect(seqs(r)).toEqual([firstSeq + 1, firstSeq + 2, firstSeq + 3, firstSeq + 4]);
});

it('recovers all 50 events missed during 30 s offline, in order, without duplicates', async () => {
  const post = await writer.createPost('Offline reader');
  const r = reader(post.id, 'offline-reader');
  await until(() => r.snapshots.length === 1);
  r.client.close();

  const started = Date.now();
  const written = [];
  for (let i = 0; i < 50; i += 1) written.push(await writer.createComment(post.id, `while offline ${i}`));
  // Stay offline for the full 30 s the issue names, however fast the writes were.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 30_000 - (Date.now() - started))));
  r.client.connect();

  const expected = written.map((c) => c.id);
  await until(() => createdIds(r).length >= expected.length);
  expect(createdIds(r)).toEqual(expected);
  const firstSeq = r.snapshots[0]?.data.seq ?? 0;
  expect(seqs(r)).toEqual(Array.from({ length: 50 }, (_, i) => firstSeq + 1 + i));
  expect(r.snapshots).toHaveLength(1);
}, 120_000);

it('reconnects and recovers after the gateway is killed mid-fan-out and restarted', async () => {
  const post = await writer.createPost('Gateway crash');
  const readers = Array.from({ length: 60 }, (_, i) => reader(post.id, `crash-${i}`));
  await until(() => readers.every((r) => r.snapshots.length === 1));
  // Slow deliveries so that the crash lands while the fan-out is under way.
  await setFaults({ latencyMs: 20 });

  const during = writer.createComment(post.id, 'mid fan-out');
  await new Promise((resolve) => setTimeout(resolve, 50));
  const crash = await fetch(outputs.LocalStack.GatewayCrashUrl, {
    method: 'POST',
    body: JSON.stringify({ downForMs: 1500 }),
  });
  expect(crash.status).toBe(200);
  const first = await during;
  await setFaults({ latencyMs: 0 });
  await until(() => readers.every((r) => r.client.state === 'open'), 60_000);
  const second = await writer.createComment(post.id, 'after the restart');

  const expected = [first.id, second.id];
  await until(() => readers.every((r) => createdIds(r).length === 2), 60_000);
  for (const r of readers) expect(createdIds(r)).toEqual(expected);
}, 120_000);
