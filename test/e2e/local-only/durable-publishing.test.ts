import { readFileSync } from 'node:fs';
import type { SequencedChangeEvent } from '../../../contracts/protocol';
import { CommentsApiClient } from '../comments-api-client';
import { eventually, loadTarget } from '../target';
import { TestClient } from '../ws-client';

/**
 * Every stored change reaches the live subscribers, whichever publishing path fails: the fast path (the
 * comments function's call to the broadcast API) or the fan-out itself. The table's stream publishes what
 * the fast path did not, in seq order, and each event is fanned out once when nothing fails.
 */
const target = loadTarget();
const outputs = JSON.parse(readFileSync(process.env.E2E_LOCAL_OUTPUTS_FILE ?? '', 'utf8')) as {
  LocalStack: { FaultsUrl: string };
};
let writer: CommentsApiClient;
const sockets: TestClient[] = [];

async function setFaults(faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(outputs.LocalStack.FaultsUrl, { method: 'PUT', body: JSON.stringify(faults) });
  if (!response.ok) throw new Error(`setting faults answered ${response.status}: ${await response.text()}`);
}

async function subscribers(postId: string, count: number): Promise<TestClient[]> {
  const clients = await Promise.all(
    Array.from({ length: count }, () => TestClient.connect(target.webSocketUrl, readerToken)),
  );
  sockets.push(...clients);
  await Promise.all(clients.map((client) => client.subscribe(postId)));
  return clients;
}

/** The change events a client received for a post, in arrival order. */
function changes(client: TestClient, postId: string): SequencedChangeEvent[] {
  return client.events.filter(
    (event): event is SequencedChangeEvent =>
      (event.type === 'comment.created' || event.type === 'comment.updated') &&
      event.data.postId === postId &&
      typeof (event as SequencedChangeEvent).seq === 'number',
  );
}

const seqsOf = (client: TestClient, postId: string): number[] => changes(client, postId).map((e) => e.seq);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, index) => from + index);

/** Waits until every client has received exactly the seqs 1..n, whatever the order they arrived in. */
function everyoneHas(clients: TestClient[], postId: string, n: number, timeoutMs: number): Promise<true> {
  return eventually(
    () =>
      Promise.resolve(
        clients.every((client) => new Set(seqsOf(client, postId)).size >= n) ? true : undefined,
      ),
    timeoutMs,
  );
}

let readerToken: string;

beforeAll(async () => {
  writer = await CommentsApiClient.as(target, 'publishing-writer');
  const tokenResponse = await fetch(target.tokenUrl ?? '', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: 'publishing-reader' }),
  });
  readerToken = ((await tokenResponse.json()) as { token: string }).token;
});

afterEach(async () => {
  await fetch(outputs.LocalStack.FaultsUrl, { method: 'DELETE' });
  await Promise.all(sockets.splice(0).map((socket) => socket.close()));
});

it('delivers each event to each subscriber exactly once when nothing fails', async () => {
  // Prepare
  const post = await writer.createPost('exactly once');
  const clients = await subscribers(post.id, 5);

  // Act
  for (let i = 1; i <= 10; i += 1) await writer.createComment(post.id, `comment ${i}`);
  await everyoneHas(clients, post.id, 10, 20_000);
  // Give a second copy (a second publishing path) time to show up, if there were one.
  await new Promise((resolve) => setTimeout(resolve, 1500));

  // Assess
  for (const client of clients) expect(seqsOf(client, post.id)).toEqual(range(1, 10));
});

it('publishes from the stream while the broadcast API is down: every subscriber gets all 30, in order, without reconnecting', async () => {
  // Prepare
  const post = await writer.createPost('broadcast outage');
  const clients = await subscribers(post.id, 4);
  await setFaults({ broadcastUnavailable: true });
  const outageStarted = Date.now();

  // Act: the comments API's calls to the broadcast API all answer 503 for 20 s.
  for (let i = 1; i <= 30; i += 1) await writer.createComment(post.id, `during the outage ${i}`);
  await everyoneHas(clients, post.id, 30, 10_000 + 20_000);
  const deliveredAt = Date.now();
  const remaining = 20_000 - (Date.now() - outageStarted);
  if (remaining > 0) await new Promise((resolve) => setTimeout(resolve, remaining));

  // Assess: delivered during the outage (the stream needs no broadcast API), once and in seq order,
  // on the connections the clients opened before it.
  expect(deliveredAt - outageStarted).toBeLessThan(20_000 + 10_000);
  for (const client of clients) {
    expect(seqsOf(client, post.id)).toEqual(range(1, 30));
    expect(client.socket.readyState).toBe(client.socket.OPEN);
  }
});

it('delivers a comment whose comments function crashed right after its commit', async () => {
  // Prepare
  const post = await writer.createPost('crash after commit');
  const clients = await subscribers(post.id, 3);
  await setFaults({ crashAfterCommit: true });

  // Act: the function dies calling the broadcast API; the client sees a 5xx.
  const response = await writer.request('POST', `/posts/${post.id}/comments`, { content: 'survives' });
  await setFaults({ crashAfterCommit: false });

  // Assess: the comment was stored, and the stream delivered it anyway.
  expect(response.status).toBeGreaterThanOrEqual(500);
  const listing = await writer.request('GET', `/posts/${post.id}/comments`);
  expect((listing.body as { comments: { content: string }[] }).comments.map((c) => c.content)).toEqual([
    'survives',
  ]);
  await everyoneHas(clients, post.id, 1, 15_000);
  for (const client of clients) expect(seqsOf(client, post.id)).toEqual([1]);
});

it('delivers the last event of a burst through the retry path when the Management API fails for it', async () => {
  // Prepare
  const post = await writer.createPost('management api failure');
  const clients = await subscribers(post.id, 3);
  for (let i = 1; i <= 5; i += 1) await writer.createComment(post.id, `burst ${i}`);
  await everyoneHas(clients, post.id, 5, 15_000);

  // Act: every push fails (500) while the last comment is published, then the API recovers.
  await setFaults({ errorRate: 1 });
  await writer.createComment(post.id, 'the last one');
  await new Promise((resolve) => setTimeout(resolve, 3000));
  await setFaults({ errorRate: 0 });

  // Assess: no new comment needed; the handed-on batch retries until it gets through.
  await everyoneHas(clients, post.id, 6, 30_000);
  for (const client of clients) expect(seqsOf(client, post.id)).toEqual(range(1, 6));
});

it('takes fifty simultaneous comments on one post: all 201, seq 1..50 gapless, each delivered once', async () => {
  // Prepare
  const post = await writer.createPost('fifty at once');
  const clients = await subscribers(post.id, 3);

  // Act
  const responses = await Promise.all(
    range(1, 50).map((i) =>
      writer.request('POST', `/posts/${post.id}/comments`, { content: `at once ${i}` }),
    ),
  );

  // Assess
  expect(responses.map((r) => r.status)).toEqual(range(1, 50).map(() => 201));
  await everyoneHas(clients, post.id, 50, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const client of clients) {
    const received = seqsOf(client, post.id);
    expect([...received].sort((a, b) => a - b)).toEqual(range(1, 50));
    expect(received).toHaveLength(50);
  }
});
