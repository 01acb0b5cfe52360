import { createHash } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { IDEMPOTENCY_WINDOW_SECONDS } from '../../../contracts/idempotency';
import { CommentsApiRoutes } from '../../../contracts/comments-api-routes';
import { logger } from '../../../lambda/shared/telemetry';
import { captureLogs } from '../fixtures/log-capture';
import { httpEvent, jsonBody, tokenClaims, type RequestOptions } from './fixtures';

type HandlerModule = typeof import('../../../lambda/comments-api/handler');

const TABLE = 'comments-test';
// The trailing slash is deliberate: the client must not produce "//broadcast".
const BROADCAST_URL = 'https://broadcast.example.test/dev/';
const BROADCAST_ENDPOINT = 'https://broadcast.example.test/dev/broadcast/comments';
const COUNT_ENDPOINT = 'https://broadcast.example.test/dev/connections/count';
const WEBSOCKET_URL = 'wss://ws.example.test/dev';
const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const baseEnv = {
  COMMENTS_TABLE_NAME: TABLE,
  BROADCAST_URL,
  BROADCAST_TIMEOUT_MS: '50',
  WEBSOCKET_URL,
  EVENT_RETENTION_SECONDS: '86400',
};
Object.assign(process.env, baseEnv);
// Loaded once the environment is set, as at a cold start, and into this file's module registry: the
// DocumentClient class mocked below and the logger spied on are the very ones the handler uses.
const { handler } = jest.requireActual<HandlerModule>('../../../lambda/comments-api/handler');
const ddb = mockClient(DynamoDBDocumentClient);

const POST_ID = 'P1';
const post = {
  id: POST_ID,
  title: 'Hello',
  body: '',
  userId: 'alice',
  createdAt: '2027-01-01T00:00:00.000Z',
};
const postKey = { pk: `post#${POST_ID}`, sk: 'post' };
const counterKey = { pk: `post#${POST_ID}`, sk: 'seq' };
const storedComment = (id: string, content = `comment ${id}`): Record<string, string> => ({
  pk: `post#${POST_ID}`,
  sk: `comment#${id}`,
  id,
  postId: POST_ID,
  userId: 'bob',
  content,
  createdAt: '2027-01-01T00:00:01.000Z',
});
const asBob = tokenClaims('bob');

let fetchMock: jest.SpiedFunction<typeof fetch>;

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(GetCommand, { Key: postKey }).resolves({ Item: { ...postKey, ...post } });
  ddb.on(GetCommand, { Key: counterKey }).resolves({ Item: { ...counterKey, lastSeq: 0 } });
  fetchMock = jest
    .spyOn(globalThis, 'fetch')
    .mockImplementation(async () => new Response('{"connectionCount":1}', { status: 200 }));
});

afterEach(() => {
  jest.restoreAllMocks();
});

function call(routeKey: string, options: RequestOptions = {}): ReturnType<typeof handler> {
  return handler(httpEvent(routeKey, options));
}

/** What the handler POSTed to the broadcast API, decoded. */
function broadcasts(): unknown[] {
  return fetchMock.mock.calls
    .filter(([url]) => url === BROADCAST_ENDPOINT)
    .map(([, init]) => JSON.parse(String(init?.body)));
}

/** `claims: null` sends the request without a verified token. */
function commentRequest(body: unknown, claims: Record<string, unknown> | null = asBob): RequestOptions {
  return {
    pathParameters: { id: POST_ID },
    claims: claims ?? undefined,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

describe('correlation id', () => {
  /** The headers of the handler's (SigV4-signed) call to the broadcast API. */
  function broadcastHeaders(): Record<string, string> {
    const call = fetchMock.mock.calls.find(([url]) => url === BROADCAST_ENDPOINT);
    if (!call) throw new Error('no broadcast was sent');
    return call[1]?.headers as Record<string, string>;
  }

  function createComment(headers: Record<string, string> = {}): ReturnType<typeof handler> {
    return call(CommentsApiRoutes.createComment, {
      ...commentRequest({ content: 'Hi' }),
      headers,
    });
  }

  beforeEach(() => {
    ddb.on(TransactWriteCommand).resolves({});
  });

  it('passes a valid x-correlation-id on to the broadcast, as a signed header, and logs under it', async () => {
    // Act
    const lines = await captureLogs(logger, () => createComment({ 'x-correlation-id': 'client-corr-1' }));

    // Assess
    const headers = broadcastHeaders();
    expect(headers['x-correlation-id']).toBe('client-corr-1');
    expect(headers.authorization).toMatch(/SignedHeaders=[^,]*x-correlation-id/);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line.correlation_id).toBe('client-corr-1');
  });

  it.each([
    ['no header', {}],
    ['an invalid header', { 'x-correlation-id': 'two words' }],
  ])("uses API Gateway's request id with %s", async (_name, headers) => {
    // Act
    const lines = await captureLogs(logger, () => createComment(headers));

    // Assess
    expect(broadcastHeaders()['x-correlation-id']).toBe('request-1');
    for (const line of lines) expect(line.correlation_id).toBe('request-1');
  });

  it('does not carry one request’s id into the next', async () => {
    // Act
    await createComment({ 'x-correlation-id': 'first-request' });
    fetchMock.mockClear();
    await createComment();

    // Assess
    expect(broadcastHeaders()['x-correlation-id']).toBe('request-1');
    expect(logger.getCorrelationId()).toBeUndefined();
  });
});

describe('comments API handler', () => {
  describe('POST /api/v1/posts', () => {
    it('creates a post by the acting user, with its counter, and answers 201 with it', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const result = await call(CommentsApiRoutes.createPost, {
        claims: tokenClaims('alice'),
        body: JSON.stringify({ title: 'First post', body: 'Body text' }),
      });

      // Assess
      expect(result.statusCode).toBe(201);
      const created = jsonBody(result) as Record<string, unknown>;
      expect(created).toEqual({
        id: expect.stringMatching(/^[0-9A-Z]{26}$/),
        title: 'First post',
        body: 'Body text',
        userId: 'alice',
        createdAt: expect.stringMatching(ISO_TIMESTAMP),
      });
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          {
            Put: expect.objectContaining({
              TableName: TABLE,
              Item: expect.objectContaining({
                pk: `post#${String(created.id)}`,
                sk: 'post',
                title: 'First post',
              }),
            }),
          },
          {
            Put: expect.objectContaining({
              TableName: TABLE,
              Item: { pk: `post#${String(created.id)}`, sk: 'seq', lastSeq: 0 },
            }),
          },
        ],
      });
    });

    it('answers 400 without a title', async () => {
      // Act
      const result = await call(CommentsApiRoutes.createPost, {
        claims: tokenClaims('alice'),
        body: JSON.stringify({ body: 'no title' }),
      });

      // Assess
      expect(result.statusCode).toBe(400);
      expect(jsonBody(result)).toEqual({ detail: '"title" is required' });
      expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    });
  });

  describe('GET /api/v1/posts/{id}', () => {
    it('answers 200 with the post', async () => {
      // Act
      const result = await call(CommentsApiRoutes.getPost, { pathParameters: { id: POST_ID } });

      // Assess
      expect(result.statusCode).toBe(200);
      expect(jsonBody(result)).toEqual(post);
    });

    it('answers 404 for an unknown post', async () => {
      // Act
      const result = await call(CommentsApiRoutes.getPost, { pathParameters: { id: 'unknown' } });

      // Assess
      expect(result.statusCode).toBe(404);
      expect(jsonBody(result)).toEqual({ detail: 'Post not found' });
    });

    it('answers 400 for a malformed id without reading the table', async () => {
      // Act
      const result = await call(CommentsApiRoutes.getPost, { pathParameters: { id: 'a.b' } });

      // Assess
      expect(result.statusCode).toBe(400);
      expect(jsonBody(result)).toEqual({ detail: 'postId must match ^[A-Za-z0-9_-]{1,64}$' });
      expect(ddb).not.toHaveReceivedCommand(GetCommand);
    });
  });

  describe('POST /api/v1/posts/{id}/comments', () => {
    it('answers 201 with exactly the original response fields', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const result = await call(
        CommentsApiRoutes.createComment,
        commentRequest({ content: '  Great post!  ' }),
      );

      // Assess
      expect(result.statusCode).toBe(201);
      expect(result.headers).toEqual({ 'content-type': 'application/json' });
      const body = jsonBody(result) as Record<string, unknown>;
      expect(Object.keys(body).sort()).toEqual(['content', 'createdAt', 'id', 'postId', 'userId']);
      expect(body).toEqual({
        id: expect.stringMatching(/^[0-9A-Z]{26}$/),
        content: 'Great post!',
        userId: 'bob',
        createdAt: expect.stringMatching(ISO_TIMESTAMP),
        postId: POST_ID,
      });
    });

    it('writes the comment and its event in one transaction that takes the post’s next seq', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: counterKey, ConsistentRead: true });
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          expect.objectContaining({
            Update: expect.objectContaining({
              TableName: TABLE,
              Key: counterKey,
              ConditionExpression: '#lastSeq = :previous',
              ExpressionAttributeValues: { ':seq': 1, ':previous': 0 },
            }),
          }),
          expect.objectContaining({
            Put: expect.objectContaining({
              Item: expect.objectContaining({ pk: `post#${POST_ID}`, content: 'Hi', userId: 'bob' }),
            }),
          }),
          expect.objectContaining({
            Put: expect.objectContaining({
              Item: expect.objectContaining({
                pk: `post#${POST_ID}`,
                sk: 'event#000000000001',
                seq: 1,
                type: 'comment.created',
                eventId: expect.stringMatching(/^[0-9A-Z]{26}$/),
                expiresAt: expect.any(Number),
              }),
            }),
          }),
        ],
      });
    });

    it('broadcasts comment.created with the stored comment to BROADCAST_URL/broadcast/comments', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      const comment = jsonBody(result);
      const eventItem =
        ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[2]?.Put?.Item;
      expect(broadcasts()).toEqual([
        { type: 'comment.created', data: { postId: POST_ID, comment }, eventId: eventItem?.eventId, seq: 1 },
      ]);
      expect(eventItem?.eventId).toMatch(/^[0-9A-Z]{26}$/);
      expect(eventItem?.eventId).not.toBe((comment as { id: string }).id);
      const [, init] = fetchMock.mock.calls[0] ?? [];
      expect(init).toMatchObject({
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          // Answered once the publish is queued: a write never waits for its fan-out.
          prefer: 'respond-async',
          // The broadcast API is IAM-authorised: signed with the function's credentials (dummy in tests).
          authorization: expect.stringMatching(
            /^AWS4-HMAC-SHA256 Credential=dummy\/\d{8}\/us-east-1\/execute-api\/aws4_request, /,
          ),
          'x-amz-date': expect.stringMatching(/^\d{8}T\d{6}Z$/),
        },
      });
    });

    it('answers 404 Post not found for an unknown post, and writes and broadcasts nothing', async () => {
      // Prepare
      ddb.on(GetCommand, { Key: postKey }).resolves({});
      ddb.on(GetCommand, { Key: counterKey }).resolves({});

      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      expect(result.statusCode).toBe(404);
      expect(result.body).toBe('{"detail":"Post not found"}');
      expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
      expect(fetchMock).not.toHaveBeenCalled();
    });

    it('answers 404 when the post disappears while the seq is being taken', async () => {
      // Prepare
      ddb
        .on(GetCommand, { Key: counterKey })
        .resolvesOnce({ Item: { ...counterKey, lastSeq: 0 } })
        .resolves({});
      ddb.on(TransactWriteCommand).rejects(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }, { Code: 'None' }],
        }),
      );

      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      expect(result.statusCode).toBe(404);
      expect(result.body).toBe('{"detail":"Post not found"}');
      expect(fetchMock).not.toHaveBeenCalled();
    });

    it('takes the next seq after the post’s lastSeq', async () => {
      // Prepare
      ddb.on(GetCommand, { Key: counterKey }).resolves({ Item: { ...counterKey, lastSeq: 41 } });
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      expect(broadcasts()).toEqual([expect.objectContaining({ seq: 42 })]);
    });

    it.each([
      ['is not JSON', '{"content": ', 'Request body is not valid JSON'],
      ['is empty', '', 'Request body must be a JSON object'],
      ['is a JSON array', '["Hi"]', 'Request body must be a JSON object'],
      ['has no content', '{}', '"content" is required'],
      ['has non-string content', '{"content": 42}', '"content" must be a string'],
      ['has blank content', '{"content": "   "}', 'content must not be empty'],
      ['has content over 2000 characters', JSON.stringify({ content: 'x'.repeat(2001) }), 'at most 2000'],
      ['has a control character in content', JSON.stringify({ content: 'a\u0000b' }), 'control characters'],
    ])('answers 400 when the body %s', async (_case, body, detail) => {
      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest(body));

      // Assess
      expect(result.statusCode).toBe(400);
      expect((jsonBody(result) as { detail: string }).detail).toContain(detail);
      expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
      expect(fetchMock).not.toHaveBeenCalled();
    });

    it('answers 401 without a verified token, before touching the table', async () => {
      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }, null));

      // Assess
      expect(result.statusCode).toBe(401);
      expect(jsonBody(result)).toEqual({ detail: 'A valid bearer token is required' });
      expect(ddb.calls()).toHaveLength(0);
    });

    it('answers 401 to an x-user-id header alone: a header never names the actor', async () => {
      // Act
      const result = await call(CommentsApiRoutes.createComment, {
        ...commentRequest({ content: 'Hi' }, null),
        headers: { 'x-user-id': 'bob' },
      });

      // Assess
      expect(result.statusCode).toBe(401);
      expect(ddb.calls()).toHaveLength(0);
      expect(fetchMock).not.toHaveBeenCalled();
    });

    it('stores the token’s sub as the author, whatever userId the body claims', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const result = await call(
        CommentsApiRoutes.createComment,
        commentRequest({ content: 'Hi', userId: 'alice' }),
      );

      // Assess
      expect(result.statusCode).toBe(201);
      expect(jsonBody(result)).toMatchObject({ userId: 'bob' });
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          expect.anything(),
          expect.objectContaining({
            Put: expect.objectContaining({ Item: expect.objectContaining({ userId: 'bob' }) }),
          }),
          expect.anything(),
        ],
      });
    });

    it('still answers 201, and logs the failure, when the broadcast API is unreachable', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});
      fetchMock.mockRejectedValue(new TypeError('fetch failed'));
      const error = jest.spyOn(logger, 'error');

      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      expect(result.statusCode).toBe(201);
      expect(error).toHaveBeenCalledWith(
        'Broadcast failed',
        expect.objectContaining({ error: 'fetch failed' }),
      );
    });

    it('still answers 201, and logs the status and body, when the broadcast API answers 500', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});
      fetchMock.mockImplementation(async () => new Response('{"detail":"boom"}', { status: 500 }));
      const error = jest.spyOn(logger, 'error');

      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      expect(result.statusCode).toBe(201);
      expect(error).toHaveBeenCalledWith(
        'Broadcast rejected',
        expect.objectContaining({ status: 500, body: '{"detail":"boom"}' }),
      );
    });

    it('answers 201 once BROADCAST_TIMEOUT_MS has passed when the broadcast API hangs', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});
      let signal: AbortSignal | undefined;
      fetchMock.mockImplementation(
        (_url, init) =>
          new Promise<Response>((_resolve, reject) => {
            signal = init?.signal ?? undefined;
            signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
          }),
      );
      const error = jest.spyOn(logger, 'error');

      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      expect(result.statusCode).toBe(201);
      expect(signal?.aborted).toBe(true);
      expect(error).toHaveBeenCalledWith('Broadcast timed out', expect.objectContaining({ timeoutMs: 50 }));
    });
  });

  describe('GET /api/v1/posts/{id}/comments', () => {
    it('lists comments oldest first and follows nextCursor to the next page', async () => {
      // Prepare
      ddb
        .on(QueryCommand)
        .resolvesOnce({
          Items: [storedComment('C1'), storedComment('C2')],
          LastEvaluatedKey: { pk: `post#${POST_ID}`, sk: 'comment#C2' },
        })
        .resolvesOnce({ Items: [storedComment('C3')] });

      // Act
      const first = await call(CommentsApiRoutes.listComments, {
        pathParameters: { id: POST_ID },
        queryStringParameters: { limit: '2' },
      });
      const { nextCursor } = jsonBody(first) as { nextCursor: string };
      const second = await call(CommentsApiRoutes.listComments, {
        pathParameters: { id: POST_ID },
        queryStringParameters: { limit: '2', cursor: nextCursor },
      });

      // Assess
      expect(first.statusCode).toBe(200);
      expect(jsonBody(first)).toEqual({
        postId: POST_ID,
        comments: [
          {
            id: 'C1',
            postId: POST_ID,
            userId: 'bob',
            content: 'comment C1',
            createdAt: '2027-01-01T00:00:01.000Z',
          },
          {
            id: 'C2',
            postId: POST_ID,
            userId: 'bob',
            content: 'comment C2',
            createdAt: '2027-01-01T00:00:01.000Z',
          },
        ],
        count: 2,
        nextCursor: expect.any(String),
      });
      expect(jsonBody(second)).toEqual({
        postId: POST_ID,
        comments: [expect.objectContaining({ id: 'C3' })],
        count: 1,
      });
      expect(ddb).toHaveReceivedNthSpecificCommandWith(1, QueryCommand, {
        ScanIndexForward: true,
        Limit: 2,
        ExclusiveStartKey: undefined,
      });
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
        ExclusiveStartKey: { pk: `post#${POST_ID}`, sk: 'comment#C2' },
      });
    });

    it('asks for 50 comments when no limit is given', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [] });

      // Act
      const result = await call(CommentsApiRoutes.listComments, { pathParameters: { id: POST_ID } });

      // Assess
      expect(jsonBody(result)).toEqual({ postId: POST_ID, comments: [], count: 0 });
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, { TableName: TABLE, Limit: 50 });
    });

    it('answers 400 for a cursor it did not issue', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [] });

      // Act
      const result = await call(CommentsApiRoutes.listComments, {
        pathParameters: { id: POST_ID },
        queryStringParameters: { cursor: '%%%not-a-cursor' },
      });

      // Assess
      expect(result.statusCode).toBe(400);
      expect(jsonBody(result)).toEqual({ detail: 'Invalid pagination cursor' });
    });

    it.each(['0', '101', 'ten', '', '0x10'])('answers 400 for limit=%p', async (limit) => {
      // Act
      const result = await call(CommentsApiRoutes.listComments, {
        pathParameters: { id: POST_ID },
        queryStringParameters: { limit },
      });

      // Assess
      expect(result.statusCode).toBe(400);
      expect(jsonBody(result)).toEqual({ detail: 'limit must be an integer from 1 to 100' });
    });

    it('answers 404 for an unknown post', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [] });

      // Act
      const result = await call(CommentsApiRoutes.listComments, { pathParameters: { id: 'unknown' } });

      // Assess
      expect(result.statusCode).toBe(404);
      expect(jsonBody(result)).toEqual({ detail: 'Post not found' });
    });
  });

  describe('PATCH and DELETE /api/v1/posts/{id}/comments/{commentId}', () => {
    const commentKey = { pk: `post#${POST_ID}`, sk: 'comment#C1' };
    const target = { pathParameters: { id: POST_ID, commentId: 'C1' }, claims: asBob };

    beforeEach(() => {
      ddb.on(GetCommand, { Key: commentKey }).resolves({ Item: storedComment('C1') });
    });

    it('updates the comment, answers 200 with it and broadcasts action updated', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const result = await call(CommentsApiRoutes.updateComment, {
        ...target,
        body: JSON.stringify({ content: 'Edited' }),
      });

      // Assess
      expect(result.statusCode).toBe(200);
      expect(jsonBody(result)).toEqual({
        id: 'C1',
        postId: POST_ID,
        userId: 'bob',
        content: 'Edited',
        createdAt: '2027-01-01T00:00:01.000Z',
        updatedAt: expect.stringMatching(ISO_TIMESTAMP),
      });
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          expect.objectContaining({ Update: expect.objectContaining({ Key: counterKey }) }),
          expect.objectContaining({
            Update: expect.objectContaining({
              TableName: TABLE,
              Key: commentKey,
              ConditionExpression: 'attribute_exists(#pk) AND userId = :userId',
              ExpressionAttributeValues: expect.objectContaining({ ':content': 'Edited', ':userId': 'bob' }),
            }),
          }),
          expect.objectContaining({
            Put: expect.objectContaining({ Item: expect.objectContaining({ sk: 'event#000000000001' }) }),
          }),
        ],
      });
      expect(broadcasts()).toEqual([
        {
          type: 'comment.updated',
          // The comment as it is after the edit: what the answer holds, too.
          data: { postId: POST_ID, commentId: 'C1', action: 'updated', comment: jsonBody(result) },
          eventId: expect.stringMatching(/^[0-9A-Z]{26}$/),
          seq: 1,
        },
      ]);
    });

    it('deletes the comment, answers 204 with no body and broadcasts action deleted', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const result = await call(CommentsApiRoutes.deleteComment, target);

      // Assess
      expect(result.statusCode).toBe(204);
      expect(result.body).toBeUndefined();
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          expect.anything(),
          expect.objectContaining({
            Delete: expect.objectContaining({ TableName: TABLE, Key: commentKey }),
          }),
          expect.anything(),
        ],
      });
      expect(broadcasts()).toEqual([
        {
          type: 'comment.updated',
          data: { postId: POST_ID, commentId: 'C1', action: 'deleted' },
          eventId: expect.stringMatching(/^[0-9A-Z]{26}$/),
          seq: 1,
        },
      ]);
    });

    it('answers 404 Comment not found for an unknown comment, and broadcasts nothing', async () => {
      // Prepare
      const unknown = { pathParameters: { id: POST_ID, commentId: 'C9' }, claims: asBob };

      // Act
      const update = await call(CommentsApiRoutes.updateComment, { ...unknown, body: '{"content":"x"}' });
      const removal = await call(CommentsApiRoutes.deleteComment, unknown);

      // Assess
      expect([update.statusCode, removal.statusCode]).toEqual([404, 404]);
      expect(jsonBody(update)).toEqual({ detail: 'Comment not found' });
      expect(jsonBody(removal)).toEqual({ detail: 'Comment not found' });
      expect(fetchMock).not.toHaveBeenCalled();
    });

    it('answers 404 when the comment is deleted concurrently (conditional write fails)', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
        }),
      );

      // Act
      const update = await call(CommentsApiRoutes.updateComment, { ...target, body: '{"content":"x"}' });
      const removal = await call(CommentsApiRoutes.deleteComment, target);

      // Assess
      expect([update.statusCode, removal.statusCode]).toEqual([404, 404]);
      expect(fetchMock).not.toHaveBeenCalled();
    });

    it('answers 403 when another user changes the comment', async () => {
      // Act
      const removal = await call(CommentsApiRoutes.deleteComment, {
        ...target,
        claims: tokenClaims('mallory'),
      });

      // Assess
      expect(removal.statusCode).toBe(403);
      expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    });

    it('answers 401 without a verified token, even with the author’s x-user-id header', async () => {
      // Act
      const update = await call(CommentsApiRoutes.updateComment, {
        ...target,
        claims: undefined,
        headers: { 'x-user-id': 'bob' },
        body: '{"content":"x"}',
      });
      const removal = await call(CommentsApiRoutes.deleteComment, {
        ...target,
        claims: undefined,
        headers: { 'x-user-id': 'bob' },
      });

      // Assess
      expect([update.statusCode, removal.statusCode]).toEqual([401, 401]);
      expect(ddb.calls()).toHaveLength(0);
    });
  });

  describe('Idempotency-Key', () => {
    const KEY = '01JB3ZQ8V6K7Q2X9M4N5P6R7S8';
    const route = CommentsApiRoutes.createComment;
    const path = '/api/v1/posts/P1/comments';
    const body = '{"content":"Hi"}';

    /** A create of a comment on P1, as API Gateway hands it over, with the key. */
    const keyed = (requestBody = body, key = KEY, headerName = 'idempotency-key'): RequestOptions => ({
      ...commentRequest(requestBody),
      headers: { [headerName]: key },
    });

    /** Sends the request with the raw path API Gateway reports for it. */
    const send = (options: RequestOptions, rawPath = path): ReturnType<typeof handler> =>
      handler({ ...httpEvent(route, options), rawPath });

    /** sha256 of the route key, the raw path and the exact body, as the fingerprint is defined. */
    const fingerprint = (requestBody: string, routeKey: string = route, rawPath = path): string =>
      createHash('sha256').update(`${routeKey}\n${rawPath}\n`).update(requestBody).digest('base64url');

    /** The record the transaction stored with the write: its fourth item. */
    const storedRecord = (): Record<string, unknown> | undefined =>
      ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[3]?.Put?.Item;

    /** The write refused because the key is taken, with the record that holds it. */
    const keyTaken = (requestHash: string, result: unknown): TransactionCanceledException =>
      new TransactionCanceledException({
        message: 'Transaction cancelled',
        $metadata: {},
        CancellationReasons: [
          { Code: 'None' },
          { Code: 'None' },
          { Code: 'None' },
          {
            Code: 'ConditionalCheckFailed',
            Item: marshall({
              pk: `idem#bob#${KEY}`,
              sk: 'write',
              requestHash,
              result: JSON.stringify(result),
            }),
          },
        ],
      });

    const firstAnswer = {
      id: '01JB3ZQ8V6K7Q2X9M4N5P6R7AA',
      content: 'Hi',
      userId: 'bob',
      createdAt: '2027-01-01T00:00:00.000Z',
      postId: POST_ID,
    };

    it('stores the key’s record in the write’s own transaction, per user, with a fingerprint of the request', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});
      const before = Math.floor(Date.now() / 1000);

      // Act
      const result = await send(keyed());

      // Assess
      expect(result.statusCode).toBe(201);
      const record = storedRecord();
      expect(record).toEqual({
        pk: `idem#bob#${KEY}`,
        sk: 'write',
        requestHash: fingerprint(body),
        result: expect.any(String),
        expiresAt: expect.any(Number),
      });
      // The answer to replay is the created comment, whatever order its fields are stored in.
      expect(JSON.parse(String(record?.result))).toEqual(jsonBody(result));
      expect(Number(record?.expiresAt) - before).toBeGreaterThanOrEqual(IDEMPOTENCY_WINDOW_SECONDS);
      expect(Number(record?.expiresAt) - before).toBeLessThanOrEqual(IDEMPOTENCY_WINDOW_SECONDS + 5);
    });

    it('reads the header whatever its case', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await send(keyed(body, KEY, 'Idempotency-Key'));

      // Assess
      expect(storedRecord()).toMatchObject({ pk: `idem#bob#${KEY}` });
    });

    it('answers a retry with the first answer, 201, and broadcasts nothing again', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(keyTaken(fingerprint(body), firstAnswer));

      // Act
      const result = await send(keyed());

      // Assess
      expect(result.statusCode).toBe(201);
      expect(jsonBody(result)).toEqual(firstAnswer);
      expect(broadcasts()).toEqual([]);
    });

    it('reads the record when the refusal did not bring it back', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [
            { Code: 'None' },
            { Code: 'None' },
            { Code: 'None' },
            { Code: 'ConditionalCheckFailed' },
          ],
        }),
      );
      ddb
        .on(GetCommand, { Key: { pk: `idem#bob#${KEY}`, sk: 'write' } })
        .resolves({ Item: { requestHash: fingerprint(body), result: JSON.stringify(firstAnswer) } });

      // Act
      const result = await send(keyed());

      // Assess
      expect(result.statusCode).toBe(201);
      expect(jsonBody(result)).toEqual(firstAnswer);
      expect(ddb).toHaveReceivedCommandWith(GetCommand, {
        Key: { pk: `idem#bob#${KEY}`, sk: 'write' },
        ConsistentRead: true,
      });
    });

    it('answers 422 to the key with another body, and broadcasts nothing', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(keyTaken(fingerprint(body), firstAnswer));

      // Act
      const result = await send(keyed('{"content":"Something else"}'));

      // Assess
      expect(result.statusCode).toBe(422);
      expect(jsonBody(result)).toEqual({ detail: expect.stringContaining('Idempotency-Key') });
      expect(broadcasts()).toEqual([]);
    });

    it('fingerprints the bytes sent: the same JSON spelled otherwise is another request', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await send(keyed('{ "content": "Hi" }'));

      // Assess
      expect(storedRecord()?.requestHash).toBe(fingerprint('{ "content": "Hi" }'));
      expect(storedRecord()?.requestHash).not.toBe(fingerprint(body));
    });

    it('fingerprints the path: the same body under the same key to another post is another request', async () => {
      // Prepare
      ddb.on(GetCommand, { Key: { pk: 'post#P2', sk: 'seq' } }).resolves({ Item: { lastSeq: 0 } });
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await send({ ...keyed(), pathParameters: { id: 'P2' } }, '/api/v1/posts/P2/comments');

      // Assess
      expect(storedRecord()?.requestHash).toBe(fingerprint(body, route, '/api/v1/posts/P2/comments'));
      expect(storedRecord()?.requestHash).not.toBe(fingerprint(body));
    });

    it('keys a post the same way', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});
      const postBody = '{"title":"First post"}';

      // Act
      const result = await call(CommentsApiRoutes.createPost, {
        claims: tokenClaims('alice'),
        headers: { 'idempotency-key': KEY },
        body: postBody,
      });

      // Assess
      expect(result.statusCode).toBe(201);
      const items = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
      expect(items).toHaveLength(3);
      expect(items[2]?.Put?.Item).toMatchObject({
        pk: `idem#alice#${KEY}`,
        requestHash: fingerprint(postBody, CommentsApiRoutes.createPost, '/api/v1/posts'),
      });
    });

    it.each([
      ['too short', 'abc1234'],
      ['too long', 'k'.repeat(129)],
      ['with a space', 'two words here'],
      ['with a key delimiter', 'key#with#hash'],
      ['empty', ''],
      ['with a control character', 'key\u0000value'],
    ])('answers 400 to a key %s, writing nothing', async (_name, key) => {
      // Act
      const result = await send(keyed(body, key));

      // Assess
      expect(result.statusCode).toBe(400);
      expect(jsonBody(result)).toEqual({ detail: expect.stringContaining('Idempotency-Key') });
      expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
      expect(fetchMock).not.toHaveBeenCalled();
    });

    it('writes no record without the header', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await send(commentRequest(body));

      // Assess
      expect(ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems).toHaveLength(3);
    });
  });

  describe('capacity', () => {
    it('answers 503 with Retry-After, and broadcasts nothing, when the table throttles the write', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(
        new TransactionCanceledException({
          message: 'Transaction cancelled',
          $metadata: {},
          CancellationReasons: [{ Code: 'ThrottlingError' }, { Code: 'None' }, { Code: 'None' }],
        }),
      );

      // Act
      const result = await call(CommentsApiRoutes.createComment, commentRequest({ content: 'Hi' }));

      // Assess
      expect(result.statusCode).toBe(503);
      expect(result.headers).toMatchObject({ 'retry-after': '1' });
      expect(jsonBody(result)).toEqual({ detail: expect.any(String) });
      expect(fetchMock).not.toHaveBeenCalled();
    });

    it('answers 503 with Retry-After, not 500, when a read is throttled', async () => {
      // Prepare
      ddb.on(GetCommand, { Key: postKey }).rejects(
        Object.assign(new Error('Rate of requests exceeds the allowed throughput'), {
          name: 'ProvisionedThroughputExceededException',
        }),
      );

      // Act
      const result = await call(CommentsApiRoutes.getPost, { pathParameters: { id: POST_ID } });

      // Assess
      expect(result.statusCode).toBe(503);
      expect(result.headers).toMatchObject({ 'retry-after': '1' });
      expect(jsonBody(result)).toEqual({ detail: 'The service is busy; try again in a moment' });
    });
  });

  describe('GET /api/v1/websocket/connections', () => {
    it('reports healthy with the broadcast API’s count and the WebSocket URL', async () => {
      // Prepare
      fetchMock.mockImplementation(async () => new Response('{"count":4}', { status: 200 }));

      // Act
      const result = await call(CommentsApiRoutes.connectionStatus);

      // Assess
      expect(result.statusCode).toBe(200);
      expect(jsonBody(result)).toEqual({
        status: 'healthy',
        connectionCount: 4,
        timestamp: expect.stringMatching(ISO_TIMESTAMP),
        endpoint: WEBSOCKET_URL,
      });
      expect(fetchMock).toHaveBeenCalledWith(COUNT_ENDPOINT, expect.objectContaining({ method: 'GET' }));
    });

    it('reports status error, still with 200, when the count cannot be had', async () => {
      // Prepare
      fetchMock.mockImplementation(async () => new Response('nope', { status: 500 }));

      // Act
      const result = await call(CommentsApiRoutes.connectionStatus);

      // Assess
      expect(result.statusCode).toBe(200);
      expect(jsonBody(result)).toEqual({
        status: 'error',
        connectionCount: 0,
        error: 'Broadcast API answered HTTP 500',
        timestamp: expect.stringMatching(ISO_TIMESTAMP),
      });
    });
  });

  describe('anything else', () => {
    it.each(['GET /api/v1/unknown', 'constructor', '$default'])(
      'answers 404 for route %p',
      async (routeKey) => {
        // Act
        const result = await call(routeKey);

        // Assess
        expect(result.statusCode).toBe(404);
        expect(jsonBody(result)).toEqual({ detail: 'Not Found' });
      },
    );

    it('answers 500 without internals, and logs, when DynamoDB fails unexpectedly', async () => {
      // Prepare
      ddb.on(GetCommand, { Key: postKey }).rejects(new Error('ProvisionedThroughputExceeded at 10.0.0.1'));
      const error = jest.spyOn(logger, 'error');

      // Act
      const result = await call(CommentsApiRoutes.getPost, { pathParameters: { id: POST_ID } });

      // Assess
      expect(result.statusCode).toBe(500);
      expect(jsonBody(result)).toEqual({ detail: 'Internal server error' });
      expect(error).toHaveBeenCalledWith('Unhandled error', expect.anything());
    });
  });

  describe('cold start', () => {
    const loadFresh = (): void => {
      jest.isolateModules(() => {
        jest.requireActual<HandlerModule>('../../../lambda/comments-api/handler');
      });
    };

    const region = process.env.AWS_REGION;

    afterEach(() => {
      Object.assign(process.env, baseEnv, { AWS_REGION: region });
    });

    // Every one is set by the stack (AWS_REGION by Lambda): the stage config is the one place of defaults.
    it.each([
      'COMMENTS_TABLE_NAME',
      'BROADCAST_URL',
      'AWS_REGION',
      'WEBSOCKET_URL',
      'BROADCAST_TIMEOUT_MS',
      'EVENT_RETENTION_SECONDS',
    ])('fails naming %s when it is missing', (name) => {
      // Prepare
      delete process.env[name];

      // Act / Assess
      expect(loadFresh).toThrow(`Missing required environment variable ${name}`);
    });

    it.each(['0', '-5', 'a day'])('fails on EVENT_RETENTION_SECONDS=%p', (value) => {
      // Prepare
      process.env.EVENT_RETENTION_SECONDS = value;

      // Act / Assess
      expect(loadFresh).toThrow('EVENT_RETENTION_SECONDS');
    });
  });
});
