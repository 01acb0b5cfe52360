import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { CommentsApiRoutes } from '../../../contracts/comments-api-routes';
import { MAX_JSON_BODY_BYTES } from '../../../lambda/shared/http';
import {
  ErrorCodes,
  MAX_BROADCAST_BYTES,
  MAX_CLIENT_MESSAGE_BYTES,
  type ErrorCode,
} from '../../../contracts/protocol';
import { MAX_TOKEN_LENGTH } from '../../../lambda/shared/token-verifier';
import { httpEvent, jsonBody, tokenClaims, type RequestOptions } from '../comments-api/fixtures';
import { connectAuthorizerEvent } from '../fixtures/authorizer-event';
import { STAGE_SETTINGS_ENV } from '../fixtures/stage-settings-env';
import { writesSent } from '../fixtures/dynamo-writes';

/**
 * Every entry point against malformed input: each case must get a clear 4xx (or an in-band WebSocket
 * error, or a 401 from the authorizer) and must not send a single write to DynamoDB.
 */

type CommentsModule = typeof import('../../../lambda/comments-api/handler');
type MessagesModule = typeof import('../../../lambda/websocket-messages/handler');
type BroadcastModule = typeof import('../../../lambda/broadcast/handler');
type AuthorizerModule = typeof import('../../../lambda/websocket-authorizer/handler');

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const lambda = mockClient(LambdaClient);

let comments: CommentsModule['handler'];
let messages: MessagesModule['handler'];
let broadcast: BroadcastModule['handler'];
let authorizer: AuthorizerModule['handler'];

beforeAll(() => {
  Object.assign(process.env, STAGE_SETTINGS_ENV, {
    COMMENTS_TABLE_NAME: 'comments-test',
    CONNECTIONS_TABLE_NAME: 'connections-test',
    BROADCAST_URL: 'https://broadcast.example.test/dev',
    WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://ws.execute-api.us-east-1.amazonaws.com/dev',
    FAN_OUT_WORKER_FUNCTION_NAME: 'fan-out-worker-test',
    // Set by the stack from the broadcast function's timeout, and by Lambda itself.
    PUBLISH_CLAIM_TTL_MS: '30000',
    AWS_LAMBDA_FUNCTION_NAME: 'broadcast-test',
    // Never contacted: every token below is refused before a key is needed.
    AUTH_ISSUER: 'https://issuer.example.test',
    AUTH_AUDIENCE: 'comments-client',
    AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
  });
  comments = jest.requireActual<CommentsModule>('../../../lambda/comments-api/handler').handler;
  messages = jest.requireActual<MessagesModule>('../../../lambda/websocket-messages/handler').handler;
  broadcast = jest.requireActual<BroadcastModule>('../../../lambda/broadcast/handler').handler;
  authorizer = jest.requireActual<AuthorizerModule>('../../../lambda/websocket-authorizer/handler').handler;
});

afterAll(() => {
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
});

beforeEach(() => {
  ddb.reset();
  api.reset();
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  // Every read finds something, so a refusal can only come from validation.
  ddb.on(GetCommand).resolves({
    Item: { id: 'P1', postId: 'P1', title: 't', body: '', userId: 'bob', content: 'c', createdAt: 'x' },
  });
  ddb.on(QueryCommand).resolves({ Items: [], Count: 0 });
  api.on(PostToConnectionCommand).resolves({});
  jest.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response('{}', { status: 200 }));
});

afterEach(() => {
  jest.restoreAllMocks();
});

const asBob = tokenClaims('bob');
const json = (value: unknown): string => JSON.stringify(value);

describe('comments API', () => {
  type Case = [name: string, route: string, request: RequestOptions, status: number, detail: string];

  const createPost = (body: string): RequestOptions => ({ claims: asBob, body });
  const createComment = (body: string, id = 'P1'): RequestOptions => ({
    claims: asBob,
    pathParameters: { id },
    body,
  });
  const updateComment = (body: string, commentId = 'C1', id = 'P1'): RequestOptions => ({
    claims: asBob,
    pathParameters: { id, commentId },
    body,
  });
  const list = (query: Record<string, string>, id = 'P1'): RequestOptions => ({
    pathParameters: { id },
    queryStringParameters: query,
  });

  it.each<Case>([
    // Bodies that are not a JSON object
    ['an empty body', CommentsApiRoutes.createPost, createPost(''), 400, 'must be a JSON object'],
    [
      'a body that is not JSON',
      CommentsApiRoutes.createPost,
      createPost('{"title": '),
      400,
      'not valid JSON',
    ],
    ['a JSON array body', CommentsApiRoutes.createPost, createPost('["t"]'), 400, 'must be a JSON object'],
    [
      'a JSON string body',
      CommentsApiRoutes.createComment,
      createComment('"Hi"'),
      400,
      'must be a JSON object',
    ],
    [
      'a JSON null body',
      CommentsApiRoutes.createComment,
      createComment('null'),
      400,
      'must be a JSON object',
    ],
    [
      'a body over the size limit',
      CommentsApiRoutes.createComment,
      createComment(json({ content: 'x'.repeat(MAX_JSON_BODY_BYTES) })),
      413,
      `exceeds ${MAX_JSON_BODY_BYTES} bytes`,
    ],
    // Wrong types
    [
      'title: []',
      CommentsApiRoutes.createPost,
      createPost(json({ title: [] })),
      400,
      '"title" must be a string',
    ],
    [
      'title: 123',
      CommentsApiRoutes.createPost,
      createPost(json({ title: 123 })),
      400,
      '"title" must be a string',
    ],
    [
      'title: {}',
      CommentsApiRoutes.createPost,
      createPost(json({ title: {} })),
      400,
      '"title" must be a string',
    ],
    [
      'title: null',
      CommentsApiRoutes.createPost,
      createPost(json({ title: null })),
      400,
      '"title" is required',
    ],
    [
      'body: true',
      CommentsApiRoutes.createPost,
      createPost(json({ title: 't', body: true })),
      400,
      '"body" must be a string',
    ],
    [
      'content: 123',
      CommentsApiRoutes.createComment,
      createComment(json({ content: 123 })),
      400,
      '"content" must be a string',
    ],
    [
      'content: false',
      CommentsApiRoutes.createComment,
      createComment(json({ content: false })),
      400,
      '"content" must be a string',
    ],
    [
      'content: ["x"]',
      CommentsApiRoutes.updateComment,
      updateComment(json({ content: ['x'] })),
      400,
      '"content" must be a string',
    ],
    [
      'content missing',
      CommentsApiRoutes.updateComment,
      updateComment(json({ text: 'x' })),
      400,
      '"content" is required',
    ],
    // Lengths
    [
      'a blank title',
      CommentsApiRoutes.createPost,
      createPost(json({ title: ' \n\t ' })),
      400,
      'title must not be empty',
    ],
    [
      'a title over 200 characters',
      CommentsApiRoutes.createPost,
      createPost(json({ title: 't'.repeat(201) })),
      400,
      'at most 200',
    ],
    [
      'a post body over 10000 characters',
      CommentsApiRoutes.createPost,
      createPost(json({ title: 't', body: 'b'.repeat(10_001) })),
      400,
      'at most 10000',
    ],
    [
      'content over 2000 characters',
      CommentsApiRoutes.createComment,
      createComment(json({ content: 'c'.repeat(2001) })),
      400,
      'at most 2000',
    ],
    [
      'blank content',
      CommentsApiRoutes.updateComment,
      updateComment(json({ content: '   ' })),
      400,
      'must not be empty',
    ],
    // Control characters and broken Unicode
    [
      'a NUL in the title',
      CommentsApiRoutes.createPost,
      createPost(json({ title: 'a\u0000b' })),
      400,
      'control characters',
    ],
    [
      'an ANSI escape in content',
      CommentsApiRoutes.createComment,
      createComment(json({ content: 'red \u001b[31m' })),
      400,
      'control characters',
    ],
    [
      'a DEL in content',
      CommentsApiRoutes.updateComment,
      updateComment(json({ content: 'a\u007fb' })),
      400,
      'control characters',
    ],
    [
      'a C1 control in the post body',
      CommentsApiRoutes.createPost,
      createPost(json({ title: 't', body: 'a\u0085b' })),
      400,
      'control characters',
    ],
    [
      'a lone surrogate in content',
      CommentsApiRoutes.createComment,
      createComment('{"content":"a\\ud800b"}'),
      400,
      'valid Unicode',
    ],
    [
      'a lone surrogate in the title',
      CommentsApiRoutes.createPost,
      createPost('{"title":"\\udc00"}'),
      400,
      'valid Unicode',
    ],
    // Ids of the fixed format
    [
      'a post id with a space',
      CommentsApiRoutes.createComment,
      createComment(json({ content: 'c' }), 'a b'),
      400,
      'postId must match',
    ],
    [
      'a post id with a path separator',
      CommentsApiRoutes.createComment,
      createComment(json({ content: 'c' }), '../P1'),
      400,
      'postId must match',
    ],
    [
      'a post id with a key delimiter',
      CommentsApiRoutes.updateComment,
      updateComment(json({ content: 'c' }), 'C1', 'P1#x'),
      400,
      'postId must match',
    ],
    [
      'a post id of 65 characters',
      CommentsApiRoutes.createComment,
      createComment(json({ content: 'c' }), 'p'.repeat(65)),
      400,
      'postId must match',
    ],
    [
      'a comment id with a NUL',
      CommentsApiRoutes.updateComment,
      updateComment(json({ content: 'c' }), 'C\u00001'),
      400,
      'commentId must match',
    ],
    [
      'a comment id of full-width letters',
      CommentsApiRoutes.deleteComment,
      { claims: asBob, pathParameters: { id: 'P1', commentId: 'Ｃ1' } },
      400,
      'commentId must match',
    ],
    [
      'an empty comment id',
      CommentsApiRoutes.deleteComment,
      { claims: asBob, pathParameters: { id: 'P1', commentId: '' } },
      400,
      'commentId must match',
    ],
    // Query strings
    [
      'limit=abc',
      CommentsApiRoutes.listComments,
      list({ limit: 'abc' }),
      400,
      'limit must be an integer from 1 to 100',
    ],
    ['limit=0', CommentsApiRoutes.listComments, list({ limit: '0' }), 400, 'limit must be an integer'],
    ['limit=101', CommentsApiRoutes.listComments, list({ limit: '101' }), 400, 'limit must be an integer'],
    ['limit=-1', CommentsApiRoutes.listComments, list({ limit: '-1' }), 400, 'limit must be an integer'],
    ['limit=1.5', CommentsApiRoutes.listComments, list({ limit: '1.5' }), 400, 'limit must be an integer'],
    ['limit=1e2', CommentsApiRoutes.listComments, list({ limit: '1e2' }), 400, 'limit must be an integer'],
    [
      'limit=99999999999',
      CommentsApiRoutes.listComments,
      list({ limit: '99999999999' }),
      400,
      'limit must be an integer',
    ],
    [
      'a cursor that is not ours',
      CommentsApiRoutes.listComments,
      list({ cursor: '!!!!' }),
      400,
      'Invalid pagination cursor',
    ],
    [
      'an oversize cursor',
      CommentsApiRoutes.listComments,
      list({ cursor: 'A'.repeat(10_000) }),
      400,
      'Invalid pagination cursor',
    ],
    [
      'a listing of a malformed post id',
      CommentsApiRoutes.listComments,
      list({}, 'x y'),
      400,
      'postId must match',
    ],
    // Idempotency keys: a key is stored for a day and ends up in a table key, so only safe tokens pass
    ...(
      [
        ['an Idempotency-Key of 7 characters', 'abc1234'],
        ['an Idempotency-Key of 129 characters', 'k'.repeat(129)],
        ['an empty Idempotency-Key', ''],
        ['an Idempotency-Key with a space', 'key with space'],
        ['an Idempotency-Key with a key delimiter', 'key#idem#alice'],
        ['an Idempotency-Key with a NUL', 'key\u0000000000'],
        ['an Idempotency-Key of non-ASCII letters', 'ключключключ'],
        ['an Idempotency-Key that is JSON', '{"key":"12345678"}'],
      ] as const
    ).flatMap(([name, key]): Case[] => [
      [
        `${name} on a comment`,
        CommentsApiRoutes.createComment,
        { ...createComment(json({ content: 'c' })), headers: { 'idempotency-key': key } },
        400,
        'Idempotency-Key must be',
      ],
      [
        `${name} on a post`,
        CommentsApiRoutes.createPost,
        { ...createPost(json({ title: 't' })), headers: { 'Idempotency-Key': key } },
        400,
        'Idempotency-Key must be',
      ],
    ]),
  ])('refuses %s with a clear 4xx and writes nothing', async (_name, route, request, status, detail) => {
    // Act
    const result = await comments(httpEvent(route, request));

    // Assess
    expect(result.statusCode).toBe(status);
    expect((jsonBody(result) as { detail: string }).detail).toContain(detail);
    expect(writesSent(ddb)).toEqual([]);
    expect(fetch).not.toHaveBeenCalled();
  });

  it.each([
    ['a lone continuation byte', [0x80]],
    ['a truncated two-byte sequence', [0x7b, 0x22, 0xc3]],
    ['an overlong encoding of "/"', [0xc0, 0xaf]],
    ['a byte that never occurs in UTF-8', [0xff, 0xfe]],
    ['an encoded lone surrogate', [0xed, 0xa0, 0x80]],
  ])(
    'refuses a base64-encoded body that is not valid UTF-8 (%s) with 400, rather than storing U+FFFD',
    async (_name, bytes) => {
      // Prepare: the invalid bytes inside an otherwise valid JSON string.
      const event = httpEvent(CommentsApiRoutes.createComment, createComment(''));
      event.body = Buffer.concat([
        Buffer.from('{"content":"a'),
        Buffer.from(bytes),
        Buffer.from('b"}'),
      ]).toString('base64');
      event.isBase64Encoded = true;

      // Act
      const result = await comments(event);

      // Assess
      expect(result.statusCode).toBe(400);
      expect(jsonBody(result)).toEqual({ detail: 'Request body is not valid UTF-8' });
      expect(writesSent(ddb)).toEqual([]);
      expect(fetch).not.toHaveBeenCalled();
    },
  );

  it('answers a base64-encoded body that is not JSON with 400', async () => {
    // Prepare
    const event = httpEvent(CommentsApiRoutes.createComment, createComment(''));
    event.body = Buffer.from('\u0000\u00ff not json').toString('base64');
    event.isBase64Encoded = true;

    // Act
    const result = await comments(event);

    // Assess
    expect(result.statusCode).toBe(400);
    expect(writesSent(ddb)).toEqual([]);
  });
});

describe('WebSocket messages', () => {
  function frame(body: string | undefined, isBase64Encoded = false): APIGatewayProxyWebsocketEventV2 {
    return {
      body,
      isBase64Encoded,
      requestContext: {
        routeKey: '$default',
        eventType: 'MESSAGE',
        messageId: 'm1',
        extendedRequestId: 'e1',
        requestTime: '26/Nov/2026:06:00:00 +0000',
        messageDirection: 'IN',
        stage: 'dev',
        connectedAt: 1_795_000_000_000,
        requestTimeEpoch: 1_795_000_001_000,
        requestId: 'r1',
        domainName: 'ws.example.test',
        connectionId: 'conn-1',
        apiId: 'api',
      },
    };
  }

  /** A ping padded to exactly `bytes` bytes: `{"action":"ping","pad":""}` itself is 26. */
  const frameOfBytes = (bytes: number): string => json({ action: 'ping', pad: 'x'.repeat(bytes - 26) });

  const deep = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it.each<[name: string, body: string | undefined, code: ErrorCode]>([
    ['no body', undefined, ErrorCodes.invalidMessage],
    ['an empty frame', '', ErrorCodes.invalidMessage],
    ['text that is not JSON', 'subscribe p1', ErrorCodes.invalidJson],
    ['JSON null', 'null', ErrorCodes.invalidMessage],
    ['a JSON array', '[{"action":"subscribe","postId":"p1"}]', ErrorCodes.invalidMessage],
    ['a deeply nested array', deep(1000), ErrorCodes.invalidMessage],
    ['action: 1', json({ action: 1 }), ErrorCodes.invalidMessage],
    ['action: null', json({ action: null }), ErrorCodes.invalidMessage],
    ['an unknown action', json({ action: 'subscribeAll' }), ErrorCodes.unknownAction],
    ['an action of 3 KB', json({ action: 'x'.repeat(3000) }), ErrorCodes.unknownAction],
    ['postId: 5', json({ action: 'subscribe', postId: 5 }), ErrorCodes.invalidPostId],
    ['postId: ["p1"]', json({ action: 'subscribe', postId: ['p1'] }), ErrorCodes.invalidPostId],
    ['postId: null', json({ action: 'unsubscribe', postId: null }), ErrorCodes.invalidPostId],
    ['a postId with a NUL', json({ action: 'subscribe', postId: 'p\u00001' }), ErrorCodes.invalidPostId],
    [
      'a postId with a key delimiter',
      json({ action: 'subscribe', postId: 'p1#sub' }),
      ErrorCodes.invalidPostId,
    ],
    [
      'a postId of 65 characters',
      json({ action: 'subscribe', postId: 'p'.repeat(65) }),
      ErrorCodes.invalidPostId,
    ],
    ['an empty postId', json({ action: 'unsubscribe', postId: '' }), ErrorCodes.invalidPostId],
    ['listComments without a postId', json({ action: 'listComments' }), ErrorCodes.invalidPostId],
    [
      'a cursor with characters no cursor has',
      json({ action: 'listComments', postId: 'p1', cursor: 'c1#sub' }),
      ErrorCodes.invalidCursor,
    ],
    [
      'a cursor of 129 characters',
      json({ action: 'listComments', postId: 'p1', cursor: 'A'.repeat(129) }),
      ErrorCodes.invalidCursor,
    ],
    ['an empty cursor', json({ action: 'listComments', postId: 'p1', cursor: '' }), ErrorCodes.invalidCursor],
    ['cursor: 5', json({ action: 'listComments', postId: 'p1', cursor: 5 }), ErrorCodes.invalidCursor],
    ['cursor: null', json({ action: 'listComments', postId: 'p1', cursor: null }), ErrorCodes.invalidCursor],
    [
      'cursor: {}',
      json({ action: 'listComments', postId: 'p1', cursor: { pk: 'post#p2' } }),
      ErrorCodes.invalidCursor,
    ],
    [
      'a frame one byte over the limit',
      frameOfBytes(MAX_CLIENT_MESSAGE_BYTES + 1),
      ErrorCodes.messageTooLarge,
    ],
    [
      'an oversize frame of multi-byte characters',
      json({ action: 'subscribe', postId: 'p1', pad: 'é'.repeat(MAX_CLIENT_MESSAGE_BYTES / 2) }),
      ErrorCodes.messageTooLarge,
    ],
    ['an oversize frame of API Gateway’s own 32 KB', 'x'.repeat(32 * 1024), ErrorCodes.messageTooLarge],
  ])('answers %s with an error event, touching no table', async (_name, body, code) => {
    // Act
    const response = await messages(frame(body));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb.calls()).toHaveLength(0);
    expect(writesSent(ddb)).toEqual([]);
    const replies = api
      .commandCalls(PostToConnectionCommand)
      .map(({ args: [command] }) =>
        JSON.parse(Buffer.from(command.input.Data as Uint8Array).toString('utf8')),
      );
    // Refusals of a cursor or lastSeq that came with a valid post name that post; nothing else does.
    const named = code === ErrorCodes.invalidCursor || code === ErrorCodes.invalidLastSeq;
    expect(replies).toEqual([
      { type: 'error', data: { code, message: expect.any(String), ...(named ? { postId: 'p1' } : {}) } },
    ]);
  });

  it.each([
    ['a key of another partition', Buffer.from('x#y', 'utf8').toString('base64url')],
    ['bytes that are no id', Buffer.from([0xff, 0x00, 0x2f]).toString('base64url')],
    ['an id of 65 characters', Buffer.from('c'.repeat(65), 'utf8').toString('base64url')],
  ])(
    'answers a listComments cursor the server never sent (%s) with INVALID_CURSOR, reading no comment',
    async (_name, cursor) => {
      // Act
      await messages(frame(json({ action: 'listComments', postId: 'P1', cursor })));

      // Assess
      expect(writesSent(ddb)).toEqual([]);
      expect(ddb).not.toHaveReceivedCommand(QueryCommand);
      const replies = api
        .commandCalls(PostToConnectionCommand)
        .map(({ args: [command] }) =>
          JSON.parse(Buffer.from(command.input.Data as Uint8Array).toString('utf8')),
        );
      expect(replies).toEqual([
        {
          type: 'error',
          data: { code: ErrorCodes.invalidCursor, message: expect.any(String), postId: 'P1' },
        },
      ]);
    },
  );

  it('checks the size of a binary (base64) frame after decoding it', async () => {
    // Prepare
    const body = Buffer.from(json({ action: 'ping', pad: 'x'.repeat(MAX_CLIENT_MESSAGE_BYTES) })).toString(
      'base64',
    );

    // Act
    await messages(frame(body, true));

    // Assess
    expect(writesSent(ddb)).toEqual([]);
    const [reply] = api.commandCalls(PostToConnectionCommand);
    expect(Buffer.from(reply?.args[0].input.Data as Uint8Array).toString('utf8')).toContain(
      'MESSAGE_TOO_LARGE',
    );
  });

  it('accepts a frame of exactly the limit, so the limit is where it says', async () => {
    // Prepare
    const body = frameOfBytes(MAX_CLIENT_MESSAGE_BYTES);

    // Act
    await messages(frame(body));

    // Assess
    expect(Buffer.byteLength(body)).toBe(MAX_CLIENT_MESSAGE_BYTES);
    expect(writesSent(ddb)).toEqual([]);
    const [reply] = api.commandCalls(PostToConnectionCommand);
    // A pong, with the seqs of the posts the connection follows (none here).
    expect(Buffer.from(reply?.args[0].input.Data as Uint8Array).toString('utf8')).toBe(
      '{"type":"pong","data":{"seqs":{}}}',
    );
  });
});

describe('broadcast API', () => {
  const post = (body: string | undefined, headers: Record<string, string> = {}) =>
    broadcast({
      version: '2.0',
      routeKey: 'POST /broadcast/comments',
      rawPath: '/broadcast/comments',
      rawQueryString: '',
      headers: { 'content-type': 'application/json', ...headers },
      isBase64Encoded: false,
      body,
      requestContext: {
        accountId: '123456789012',
        apiId: 'api',
        domainName: 'b.example.test',
        domainPrefix: 'b',
        http: {
          method: 'POST',
          path: '/broadcast/comments',
          protocol: 'HTTP/1.1',
          sourceIp: '192.0.2.1',
          userAgent: 'jest',
        },
        requestId: 'r1',
        routeKey: 'POST /broadcast/comments',
        stage: 'dev',
        time: '26/Nov/2026:06:00:00 +0000',
        timeEpoch: 1_795_000_000_000,
      },
    });

  it.each<[name: string, body: string | undefined, status: number]>([
    ['no body', undefined, 400],
    ['an empty body', '', 400],
    ['a body that is not JSON', '{"type":', 400],
    ['a JSON array', '[]', 400],
    ['no type', json({ data: { postId: 'p1' } }), 400],
    ['type: 123', json({ type: 123 }), 400],
    ['a type in capitals', json({ type: 'Comment.Created' }), 400],
    ['a type with a control character', json({ type: 'comment\u0000created' }), 400],
    ['a type of 65 characters', json({ type: `c${'x'.repeat(64)}` }), 400],
    ['data: []', json({ type: 'comment.created', data: [] }), 400],
    ['data: "x"', json({ type: 'comment.created', data: 'x' }), 400],
    ['data.postId: 5', json({ type: 'comment.created', data: { postId: 5 } }), 400],
    ['a data.postId with a key delimiter', json({ type: 'comment.created', data: { postId: 'p#1' } }), 400],
    ['an eventId with a key delimiter', json({ type: 'comment.created', eventId: 'e#1', seq: 1 }), 400],
    ['an eventId: 7', json({ type: 'comment.created', eventId: 7, seq: 1 }), 400],
    ['seq: 0', json({ type: 'comment.created', data: { postId: 'p1' }, eventId: 'e1', seq: 0 }), 400],
    ['seq: 1.5', json({ type: 'comment.created', data: { postId: 'p1' }, eventId: 'e1', seq: 1.5 }), 400],
    ['seq: "7"', json({ type: 'comment.created', data: { postId: 'p1' }, eventId: 'e1', seq: '7' }), 400],
    [
      'a seq beyond 2^53',
      '{"type":"comment.created","data":{"postId":"p1"},"eventId":"e1","seq":9007199254740993}',
      400,
    ],
    [
      'a body over 128 KB',
      json({ type: 'comment.created', data: { postId: 'p1', pad: 'x'.repeat(MAX_BROADCAST_BYTES) } }),
      413,
    ],
  ])('answers %s with a %i and pushes, writes and queues nothing', async (_name, body, status) => {
    // Act
    const responses = [await post(body), await post(body, { prefer: 'respond-async' })];

    // Assess
    for (const response of responses as { statusCode?: number; body?: string }[]) {
      expect(response.statusCode).toBe(status);
      expect(typeof (JSON.parse(String(response.body)) as { detail: unknown }).detail).toBe('string');
    }
    expect(ddb.calls()).toHaveLength(0);
    expect(writesSent(ddb)).toEqual([]);
    expect(api.calls()).toHaveLength(0);
    expect(lambda.calls()).toHaveLength(0);
  });

  it.each<[name: string, event: unknown]>([
    ['without a jobId', { kind: 'publish', envelope: { type: 'comment.created' } }],
    ['with an envelope of the wrong shape', { kind: 'publish', jobId: 'j1', envelope: [] }],
    ['with a type in capitals', { kind: 'publish', jobId: 'j1', envelope: { type: 'X' } }],
    [
      'with a data.postId with a key delimiter',
      { kind: 'publish', jobId: 'j1', envelope: { type: 'comment.created', data: { postId: 'p#1' } } },
    ],
  ])('refuses a publish job %s, touching nothing', async (_name, event) => {
    // Act
    const run = broadcast(event);

    // Assess
    await expect(run).rejects.toThrow('Not a publish job');
    expect(ddb.calls()).toHaveLength(0);
    expect(api.calls()).toHaveLength(0);
    expect(lambda.calls()).toHaveLength(0);
  });
});

describe('WebSocket authorizer', () => {
  it.each<[name: string, token: string]>([
    ['garbage', 'not-a-token'],
    ['three empty parts', '..'],
    ['a token of control characters', '\u0000\u001b.\u0000.\u0000'],
    ['a header that is not base64url JSON', '%%%.e30.sig'],
    ['a token over the size limit', `${'a'.repeat(MAX_TOKEN_LENGTH)}.b.c`],
    ['JSON instead of a JWT', '{"sub":"admin"}'],
  ])('refuses %s with "Unauthorized" before any key is fetched', async (_name, token) => {
    // Act
    const authorize = authorizer(connectAuthorizerEvent({ token }));

    // Assess
    await expect(authorize).rejects.toThrow(/^Unauthorized$/);
  });
});
