import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ServerEvent } from '../../contracts/protocol';
import { CommentsApiClient } from './comments-api-client';
import {
  connectionRows,
  documentClient,
  eventually,
  loadTarget,
  subscriberIds,
  tokenFor,
  type E2eTarget,
} from './target';
import { TestClient } from './ws-client';

/**
 * The system end to end, over real sockets: the comments API, the broadcast, the WebSocket API and the
 * connections table. Runs against the local stack, or a deployed stage via E2E_OUTPUTS_FILE.
 */
let target: E2eTarget;
let db: DynamoDBDocumentClient;
let api: CommentsApiClient;
let wsToken: string;
const clients: TestClient[] = [];

async function connect(): Promise<TestClient> {
  const client = await TestClient.connect(target.webSocketUrl, wsToken);
  clients.push(client);
  return client;
}

const isCreated = (postId: string, commentId: string) => (e: ServerEvent) =>
  e.type === 'comment.created' && e.data.postId === postId && e.data.comment.id === commentId;
const isUpdated = (commentId: string, action: 'updated' | 'deleted') => (e: ServerEvent) =>
  e.type === 'comment.updated' && e.data.commentId === commentId && e.data.action === action;

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

describe('fan-out by post', () => {
  let postA: string;
  let postB: string;
  let a1: TestClient;
  let a2: TestClient;
  let b1: TestClient;

  beforeEach(async () => {
    postA = (await api.createPost('Post A')).id;
    postB = (await api.createPost('Post B')).id;
    [a1, a2, b1] = await Promise.all([connect(), connect(), connect()]);
    await Promise.all([a1.subscribe(postA), a2.subscribe(postA), b1.subscribe(postB)]);
  });

  it('delivers a comment created on A to exactly the two A subscribers', async () => {
    const comment = await api.createComment(postA, 'hello A');

    const [seenBy1, seenBy2] = await Promise.all([
      a1.waitFor(isCreated(postA, comment.id)),
      a2.waitFor(isCreated(postA, comment.id)),
    ]);
    // B's own comment is broadcast after A's completed, so once B has it, A's would have arrived too.
    const onB = await api.createComment(postB, 'hello B');
    await b1.waitFor(isCreated(postB, onB.id));

    expect(seenBy1).toEqual({
      type: 'comment.created',
      data: { postId: postA, comment },
      eventId: expect.stringMatching(/^[0-9A-Z]{26}$/),
      seq: 1,
    });
    expect(seenBy2).toEqual(seenBy1);
    expect(b1.ofType('comment.created').map((e) => e.data.postId)).toEqual([postB]);
    expect(a1.ofType('comment.created')).toHaveLength(1);
  });

  it('delivers updates and deletes to the A subscribers as comment.updated', async () => {
    const comment = await api.createComment(postA, 'first draft');

    await api.updateComment(postA, comment.id, 'second draft');
    await api.deleteComment(postA, comment.id);

    for (const client of [a1, a2]) {
      await expect(client.waitFor(isUpdated(comment.id, 'updated'))).resolves.toEqual({
        type: 'comment.updated',
        data: {
          postId: postA,
          commentId: comment.id,
          action: 'updated',
          // The comment as stored after the edit, so a client's view needs no second read.
          comment: { ...comment, content: 'second draft', updatedAt: expect.any(String) },
        },
        eventId: expect.any(String),
        seq: 2,
      });
      await expect(client.waitFor(isUpdated(comment.id, 'deleted'))).resolves.toEqual({
        type: 'comment.updated',
        data: { postId: postA, commentId: comment.id, action: 'deleted' },
        eventId: expect.any(String),
        seq: 3,
      });
    }
    const onB = await api.createComment(postB, 'marker');
    await b1.waitFor(isCreated(postB, onB.id));
    expect(b1.ofType('comment.updated')).toEqual([]);
  });
});

describe('subscribing', () => {
  it('sends the new subscriber a comments.list snapshot of the post, oldest first', async () => {
    const post = await api.createPost('With history');
    const first = await api.createComment(post.id, 'one');
    const second = await api.createComment(post.id, 'two');
    const client = await connect();

    const snapshot = await client.subscribe(post.id);

    expect(snapshot).toEqual({
      type: 'comments.list',
      data: { postId: post.id, comments: [first, second], count: 2, seq: 2 },
    });
  });

  it('answers malformed messages with an error event and changes nothing', async () => {
    const post = await api.createPost('Untouched');
    const client = await connect();

    client.send('not json');
    client.send({ action: 'subscribe', postId: 'bad id!' } as never);
    client.send(JSON.stringify({ action: 'shout' }));

    await eventually(async () => (client.ofType('error').length === 3 ? true : undefined));
    expect(
      client
        .ofType('error')
        .map((e) => e.data.code)
        .sort(),
    ).toEqual(['INVALID_JSON', 'INVALID_POST_ID', 'UNKNOWN_ACTION']);
    expect(await subscriberIds(db, target, post.id)).toEqual([]);
  });

  it('answers ping with pong, carrying the current seq of each subscribed post', async () => {
    const client = await connect();
    const post = await api.createPost('heartbeat');
    await api.createComment(post.id, 'one');

    client.send({ action: 'ping' });
    await expect(client.waitFor((e) => e.type === 'pong')).resolves.toEqual({
      type: 'pong',
      data: { seqs: {} },
    });
    await client.subscribe(post.id);
    client.events.length = 0;
    client.send({ action: 'ping' });

    await expect(client.waitFor((e) => e.type === 'pong')).resolves.toEqual({
      type: 'pong',
      data: { seqs: { [post.id]: 1 } },
    });
  });
});

describe('connection lifecycle', () => {
  it('removes a client that disconnects, with its subscriptions, from the connections table', async () => {
    const post = await api.createPost('Lifecycle');
    const client = await connect();
    await client.subscribe(post.id);
    const [connectionId] = await subscriberIds(db, target, post.id);
    if (!connectionId) throw new Error('subscription row not found');
    expect((await connectionRows(db, target, connectionId)).map((row) => row.sk).sort()).toEqual([
      'connection',
      `sub#${post.id}`,
    ]);

    await client.close();

    await eventually(async () =>
      (await connectionRows(db, target, connectionId)).length === 0 ? true : undefined,
    );
    expect(await subscriberIds(db, target, post.id)).toEqual([]);
  });
});
