import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CommentsApiRoutes } from '../../../contracts/comments-api-routes';
import type { WebSocketLifecycleEvent } from '../../../lambda/websocket-connection/handler';
import { httpEvent, jsonBody, tokenClaims, type RequestOptions } from '../comments-api/fixtures';
import { connectAuthorizerEvent, METHOD_ARN } from '../fixtures/authorizer-event';
import { STAGE_SETTINGS_ENV } from '../fixtures/stage-settings-env';
import { writesSent } from '../fixtures/dynamo-writes';
import { startTokenIssuer, type TestTokenIssuer } from '../fixtures/token-issuer';

/**
 * Who may do what, end to end through the deployed handlers: the comments API trusts only the claims its
 * JWT authorizer verified, and the WebSocket authorizer verifies tokens against a real JWKS served over
 * HTTP (createRemoteJWKSet, no injected keys).
 */

type CommentsModule = typeof import('../../../lambda/comments-api/handler');
type AuthorizerModule = typeof import('../../../lambda/websocket-authorizer/handler');
type ConnectionModule = typeof import('../../../lambda/websocket-connection/handler');

const ddb = mockClient(DynamoDBDocumentClient);
const POST_ID = 'P1';
const postItem = {
  pk: `post#${POST_ID}`,
  sk: 'post',
  id: POST_ID,
  title: 'T',
  body: '',
  userId: 'alice',
  createdAt: '2027-01-01T00:00:00.000Z',
};
const aliceComment = {
  pk: `post#${POST_ID}`,
  sk: 'comment#C1',
  id: 'C1',
  postId: POST_ID,
  userId: 'alice',
  content: 'mine',
  createdAt: '2027-01-01T00:00:00.000Z',
};

let issuer: TestTokenIssuer;
let comments: CommentsModule['handler'];
let authorizer: AuthorizerModule['handler'];
let connection: ConnectionModule['handler'];

function loadAuthorizer(allowAnonymous: 'true' | 'false'): AuthorizerModule['handler'] {
  process.env.ALLOW_ANONYMOUS_SUBSCRIBERS = allowAnonymous;
  let loaded: AuthorizerModule['handler'] | undefined;
  jest.isolateModules(() => {
    loaded = jest.requireActual<AuthorizerModule>('../../../lambda/websocket-authorizer/handler').handler;
  });
  if (!loaded) throw new Error('authorizer did not load');
  return loaded;
}

beforeAll(async () => {
  issuer = await startTokenIssuer();
  Object.assign(process.env, STAGE_SETTINGS_ENV, {
    COMMENTS_TABLE_NAME: 'comments-test',
    CONNECTIONS_TABLE_NAME: 'connections-test',
    BROADCAST_URL: 'https://broadcast.example.test/dev',
    BROADCAST_TIMEOUT_MS: '100',
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    AUTH_JWKS_URL: issuer.jwksUrl,
  });
  comments = jest.requireActual<CommentsModule>('../../../lambda/comments-api/handler').handler;
  connection = jest.requireActual<ConnectionModule>('../../../lambda/websocket-connection/handler').handler;
  authorizer = loadAuthorizer('false');
});

afterAll(async () => {
  await issuer.close();
});

beforeEach(() => {
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(GetCommand, { Key: { pk: `post#${POST_ID}`, sk: 'post' } }).resolves({ Item: postItem });
  ddb.on(GetCommand, { Key: { pk: `post#${POST_ID}`, sk: 'seq' } }).resolves({ Item: { lastSeq: 0 } });
  ddb.on(GetCommand, { Key: { pk: `post#${POST_ID}`, sk: 'comment#C1' } }).resolves({ Item: aliceComment });
  ddb.on(QueryCommand).resolves({ Items: [] });
  ddb.on(PutCommand).resolves({});
  ddb.on(TransactWriteCommand).resolves({});
  jest.spyOn(globalThis, 'fetch').mockImplementation(async () => new Response('{}', { status: 200 }));
});

afterEach(() => {
  jest.restoreAllMocks();
});

const call = (routeKey: string, options: RequestOptions): ReturnType<typeof comments> =>
  comments(httpEvent(routeKey, options));

const onPost = { id: POST_ID };
const onComment = { id: POST_ID, commentId: 'C1' };

/** The same body with a `userId` field added, as a client trying to name the actor would send it. */
const withBodyUserId = (body: string | undefined, userId: string): string | undefined =>
  body === undefined ? undefined : JSON.stringify({ ...(JSON.parse(body) as object), userId });

describe('comments API: the actor is the verified token’s sub, and only that', () => {
  it.each<[string, string, RequestOptions]>([
    ['create a post', CommentsApiRoutes.createPost, { body: '{"title":"t"}' }],
    ['comment', CommentsApiRoutes.createComment, { pathParameters: onPost, body: '{"content":"c"}' }],
    [
      'edit a comment',
      CommentsApiRoutes.updateComment,
      { pathParameters: onComment, body: '{"content":"c"}' },
    ],
    ['delete a comment', CommentsApiRoutes.deleteComment, { pathParameters: onComment }],
  ])(
    'answers 401 to a request to %s without verified claims, writing nothing',
    async (_action, route, options) => {
      // Act
      const results = [
        await call(route, options),
        await call(route, { ...options, headers: { 'x-user-id': 'alice' } }),
        await call(route, { ...options, body: withBodyUserId(options.body, 'alice') }),
      ];

      // Assess
      for (const result of results) {
        expect(result.statusCode).toBe(401);
        expect(jsonBody(result)).toEqual({ detail: 'A valid bearer token is required' });
      }
      expect(writesSent(ddb)).toEqual([]);
      expect(fetch).not.toHaveBeenCalled();
    },
  );

  it('stores a comment as the token’s sub, whatever userId the body or x-user-id header names', async () => {
    // Act
    const result = await call(CommentsApiRoutes.createComment, {
      pathParameters: onPost,
      claims: tokenClaims('bob'),
      headers: { 'x-user-id': 'alice' },
      body: JSON.stringify({ content: 'Hi', userId: 'alice' }),
    });

    // Assess
    expect(result.statusCode).toBe(201);
    expect(jsonBody(result)).toMatchObject({ userId: 'bob' });
    const put = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[1]?.Put?.Item;
    expect(put).toMatchObject({ userId: 'bob', content: 'Hi' });
  });

  it('stores a post as the token’s sub, whatever userId the body names', async () => {
    // Act
    const result = await call(CommentsApiRoutes.createPost, {
      claims: tokenClaims('bob'),
      body: JSON.stringify({ title: 'Mine', userId: 'alice' }),
    });

    // Assess
    expect(result.statusCode).toBe(201);
    expect(jsonBody(result)).toMatchObject({ userId: 'bob' });
    const put = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Put?.Item;
    expect(put).toMatchObject({ sk: 'post', userId: 'bob', title: 'Mine' });
  });

  it('files an Idempotency-Key under the token’s sub, so no one can replay another user’s answer', async () => {
    // Act
    const result = await call(CommentsApiRoutes.createComment, {
      pathParameters: onPost,
      claims: tokenClaims('bob'),
      headers: { 'x-user-id': 'alice', 'idempotency-key': 'shared-key-123' },
      body: JSON.stringify({ content: 'Hi', userId: 'alice' }),
    });

    // Assess
    expect(result.statusCode).toBe(201);
    const record = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[3]?.Put?.Item;
    expect(record).toMatchObject({ pk: 'idem#bob#shared-key-123', sk: 'write' });
  });

  it.each<[string, string, RequestOptions]>([
    ['edit', CommentsApiRoutes.updateComment, { pathParameters: onComment, body: '{"content":"hijacked"}' }],
    ['delete', CommentsApiRoutes.deleteComment, { pathParameters: onComment }],
  ])(
    'answers 403 when another user tries to %s a comment, writing nothing',
    async (_action, route, options) => {
      // Act
      const result = await call(route, {
        ...options,
        claims: tokenClaims('mallory'),
        // Naming the author anywhere but in the verified token changes nothing.
        headers: { 'x-user-id': 'alice' },
        body: withBodyUserId(options.body, 'alice'),
      });

      // Assess
      expect(result.statusCode).toBe(403);
      expect(jsonBody(result)).toEqual({ detail: 'Only the author may change this comment' });
      expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
      expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
      expect(writesSent(ddb)).toEqual([]);
      expect(fetch).not.toHaveBeenCalled();
    },
  );

  it('lets the author, by token, delete their own comment, on condition that it is still theirs', async () => {
    // Act
    const result = await call(CommentsApiRoutes.deleteComment, {
      pathParameters: onComment,
      claims: tokenClaims('alice'),
    });

    // Assess
    expect(result.statusCode).toBe(204);
    // One transaction: the post's seq, the delete and its event.
    expect(writesSent(ddb)).toEqual(['TransactWriteCommand']);
    const removal = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[1]?.Delete;
    expect(removal).toMatchObject({
      ConditionExpression: 'attribute_exists(#pk) AND userId = :userId',
      ExpressionAttributeValues: { ':userId': 'alice' },
    });
  });

  it.each<[string, string, RequestOptions]>([
    ['a post', CommentsApiRoutes.getPost, { pathParameters: onPost }],
    ['its comments', CommentsApiRoutes.listComments, { pathParameters: onPost }],
  ])('serves reads of %s without a token', async (_what, route, options) => {
    // Act
    const result = await call(route, options);

    // Assess
    expect(result.statusCode).toBe(200);
  });
});

describe('WebSocket $connect authorizer, against a JWKS served over HTTP', () => {
  const now = (): number => Math.floor(Date.now() / 1000);

  it('allows a valid token: Allow on the method ARN, principal and context userId = sub', async () => {
    // Prepare
    const token = await issuer.mint({ claims: { sub: 'user-42' } });

    // Act
    const result = await authorizer(connectAuthorizerEvent({ token }));

    // Assess
    expect(result).toEqual({
      principalId: 'user-42',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }],
      },
      context: { userId: 'user-42', anonymous: 'false' },
    });
  });

  it('allows a Cognito-style access token whose client_id is the audience', async () => {
    // Prepare
    const token = await issuer.mint({
      claims: { aud: undefined, client_id: issuer.audience, sub: 'user-43' },
    });

    // Act
    const result = await authorizer(connectAuthorizerEvent({ token }));

    // Assess
    expect(result.principalId).toBe('user-43');
  });

  it.each<[string, () => Promise<Record<string, string> | null>]>([
    ['no query string at all', async () => null],
    ['no token parameter', async () => ({ other: 'x' })],
    ['an empty token', async () => ({ token: '' })],
    ['a forged signature', async () => ({ token: await issuer.mint({ forged: true }) })],
    ['a wrong issuer', async () => ({ token: await issuer.mint({ iss: 'https://evil.example.test' }) })],
    ['a wrong audience', async () => ({ token: await issuer.mint({ claims: { aud: 'someone-else' } }) })],
    ['an expired token', async () => ({ token: await issuer.mint({ exp: now() - 1 }) })],
  ])('throws "Unauthorized" (API Gateway: 401) for %s', async (_case, query) => {
    // Act
    const authorize = authorizer(connectAuthorizerEvent(await query()));

    // Assess
    await expect(authorize).rejects.toThrow(/^Unauthorized$/);
  });

  describe('with ALLOW_ANONYMOUS_SUBSCRIBERS=true', () => {
    let anonymousAllowed: AuthorizerModule['handler'];

    beforeAll(() => {
      anonymousAllowed = loadAuthorizer('true');
    });

    it('allows a connection without a token as principal "anonymous", without a userId', async () => {
      // Act
      const result = await anonymousAllowed(connectAuthorizerEvent(null));

      // Assess
      expect(result.principalId).toBe('anonymous');
      expect(result.context).toEqual({ anonymous: 'true' });
      expect(result.policyDocument.Statement).toEqual([
        { Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN },
      ]);
    });

    it('still refuses a token that does not verify, rather than downgrading it to anonymous', async () => {
      // Act
      const authorize = anonymousAllowed(
        connectAuthorizerEvent({ token: await issuer.mint({ forged: true }) }),
      );

      // Assess
      await expect(authorize).rejects.toThrow(/^Unauthorized$/);
    });

    it('still identifies a connection that does bring a valid token', async () => {
      // Act
      const result = await anonymousAllowed(
        connectAuthorizerEvent({ token: await issuer.mint({ claims: { sub: 'user-44' } }) }),
      );

      // Assess
      expect(result.context).toEqual({ userId: 'user-44', anonymous: 'false' });
    });
  });

  it('hands the verified user to $connect, which stores it on the connection row', async () => {
    // Prepare
    const token = await issuer.mint({ claims: { sub: 'user-45' } });
    const result = await authorizer(connectAuthorizerEvent({ token }));
    const connectEvent = {
      isBase64Encoded: false,
      requestContext: {
        routeKey: '$connect',
        eventType: 'CONNECT',
        connectionId: 'conn-1',
        connectedAt: 1_795_000_000_000,
        // What API Gateway passes on: the authorizer's context plus its principalId.
        authorizer: { ...result.context, principalId: result.principalId },
      },
    } as unknown as WebSocketLifecycleEvent;

    // Act
    const response = await connection(connectEvent);

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    const row = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Put;
    expect(row).toMatchObject({
      TableName: 'connections-test',
      Item: { pk: 'conn#conn-1', sk: 'connection', connectionId: 'conn-1', userId: 'user-45' },
    });
  });
});
