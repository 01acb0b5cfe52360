import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Comment, Post } from '../../../contracts/protocol';
import { commentsTableSchema, connectionsTableSchema } from '../../../contracts/table-schema';
import { createDocumentClient } from '../../../lambda/shared/aws-clients';
import type { EventStamp } from '../../../lambda/shared/comment-repository';
import { DynamoConnectionRepository } from '../../../lambda/shared/connection-repository';
import { DynamoCommentRepository } from '../../../lambda/shared/dynamo-comment-repository';
import type { IdempotentWrite } from '../../../lambda/shared/idempotency-record';
import { ensureTable, startDynamoDbLocal, type DynamoDbLocal } from '../../../local/emulators/dynamodb-local';

/**
 * The storage layer against Amazon's DynamoDB Local: what the mocked tests can only assume. That a lost race
 * for a seq brings the counter back with the cancellation, that a used idempotency key brings its record
 * back, that the subscription limit holds, and that a removed connection leaves no row behind.
 */
const PORT = 18590;
const COMMENTS = 'storage-comments';
const CONNECTIONS = 'storage-connections';
const TTL_SECONDS = 8100;

let db: DynamoDbLocal;
let client: DynamoDBDocumentClient;

beforeAll(async () => {
  db = await startDynamoDbLocal({ port: PORT });
  await ensureTable(db.client, commentsTableSchema, COMMENTS);
  await ensureTable(db.client, connectionsTableSchema, CONNECTIONS);
  client = createDocumentClient({ DYNAMODB_ENDPOINT: db.endpoint });
});

afterAll(async () => {
  client?.destroy();
  await db?.stop();
});

let nextId = 0;
/** A fresh id for each post, comment or connection, so that tests share the tables without sharing rows. */
const freshId = (prefix: string): string => `${prefix}${String((nextId += 1)).padStart(6, '0')}`;
const newPost = (): Post => ({
  id: freshId('P'),
  title: 'T',
  body: 'B',
  userId: 'alice',
  createdAt: '2027-01-01T00:00:00.000Z',
});
const newComment = (postId: string, userId = 'bob'): Comment => ({
  id: freshId('C'),
  postId,
  userId,
  content: 'Hello',
  createdAt: '2027-01-01T00:00:00.000Z',
});
const stamp = (): EventStamp => ({
  eventId: freshId('E'),
  createdAt: '2027-01-01T00:00:00.000Z',
  expiresAt: Math.floor(Date.now() / 1000) + 3600,
});
const keyFor = (result: string, expiresAt = Math.floor(Date.now() / 1000) + 86_400): IdempotentWrite => ({
  userId: 'bob',
  key: freshId('key-'),
  requestHash: `hash of ${result}`,
  result,
  expiresAt,
});

/** The names of the commands a document client sends, as its middleware sees them. */
function recordCommands(documentClient: DynamoDBDocumentClient, before?: () => Promise<void>): string[] {
  const sent: string[] = [];
  let hook = before;
  documentClient.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(String(context.commandName));
      if (hook && context.commandName === 'TransactWriteItemsCommand') {
        const run = hook;
        hook = undefined;
        await run();
      }
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  return sent;
}

async function rowsOfTable(tableName: string, mentioning: string): Promise<Record<string, unknown>[]> {
  const { Items = [] } = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true }));
  return Items.filter((item) => String(item.pk).includes(mentioning) || String(item.sk).includes(mentioning));
}

describe('DynamoCommentRepository on DynamoDB Local', () => {
  let comments: DynamoCommentRepository;

  beforeAll(() => {
    comments = new DynamoCommentRepository(client, COMMENTS);
  });

  it('stores a post with its counter at 0, then numbers its changes 1, 2, 3', async () => {
    // Prepare
    const post = newPost();
    const comment = newComment(post.id);

    // Act
    const created = await comments.createPost(post);
    const before = await comments.getLastSeq(post.id);
    const first = await comments.createComment(comment, stamp());
    const second = await comments.updateComment(
      { ...comment, commentId: comment.id, content: 'Edited', updatedAt: '2027-01-02T00:00:00.000Z' },
      stamp(),
    );
    const third = await comments.deleteComment(
      { postId: post.id, commentId: comment.id, userId: 'bob' },
      stamp(),
    );

    // Assess
    expect(created).toEqual({ ok: true });
    expect(before).toBe(0);
    expect([first, second, third].map((outcome) => outcome.ok && outcome.event.seq)).toEqual([1, 2, 3]);
    expect(await comments.getLastSeq(post.id)).toBe(3);
    expect(await comments.getEvent(post.id, 2)).toEqual(second.ok && second.event);
    expect(second.ok && second.event.type === 'comment.updated' && second.event.data.comment?.content).toBe(
      'Edited',
    );
    const events = await comments.listEvents(post.id, { afterSeq: 0, throughSeq: 3, now: 0 });
    expect(events.map((event) => event.seq)).toEqual([1, 2, 3]);
  });

  it('learns the winner’s lastSeq from the cancellation itself when another writer takes the seq first', async () => {
    // Prepare: the rival commits between this writer's read of the counter and its transaction
    const post = newPost();
    await comments.createPost(post);
    const racing = createDocumentClient({ DYNAMODB_ENDPOINT: db.endpoint });
    const rival = newComment(post.id);
    const sent = recordCommands(racing, async () => {
      await comments.createComment(rival, stamp());
    });
    const writer = new DynamoCommentRepository(racing, COMMENTS, { sleep: async () => undefined });

    // Act
    const outcome = await writer.createComment(newComment(post.id), stamp());
    racing.destroy();

    // Assess
    expect(outcome).toMatchObject({ ok: true, event: { seq: 2 } });
    expect(sent).toEqual(['GetItemCommand', 'TransactWriteItemsCommand', 'TransactWriteItemsCommand']);
  });

  it('gives every one of a burst of concurrent writers its own seq, with no gap', async () => {
    // Prepare
    const post = newPost();
    await comments.createPost(post);

    // Act
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, () => comments.createComment(newComment(post.id), stamp())),
    );

    // Assess
    const seqs = outcomes.map((outcome) => (outcome.ok ? outcome.event.seq : undefined));
    expect([...seqs].sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 12 }, (_, i) => i + 1),
    );
    expect(await comments.getLastSeq(post.id)).toBe(12);
    const page = await comments.listComments(post.id, { limit: 50, consistent: true });
    expect(page.comments).toHaveLength(12);
  });

  it('refuses an edit by someone else and one of a missing comment, leaving the counter where it was', async () => {
    // Prepare
    const post = newPost();
    const comment = newComment(post.id);
    await comments.createPost(post);
    await comments.createComment(comment, stamp());
    const edit = {
      postId: post.id,
      commentId: comment.id,
      content: 'Mine now',
      updatedAt: '2027-01-02T00:00:00.000Z',
      createdAt: comment.createdAt,
    };

    // Act
    const notAuthor = await comments.updateComment({ ...edit, userId: 'mallory' }, stamp());
    const missing = await comments.updateComment(
      { ...edit, userId: 'bob', commentId: freshId('C') },
      stamp(),
    );

    // Assess
    expect(notAuthor).toEqual({ ok: false, reason: 'notAuthor' });
    expect(missing).toEqual({ ok: false, reason: 'commentNotFound' });
    expect(await comments.getLastSeq(post.id)).toBe(1);
    expect((await comments.getComment(post.id, comment.id))?.content).toBe('Hello');
  });

  it('answers a reused idempotency key with the first answer, returned by the cancellation, writing nothing', async () => {
    // Prepare
    const post = newPost();
    await comments.createPost(post);
    const write = keyFor('{"id":"first"}');
    await comments.createComment(newComment(post.id), stamp(), write);
    const observed = createDocumentClient({ DYNAMODB_ENDPOINT: db.endpoint });
    const sent = recordCommands(observed);

    // Act
    const retry = await new DynamoCommentRepository(observed, COMMENTS).createComment(
      newComment(post.id),
      stamp(),
      {
        ...write,
        requestHash: 'hash of the retry',
        result: '{"id":"second"}',
      },
    );
    observed.destroy();

    // Assess
    expect(retry).toEqual({
      ok: false,
      reason: 'keyUsed',
      previous: { requestHash: 'hash of {"id":"first"}', result: '{"id":"first"}' },
    });
    expect(sent).toEqual(['GetItemCommand', 'TransactWriteItemsCommand']);
    expect(await comments.getLastSeq(post.id)).toBe(1);
    expect((await comments.listComments(post.id, { limit: 10, consistent: true })).comments).toHaveLength(1);
  });

  it('answers a reused key for a post the same way, storing neither the second post nor its counter', async () => {
    // Prepare
    const write = keyFor('{"id":"first post"}');
    await comments.createPost(newPost(), write);
    const second = newPost();

    // Act
    const retry = await comments.createPost(second, { ...write, result: '{"id":"second post"}' });

    // Assess
    expect(retry).toEqual({
      ok: false,
      reason: 'keyUsed',
      previous: { requestHash: write.requestHash, result: '{"id":"first post"}' },
    });
    expect(await comments.getPost(second.id)).toBeUndefined();
    expect(await comments.getLastSeq(second.id)).toBeUndefined();
  });

  it('frees a key whose record has expired, even before TTL has deleted it', async () => {
    // Prepare
    const post = newPost();
    await comments.createPost(post);
    const expired = keyFor('{"id":"long ago"}', Math.floor(Date.now() / 1000) - 1);
    await comments.createComment(newComment(post.id), stamp(), expired);

    // Act
    const reuse = await comments.createComment(newComment(post.id), stamp(), {
      ...expired,
      result: '{"id":"now"}',
      expiresAt: Math.floor(Date.now() / 1000) + 86_400,
    });

    // Assess
    expect(reuse).toMatchObject({ ok: true, event: { seq: 2 } });
  });

  it('reads the lastSeq of several posts in one batch, leaving out those that do not exist', async () => {
    // Prepare
    const quiet = newPost();
    const busy = newPost();
    await comments.createPost(quiet);
    await comments.createPost(busy);
    await comments.createComment(newComment(busy.id), stamp());

    // Act
    const seqs = await comments.getLastSeqs([quiet.id, busy.id, 'P-missing']);

    // Assess
    expect(seqs).toEqual(
      new Map([
        [quiet.id, 0],
        [busy.id, 1],
      ]),
    );
  });
});

describe('DynamoConnectionRepository on DynamoDB Local', () => {
  let connections: DynamoConnectionRepository;
  const connectedAt = Date.now();

  beforeAll(() => {
    connections = new DynamoConnectionRepository(client, CONNECTIONS, TTL_SECONDS);
  });

  it('holds a connection to its subscription limit, answering each subscribe by what the table did', async () => {
    // Prepare
    const connectionId = freshId('conn-');
    await connections.addConnection({ connectionId, connectedAt, userId: 'u1' });
    const subscribe = (postId: string) =>
      connections.addSubscription({ connectionId, postId, connectedAt }, 2);

    // Act
    const outcomes = [
      await subscribe('p1'),
      await subscribe('p1'),
      await subscribe('p2'),
      await subscribe('p3'),
      await subscribe('p2'),
      await connections.addSubscription({ connectionId: freshId('gone-'), postId: 'p1', connectedAt }, 2),
    ];

    // Assess
    expect(outcomes).toEqual([
      'added',
      'alreadySubscribed',
      'added',
      'limitReached',
      'alreadySubscribed',
      'connectionGone',
    ]);
    expect((await connections.subscribedPosts(connectionId)).sort()).toEqual(['p1', 'p2']);
    const [row] = await rowsOfTable(CONNECTIONS, `conn#${connectionId}`).then((rows) =>
      rows.filter((item) => item.sk === 'connection'),
    );
    expect(row?.subscriptionCount).toBe(2);
  });

  it('never lets subscribes racing on one connection pass the limit together', async () => {
    // Prepare
    const connectionId = freshId('conn-');
    await connections.addConnection({ connectionId, connectedAt });

    // Act: a conflicting transaction is let through as an error; none may store a subscription over the limit
    const settled = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        connections.addSubscription({ connectionId, postId: `race${i}`, connectedAt }, 3),
      ),
    );

    // Assess
    const added = settled.filter((result) => result.status === 'fulfilled' && result.value === 'added');
    const refused = settled.filter(
      (result) => result.status === 'fulfilled' && result.value === 'limitReached',
    );
    const posts = await connections.subscribedPosts(connectionId);
    expect(added.length).toBeGreaterThan(0);
    expect(added.length).toBeLessThanOrEqual(3);
    expect(added.length + refused.length + settled.filter((r) => r.status === 'rejected').length).toBe(8);
    expect(posts).toHaveLength(added.length);
    const [row] = (await rowsOfTable(CONNECTIONS, `conn#${connectionId}`)).filter(
      (item) => item.sk === 'connection',
    );
    expect(row?.subscriptionCount).toBe(added.length);
  });

  it('unsubscribes by counting down and deleting both rows; a second unsubscribe changes nothing', async () => {
    // Prepare
    const connectionId = freshId('conn-');
    await connections.addConnection({ connectionId, connectedAt });
    await connections.addSubscription({ connectionId, postId: 'p-unsub', connectedAt }, 5);

    // Act
    await connections.removeSubscription(connectionId, 'p-unsub');
    await connections.removeSubscription(connectionId, 'p-unsub');

    // Assess
    expect(await connections.subscribedPosts(connectionId)).toEqual([]);
    const subscribers: string[] = [];
    for await (const page of connections.postSubscribers('p-unsub')) subscribers.push(...page);
    expect(subscribers).not.toContain(connectionId);
    const [row] = (await rowsOfTable(CONNECTIONS, `conn#${connectionId}`)).filter(
      (item) => item.sk === 'connection',
    );
    expect(row?.subscriptionCount).toBe(0);
  });

  it('removes a connection without leaving a row of any kind behind', async () => {
    // Prepare: 15 subscriptions make 32 rows, more than one BatchWrite takes
    const connectionId = freshId('conn-');
    await connections.addConnection({ connectionId, connectedAt });
    for (let i = 0; i < 15; i += 1) {
      await connections.addSubscription({ connectionId, postId: `p-rm${i}`, connectedAt }, 20);
    }
    const rowsBefore = await rowsOfTable(CONNECTIONS, connectionId);

    // Act
    const removed = await connections.removeConnection(connectionId);

    // Assess
    expect(rowsBefore).toHaveLength(32);
    expect(removed).toBe(16);
    expect(await rowsOfTable(CONNECTIONS, connectionId)).toEqual([]);
  });

  it('counts and lists every live connection across the shards', async () => {
    // Prepare
    const before = await connections.countConnections();
    const ids = Array.from({ length: 40 }, () => freshId('live-'));
    for (const connectionId of ids) await connections.addConnection({ connectionId, connectedAt });

    // Act
    const count = await connections.countConnections();
    const listed: string[] = [];
    for await (const page of connections.allConnections()) listed.push(...page);

    // Assess
    expect(count).toBe(before + 40);
    expect(listed).toEqual(expect.arrayContaining(ids));
    expect(listed).toHaveLength(count);
  });
});
