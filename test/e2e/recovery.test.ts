import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SequencedChangeEvent, ServerEvent } from '../../contracts/protocol';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';
import { CommentsApiClient } from './comments-api-client';
import { documentClient, loadTarget, tokenFor, type E2eTarget } from './target';
import { TestClient } from './ws-client';

/**
 * Recovery end to end: every comment change carries an eventId and a per-post seq without gaps, and a
 * client that comes back with the last seq it saw gets exactly what it missed, or a reset snapshot when
 * that cannot be done exactly.
 */
let target: E2eTarget;
let db: DynamoDBDocumentClient;
let api: CommentsApiClient;
let wsToken: string;
const clients: TestClient[] = [];

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const { partitionKey, sortKey } = commentsTableSchema;

async function connect(): Promise<TestClient> {
  const client = await TestClient.connect(target.webSocketUrl, wsToken);
  clients.push(client);
  return client;
}

function isChangeOf(postId: string): (event: ServerEvent) => event is SequencedChangeEvent {
  return (event): event is SequencedChangeEvent =>
    (event.type === 'comment.created' || event.type === 'comment.updated') && event.data.postId === postId;
}

function changesOf(client: TestClient, postId: string): SequencedChangeEvent[] {
  return client.events.filter(isChangeOf(postId));
}

function waitForSeq(client: TestClient, postId: string, seq: number): Promise<ServerEvent> {
  return client.waitFor((event) => isChangeOf(postId)(event) && event.seq === seq);
}

type Snapshot = Extract<ServerEvent, { type: 'comments.list' }>;

/** Sends a subscribe that resumes after `lastSeq`, and waits for its acknowledgement. */
async function resubscribe(client: TestClient, postId: string, lastSeq: number): Promise<void> {
  client.send({ action: 'subscribe', postId, lastSeq });
  await client.waitFor((event) => event.type === 'subscribed' && event.data.postId === postId);
}

function waitForSnapshot(client: TestClient, postId: string): Promise<Snapshot> {
  return client.waitFor(
    (event): event is Snapshot => event.type === 'comments.list' && event.data.postId === postId,
  );
}

/** The event items stored for a post, oldest first. */
async function storedEvents(postId: string): Promise<Record<string, unknown>[]> {
  const result = await db.send(
    new QueryCommand({
      TableName: target.commentsTableName,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
      ExpressionAttributeValues: {
        ':pk': commentKeys.postPartition(postId),
        ':prefix': commentKeys.eventPrefix,
      },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

beforeAll(async () => {
  target = loadTarget();
  db = documentClient(target);
  api = await CommentsApiClient.as(target, 'e2e-user');
  wsToken = await tokenFor(target, 'e2e-listener');
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(() => db.destroy());

describe('event ids and sequence numbers', () => {
  it('numbers every change of a post 1, 2, 3, … with a distinct ULID eventId each', async () => {
    const post = await api.createPost('Sequenced');
    const listener = await connect();
    const snapshot = await listener.subscribe(post.id);

    const one = await api.createComment(post.id, 'one');
    const two = await api.createComment(post.id, 'two');
    await api.updateComment(post.id, one.id, 'one, edited');
    await api.deleteComment(post.id, two.id);
    await waitForSeq(listener, post.id, 4);

    expect(snapshot.data).toMatchObject({ comments: [], count: 0, seq: 0 });
    const changes = changesOf(listener, post.id);
    expect(changes.map((event) => event.seq)).toEqual([1, 2, 3, 4]);
    expect(
      changes.map((event) => (event.type === 'comment.updated' ? event.data.action : event.type)),
    ).toEqual(['comment.created', 'comment.created', 'updated', 'deleted']);
    const eventIds = changes.map((event) => event.eventId);
    expect(eventIds.every((id) => ULID.test(id))).toBe(true);
    expect(new Set(eventIds).size).toBe(4);

    // Stored as sent, each with an expiry: the retention window (24 h in both stages).
    const stored = await storedEvents(post.id);
    expect(stored.map((item) => [item.seq, item.eventId])).toEqual(
      changes.map((event) => [event.seq, event.eventId]),
    );
    const nowSeconds = Date.now() / 1000;
    for (const item of stored) {
      expect(item.expiresAt).toBeGreaterThan(nowSeconds + 23 * 3600);
      expect(item.expiresAt).toBeLessThan(nowSeconds + 25 * 3600);
    }
  });

  it('keeps the sequence gapless when many writers change one post at once', async () => {
    const post = await api.createPost('Contended');
    const listener = await connect();
    await listener.subscribe(post.id);
    const writers = 8;

    const created = await Promise.all(
      Array.from({ length: writers }, (_, index) => api.createComment(post.id, `writer ${index}`)),
    );
    await listener.waitFor(() => changesOf(listener, post.id).length === writers);

    const changes = changesOf(listener, post.id);
    expect(changes.map((event) => event.seq).sort((a, b) => a - b)).toEqual(
      Array.from({ length: writers }, (_, index) => index + 1),
    );
    expect(
      changes.map((event) => (event.type === 'comment.created' ? event.data.comment.id : '')).sort(),
    ).toEqual(created.map((comment) => comment.id).sort());
    const late = await connect();
    expect((await late.subscribe(post.id)).data.seq).toBe(writers);
  });
});

describe('resubscribing with lastSeq', () => {
  it('replays exactly the missed events, in order and byte for byte as broadcast, then goes on live', async () => {
    const post = await api.createPost('Resumable');
    const live = await connect();
    const leaving = await connect();
    await Promise.all([live.subscribe(post.id), leaving.subscribe(post.id)]);
    const first = await api.createComment(post.id, 'seen by both');
    await waitForSeq(leaving, post.id, 1);
    const lastSeq = 1;
    await leaving.close();

    const missed = await api.createComment(post.id, 'missed');
    await api.updateComment(post.id, first.id, 'edited while away');
    await api.deleteComment(post.id, missed.id);
    await waitForSeq(live, post.id, 4);
    const back = await connect();
    await resubscribe(back, post.id, lastSeq);
    await waitForSeq(back, post.id, 4);
    await api.createComment(post.id, 'after the return');
    await Promise.all([waitForSeq(back, post.id, 5), waitForSeq(live, post.id, 5)]);

    // Nothing but the acknowledgement, the replay of 2 to 4 and the live 5: no snapshot, no duplicate.
    expect(back.events.map((event) => event.type)).toEqual([
      'subscribed',
      'comment.created',
      'comment.updated',
      'comment.updated',
      'comment.created',
    ]);
    expect(back.events.slice(1).map((event) => JSON.stringify(event))).toEqual(
      changesOf(live, post.id)
        .filter((event) => event.seq > lastSeq)
        .map((event) => JSON.stringify(event)),
    );
  });

  it('sends nothing but the acknowledgement to a client that missed nothing', async () => {
    const post = await api.createPost('Up to date');
    await api.createComment(post.id, 'one');
    const client = await connect();

    await resubscribe(client, post.id, 1);
    // A later change shows the connection is subscribed and that nothing came before it.
    await api.createComment(post.id, 'two');
    await waitForSeq(client, post.id, 2);

    expect(client.events.map((event) => event.type)).toEqual(['subscribed', 'comment.created']);
  });

  it('sends a reset snapshot to a client whose lastSeq is ahead of the post', async () => {
    const post = await api.createPost('Another history');
    const one = await api.createComment(post.id, 'one');
    const two = await api.createComment(post.id, 'two');
    const client = await connect();

    await resubscribe(client, post.id, 99);
    const snapshot = await waitForSnapshot(client, post.id);

    expect(snapshot).toEqual({
      type: 'comments.list',
      data: { postId: post.id, comments: [one, two], count: 2, seq: 2, reset: true },
    });
  });

  it('sends a reset snapshot when a missed event has expired, and still replays what has not', async () => {
    const post = await api.createPost('Expired');
    const one = await api.createComment(post.id, 'one');
    const two = await api.createComment(post.id, 'two');
    // TTL deletes lazily, so an expired event may still be stored: past its expiresAt, it is gone.
    await db.send(
      new UpdateCommand({
        TableName: target.commentsTableName,
        Key: {
          [partitionKey.name]: commentKeys.postPartition(post.id),
          [sortKey.name]: commentKeys.eventSortKey(1),
        },
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': Math.floor(Date.now() / 1000) - 60 },
      }),
    );
    const fromStart = await connect();
    const fromOne = await connect();

    await resubscribe(fromStart, post.id, 0);
    const snapshot = await waitForSnapshot(fromStart, post.id);
    await resubscribe(fromOne, post.id, 1);
    await waitForSeq(fromOne, post.id, 2);

    expect(snapshot.data).toEqual({ postId: post.id, comments: [one, two], count: 2, seq: 2, reset: true });
    expect(fromOne.events.map((event) => event.type)).toEqual(['subscribed', 'comment.created']);
  });
});
