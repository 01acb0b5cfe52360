import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyWebsocketEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ErrorCodes,
  MAX_CLIENT_MESSAGE_BYTES,
  parseClientMessage,
  type ErrorCode,
} from '../../../contracts/protocol';
import { encodeCursor } from '../../../lambda/shared/comment-cursor';
import { logger, metrics } from '../../../lambda/shared/telemetry';

type HandlerModule = typeof import('../../../lambda/websocket-messages/handler');

const CONNECTIONS_TABLE = 'connections-test';
const COMMENTS_TABLE = 'comments-test';
const TTL_SECONDS = 8100;
const CONNECTED_AT = 1_795_000_000_456;
const DYNAMO_COMMANDS = {
  Get: GetCommand,
  BatchGet: BatchGetCommand,
  Query: QueryCommand,
  Put: PutCommand,
  Delete: DeleteCommand,
  Update: UpdateCommand,
  BatchWrite: BatchWriteCommand,
  TransactWrite: TransactWriteCommand,
};
const READS = ['Get', 'BatchGet', 'Query'];
const MAX_SUBSCRIPTIONS = 5;

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
let handler: HandlerModule['handler'];

beforeAll(() => {
  // The module wires its adapters from the environment at import, as at a Lambda cold start.
  process.env.CONNECTIONS_TABLE_NAME = CONNECTIONS_TABLE;
  process.env.COMMENTS_TABLE_NAME = COMMENTS_TABLE;
  process.env.CONNECTION_TTL_SECONDS = String(TTL_SECONDS);
  process.env.WEBSOCKET_MANAGEMENT_ENDPOINT = 'https://api.execute-api.us-east-1.amazonaws.com/dev';
  process.env.MAX_SUBSCRIPTIONS_PER_CONNECTION = String(MAX_SUBSCRIPTIONS);
  ({ handler } = jest.requireActual<HandlerModule>('../../../lambda/websocket-messages/handler'));
});

beforeEach(() => {
  ddb.reset();
  api.reset();
  api.on(PostToConnectionCommand).resolves({});
  jest.restoreAllMocks();
});

function messageEvent(
  routeKey: string,
  body: string | undefined,
  isBase64Encoded = false,
): APIGatewayProxyWebsocketEventV2 {
  return {
    body,
    isBase64Encoded,
    requestContext: {
      routeKey,
      eventType: 'MESSAGE',
      messageId: 'msg-1',
      extendedRequestId: 'ext-1',
      requestTime: '26/Nov/2026:06:00:00 +0000',
      messageDirection: 'IN',
      stage: 'dev',
      connectedAt: CONNECTED_AT,
      requestTimeEpoch: CONNECTED_AT + 5_000,
      requestId: 'req-1',
      domainName: 'ws.example.com',
      connectionId: 'conn-1',
      apiId: 'api',
    },
  };
}

/** What the handler pushed, in order: the target connection and the decoded event. */
function pushed(): { connectionId: string | undefined; event: unknown }[] {
  return api.commandCalls(PostToConnectionCommand).map((call) => {
    const { ConnectionId, Data } = call.args[0].input;
    return {
      connectionId: ConnectionId,
      event: JSON.parse(Buffer.from(Data as Uint8Array).toString('utf8')),
    };
  });
}

/** The DynamoDB commands sent, in order, by name. */
function sentCommands(): string[] {
  return ddb
    .calls()
    .map(
      ({ args: [command] }) =>
        Object.entries(DYNAMO_COMMANDS).find(([, type]) => command instanceof type)?.[0] ?? 'Other',
    );
}

function expectNoWrites(): void {
  expect(sentCommands().filter((name) => !READS.includes(name))).toEqual([]);
}

const post = {
  pk: 'post#p1',
  sk: 'post',
  id: 'p1',
  title: 'Hello',
  body: '',
  userId: 'u1',
  createdAt: '2026-11-26T06:00:00Z',
};
const comment = (id: string): Record<string, string> => ({
  pk: 'post#p1',
  sk: `comment#${id}`,
  id,
  postId: 'p1',
  userId: 'u2',
  content: `comment ${id}`,
  createdAt: '2026-11-26T06:01:00Z',
});
/** A comment as clients receive it: without the table's keys. */
const wire = (id: string): Record<string, string> => {
  const { pk: _pk, sk: _sk, ...rest } = comment(id);
  return rest;
};

const POST_KEY = { pk: 'post#p1', sk: 'post' };
const COUNTER_KEY = { pk: 'post#p1', sk: 'seq' };

/** Post p1 exists, its counter stands at `lastSeq`, and the connections table takes the subscription. */
function postExists(lastSeq: number): void {
  ddb.on(GetCommand, { TableName: COMMENTS_TABLE, Key: POST_KEY }).resolves({ Item: post });
  ddb.on(GetCommand, { TableName: COMMENTS_TABLE, Key: COUNTER_KEY }).resolves({ Item: { lastSeq } });
  ddb.on(TransactWriteCommand).resolves({});
}

/** The subscribe transaction cancelled, with DynamoDB's reasons for its three items. */
const subscribeCancelled = (...codes: [string, string, string]): TransactionCanceledException =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

describe('subscribe', () => {
  it('stores the subscription, then sends subscribed and the comments snapshot to that connection only', async () => {
    // Prepare
    postExists(3);
    ddb.on(QueryCommand, { TableName: COMMENTS_TABLE }).resolves({ Items: [comment('c1'), comment('c2')] });
    const expiresAt = Math.floor(CONNECTED_AT / 1000) + TTL_SECONDS;

    // Act
    const response = await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"p1"}'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    // The limit, the subscription and the post's subscriber row, in one transaction.
    expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [
        {
          Update: expect.objectContaining({
            TableName: CONNECTIONS_TABLE,
            Key: { pk: 'conn#conn-1', sk: 'connection' },
            ConditionExpression: 'attribute_exists(#pk) AND #count < :max',
            ExpressionAttributeValues: { ':one': 1, ':max': MAX_SUBSCRIPTIONS },
          }),
        },
        {
          Put: expect.objectContaining({
            TableName: CONNECTIONS_TABLE,
            Item: { pk: 'conn#conn-1', sk: 'sub#p1', postId: 'p1', expiresAt },
          }),
        },
        { Put: { TableName: CONNECTIONS_TABLE, Item: { pk: 'subscribers#p1', sk: 'conn-1', expiresAt } } },
      ],
    });
    // The seq is read consistently after the subscription is stored and before the page, which is
    // read consistently too.
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, GetCommand, {
      TableName: COMMENTS_TABLE,
      Key: COUNTER_KEY,
      ConsistentRead: true,
    });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: COMMENTS_TABLE,
      ExpressionAttributeValues: { ':pk': 'post#p1', ':prefix': 'comment#' },
      ScanIndexForward: true,
      Limit: 100,
      ConsistentRead: true,
    });
    // Post, subscription, seq, page, seq again (unchanged: the snapshot is exact).
    expect(sentCommands()).toEqual(['Get', 'TransactWrite', 'Get', 'Query', 'Get']);
    expect(pushed()).toEqual([
      { connectionId: 'conn-1', event: { type: 'subscribed', data: { postId: 'p1' } } },
      {
        connectionId: 'conn-1',
        event: {
          type: 'comments.list',
          data: { postId: 'p1', count: 2, comments: [wire('c1'), wire('c2')], seq: 3 },
        },
      },
    ]);
  });

  it('sends the first page with hasMore and a cursor when the post has more comments', async () => {
    // Prepare
    postExists(3);
    ddb.on(QueryCommand, { TableName: COMMENTS_TABLE }).resolves({
      Items: [comment('c1'), comment('c2')],
      LastEvaluatedKey: { pk: 'post#p1', sk: 'comment#c2' },
    });

    // Act
    await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"p1"}'));

    // Assess
    expect(pushed()[1]?.event).toEqual({
      type: 'comments.list',
      data: {
        postId: 'p1',
        count: 2,
        comments: [wire('c1'), wire('c2')],
        seq: 3,
        hasMore: true,
        cursor: encodeCursor('c2'),
      },
    });
  });

  it('replays the events after lastSeq, exactly as stored, to that connection only', async () => {
    // Prepare
    const eventItem = (seq: number): Record<string, unknown> => ({
      pk: 'post#p1',
      sk: `event#${String(seq).padStart(12, '0')}`,
      seq,
      eventId: `E${seq}`,
      type: 'comment.updated',
      data: { postId: 'p1', commentId: 'c1', action: seq === 3 ? 'deleted' : 'updated' },
      createdAt: '2026-11-26T06:02:00Z',
      expiresAt: 4_000_000_000,
    });
    postExists(3);
    ddb.on(QueryCommand, { TableName: COMMENTS_TABLE }).resolves({ Items: [eventItem(2), eventItem(3)] });

    // Act
    await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"p1","lastSeq":1}'));

    // Assess
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: COMMENTS_TABLE,
      ExpressionAttributeValues: {
        ':pk': 'post#p1',
        ':from': 'event#000000000002',
        ':through': 'event#000000000003',
      },
      ConsistentRead: true,
    });
    const frames = api
      .commandCalls(PostToConnectionCommand)
      .map((call) => Buffer.from(call.args[0].input.Data as Uint8Array).toString('utf8'));
    expect(frames).toEqual([
      '{"type":"subscribed","data":{"postId":"p1"}}',
      '{"type":"comment.updated","data":{"postId":"p1","commentId":"c1","action":"updated"},"eventId":"E2","seq":2}',
      '{"type":"comment.updated","data":{"postId":"p1","commentId":"c1","action":"deleted"},"eventId":"E3","seq":3}',
    ]);
    expect(pushed().every(({ connectionId }) => connectionId === 'conn-1')).toBe(true);
  });

  it('answers POST_NOT_FOUND, naming the post, for a post that does not exist and writes nothing', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});

    // Act
    const response = await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"nope"}'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expectNoWrites();
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    expect(pushed()).toEqual([
      {
        connectionId: 'conn-1',
        event: {
          type: 'error',
          data: { code: 'POST_NOT_FOUND', message: expect.any(String), postId: 'nope' },
        },
      },
    ]);
  });

  it('skips the snapshot when the client left before the subscribed reply', async () => {
    // Prepare
    postExists(0);
    api.on(PostToConnectionCommand).rejects(new GoneException({ message: 'gone', $metadata: {} }));

    // Act
    const response = await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"p1"}'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).not.toHaveReceivedCommandWith(QueryCommand, { TableName: COMMENTS_TABLE });
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 1);
  });

  it('refuses a subscribe beyond MAX_SUBSCRIPTIONS_PER_CONNECTION with TOO_MANY_SUBSCRIPTIONS, storing nothing', async () => {
    // Prepare: the count condition fails inside the transaction, so nothing of it is written.
    postExists(0);
    ddb.on(TransactWriteCommand).rejects(subscribeCancelled('ConditionalCheckFailed', 'None', 'None'));
    ddb.on(GetCommand, { TableName: CONNECTIONS_TABLE }).resolves({ Item: { pk: 'conn#conn-1' } });

    // Act
    const response = await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"p1"}'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    // The cancelled transaction is the only write sent.
    expect(sentCommands().filter((name) => !READS.includes(name))).toEqual(['TransactWrite']);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: CONNECTIONS_TABLE,
      Key: { pk: 'conn#conn-1', sk: 'connection' },
      ConsistentRead: true,
    });
    expect(pushed()).toEqual([
      {
        connectionId: 'conn-1',
        event: {
          type: 'error',
          data: {
            code: 'TOO_MANY_SUBSCRIPTIONS',
            message: expect.stringContaining(`${MAX_SUBSCRIPTIONS}`),
            postId: 'p1',
          },
        },
      },
    ]);
  });

  it('re-subscribes at the limit to a post the connection already follows', async () => {
    // Prepare
    postExists(0);
    ddb
      .on(TransactWriteCommand)
      .rejects(subscribeCancelled('ConditionalCheckFailed', 'ConditionalCheckFailed', 'None'));
    ddb.on(PutCommand).resolves({});
    ddb.on(QueryCommand, { TableName: COMMENTS_TABLE }).resolves({ Items: [] });

    // Act
    await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"p1"}'));

    // Assess
    // The post's subscriber row is rewritten, in case an earlier unsubscribe left it out.
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: CONNECTIONS_TABLE,
      Item: expect.objectContaining({ pk: 'subscribers#p1', sk: 'conn-1' }),
    });
    expect(pushed().map(({ event }) => (event as { type: string }).type)).toEqual([
      'subscribed',
      'comments.list',
    ]);
  });

  it('answers nothing when the connection was removed while it subscribed', async () => {
    // Prepare
    postExists(0);
    ddb.on(TransactWriteCommand).rejects(subscribeCancelled('ConditionalCheckFailed', 'None', 'None'));
    ddb.on(GetCommand, { TableName: CONNECTIONS_TABLE }).resolves({});

    // Act
    const response = await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"p1"}'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(pushed()).toEqual([]);
  });

  it('reports an internal error in-band, answers 200, and logs and counts the failure', async () => {
    // Prepare
    postExists(0);
    ddb.on(TransactWriteCommand).rejects(new Error('throttled'));
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await handler(messageEvent('subscribe', '{"action":"subscribe","postId":"p1"}'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(pushed()).toEqual([
      {
        connectionId: 'conn-1',
        event: { type: 'error', data: { code: 'INTERNAL_ERROR', message: 'Internal error', postId: 'p1' } },
      },
    ]);
    expect(logError).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ connectionId: 'conn-1' }),
    );
    expect(addMetric).toHaveBeenCalledWith('ClientMessageFailures', 'Count', 1);
  });

  it('reads base64-encoded frames', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});
    const body = Buffer.from('{"action":"subscribe","postId":"p9"}').toString('base64');

    // Act
    await handler(messageEvent('subscribe', body, true));

    // Assess
    expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: { pk: 'post#p9', sk: 'post' } });
  });
});

describe('unsubscribe', () => {
  it('deletes the subscription and its subscriber row, counts it down, and confirms it', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const response = await handler(messageEvent('unsubscribe', '{"action":"unsubscribe","postId":"p1"}'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [
        {
          Update: expect.objectContaining({
            TableName: CONNECTIONS_TABLE,
            Key: { pk: 'conn#conn-1', sk: 'connection' },
          }),
        },
        {
          Delete: expect.objectContaining({
            TableName: CONNECTIONS_TABLE,
            Key: { pk: 'conn#conn-1', sk: 'sub#p1' },
          }),
        },
        { Delete: { TableName: CONNECTIONS_TABLE, Key: { pk: 'subscribers#p1', sk: 'conn-1' } } },
      ],
    });
    expect(pushed()).toEqual([
      { connectionId: 'conn-1', event: { type: 'unsubscribed', data: { postId: 'p1' } } },
    ]);
  });
});

describe('listComments', () => {
  it('answers the page after the cursor with comments.page, read consistently, to that connection only', async () => {
    // Prepare
    ddb.on(GetCommand, { TableName: COMMENTS_TABLE, Key: POST_KEY }).resolves({ Item: post });
    ddb.on(QueryCommand, { TableName: COMMENTS_TABLE }).resolves({
      Items: [comment('c3'), comment('c4')],
      LastEvaluatedKey: { pk: 'post#p1', sk: 'comment#c4' },
    });

    // Act
    const response = await handler(
      messageEvent(
        'listComments',
        JSON.stringify({ action: 'listComments', postId: 'p1', cursor: encodeCursor('c2') }),
      ),
    );

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: COMMENTS_TABLE,
      ExclusiveStartKey: { pk: 'post#p1', sk: 'comment#c2' },
      Limit: 100,
      ConsistentRead: true,
    });
    expectNoWrites();
    expect(pushed()).toEqual([
      {
        connectionId: 'conn-1',
        event: {
          type: 'comments.page',
          data: {
            postId: 'p1',
            comments: [wire('c3'), wire('c4')],
            count: 2,
            hasMore: true,
            cursor: encodeCursor('c4'),
          },
        },
      },
    ]);
  });

  it('answers INVALID_CURSOR, naming the post, for a well-formed cursor the server never handed out', async () => {
    // Prepare
    ddb.on(GetCommand, { TableName: COMMENTS_TABLE, Key: POST_KEY }).resolves({ Item: post });
    const forged = Buffer.from('a#b', 'utf8').toString('base64url');

    // Act
    await handler(
      messageEvent('listComments', JSON.stringify({ action: 'listComments', postId: 'p1', cursor: forged })),
    );

    // Assess
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    expect(pushed()).toEqual([
      {
        connectionId: 'conn-1',
        event: { type: 'error', data: { code: 'INVALID_CURSOR', message: expect.any(String), postId: 'p1' } },
      },
    ]);
  });

  it('answers POST_NOT_FOUND, naming the post, for a post that does not exist', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});

    // Act
    await handler(messageEvent('listComments', '{"action":"listComments","postId":"nope"}'));

    // Assess
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    expect(pushed()).toEqual([
      {
        connectionId: 'conn-1',
        event: {
          type: 'error',
          data: { code: 'POST_NOT_FOUND', message: expect.any(String), postId: 'nope' },
        },
      },
    ]);
  });
});

describe('ping', () => {
  it('answers pong with the current seq of each post the connection follows, writing nothing', async () => {
    // Prepare
    ddb
      .on(QueryCommand, { TableName: CONNECTIONS_TABLE })
      .resolves({ Items: [{ sk: 'sub#p1' }, { sk: 'sub#p2' }] });
    ddb.on(BatchGetCommand).resolves({
      Responses: {
        [COMMENTS_TABLE]: [
          { pk: 'post#p1', lastSeq: 4 },
          { pk: 'post#p2', lastSeq: 0 },
        ],
      },
    });

    // Act
    const response = await handler(messageEvent('ping', '{"action":"ping"}'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: CONNECTIONS_TABLE,
      ExpressionAttributeValues: { ':pk': 'conn#conn-1', ':prefix': 'sub#' },
      ConsistentRead: true,
    });
    expect(ddb).toHaveReceivedCommandWith(BatchGetCommand, {
      RequestItems: {
        [COMMENTS_TABLE]: expect.objectContaining({
          Keys: [
            { pk: 'post#p1', sk: 'seq' },
            { pk: 'post#p2', sk: 'seq' },
          ],
          ConsistentRead: true,
        }),
      },
    });
    expectNoWrites();
    expect(pushed()).toEqual([
      { connectionId: 'conn-1', event: { type: 'pong', data: { seqs: { p1: 4, p2: 0 } } } },
    ]);
  });

  it('answers pong with no seqs, reading no counter, when the connection follows nothing', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [] });

    // Act
    await handler(messageEvent('ping', '{"action":"ping"}'));

    // Assess
    expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
    expect(pushed()).toEqual([{ connectionId: 'conn-1', event: { type: 'pong', data: { seqs: {} } } }]);
  });
});

describe('malformed messages', () => {
  it.each<[string, string, string | undefined, ErrorCode]>([
    ['an empty frame', '$default', '', ErrorCodes.invalidMessage],
    ['no body at all', '$default', undefined, ErrorCodes.invalidMessage],
    ['text that is not JSON', '$default', 'hello', ErrorCodes.invalidJson],
    ['a JSON array', '$default', '["subscribe"]', ErrorCodes.invalidMessage],
    ['a JSON number', '$default', '7', ErrorCodes.invalidMessage],
    ['an object without action', '$default', '{"postId":"p1"}', ErrorCodes.invalidMessage],
    ['a non-string action', '$default', '{"action":["subscribe"]}', ErrorCodes.invalidMessage],
    ['an unknown action', '$default', '{"action":"delete_everything"}', ErrorCodes.unknownAction],
    ['subscribe without postId', 'subscribe', '{"action":"subscribe"}', ErrorCodes.invalidPostId],
    ['unsubscribe without postId', 'unsubscribe', '{"action":"unsubscribe"}', ErrorCodes.invalidPostId],
    ['a numeric postId', 'subscribe', '{"action":"subscribe","postId":5}', ErrorCodes.invalidPostId],
    [
      'a negative lastSeq',
      'subscribe',
      '{"action":"subscribe","postId":"p1","lastSeq":-1}',
      ErrorCodes.invalidLastSeq,
    ],
    [
      'a string lastSeq',
      'subscribe',
      '{"action":"subscribe","postId":"p1","lastSeq":"3"}',
      ErrorCodes.invalidLastSeq,
    ],
    [
      'a postId over 64 chars',
      'subscribe',
      JSON.stringify({ action: 'subscribe', postId: 'x'.repeat(65) }),
      ErrorCodes.invalidPostId,
    ],
    [
      'a postId with bad characters',
      'unsubscribe',
      '{"action":"unsubscribe","postId":"a#b"}',
      ErrorCodes.invalidPostId,
    ],
    ['listComments without postId', 'listComments', '{"action":"listComments"}', ErrorCodes.invalidPostId],
    [
      'a cursor of characters no cursor has',
      'listComments',
      '{"action":"listComments","postId":"p1","cursor":"a.b/c"}',
      ErrorCodes.invalidCursor,
    ],
    [
      'a numeric cursor',
      'listComments',
      '{"action":"listComments","postId":"p1","cursor":7}',
      ErrorCodes.invalidCursor,
    ],
    [
      'a cursor over 128 characters',
      'listComments',
      JSON.stringify({ action: 'listComments', postId: 'p1', cursor: 'a'.repeat(129) }),
      ErrorCodes.invalidCursor,
    ],
    [
      'an oversize frame',
      'subscribe',
      JSON.stringify({ action: 'subscribe', postId: 'p1', pad: 'x'.repeat(MAX_CLIENT_MESSAGE_BYTES) }),
      ErrorCodes.messageTooLarge,
    ],
  ])('answers %s with an error event and changes nothing', async (_name, routeKey, body, code) => {
    // Prepare
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await handler(messageEvent(routeKey, body));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb.calls()).toHaveLength(0);
    expectNoWrites();
    // A refusal of a message that named a valid post names it too (the parser checks the post first).
    const named = parsePostId(body);
    expect(pushed()).toEqual([
      {
        connectionId: 'conn-1',
        event: {
          type: 'error',
          data: { code, message: expect.any(String), ...(named === undefined ? {} : { postId: named }) },
        },
      },
    ]);
    expect(addMetric).toHaveBeenCalledWith('InvalidClientMessages', 'Count', 1);
  });
});

/** The post a refused frame named, when the parser got far enough to accept its postId. */
function parsePostId(body: string | undefined): string | undefined {
  const parsed = parseClientMessage(body);
  return parsed.ok ? undefined : parsed.error.postId;
}

describe('cold start', () => {
  afterEach(() => {
    process.env.MAX_SUBSCRIPTIONS_PER_CONNECTION = String(MAX_SUBSCRIPTIONS);
  });

  it.each(['0', '-1', 'many'])('fails on MAX_SUBSCRIPTIONS_PER_CONNECTION=%p, naming it', (value) => {
    // Prepare
    process.env.MAX_SUBSCRIPTIONS_PER_CONNECTION = value;

    // Act
    const load = (): void => {
      jest.isolateModules(() => {
        jest.requireActual<HandlerModule>('../../../lambda/websocket-messages/handler');
      });
    };

    // Assess
    expect(load).toThrow('MAX_SUBSCRIPTIONS_PER_CONNECTION');
  });

  it('fails without MAX_SUBSCRIPTIONS_PER_CONNECTION, naming it: the stage config sets it', () => {
    // Prepare
    delete process.env.MAX_SUBSCRIPTIONS_PER_CONNECTION;

    // Act
    const load = (): void => {
      jest.isolateModules(() => {
        jest.requireActual<HandlerModule>('../../../lambda/websocket-messages/handler');
      });
    };

    // Assess
    expect(load).toThrow('Missing required environment variable MAX_SUBSCRIPTIONS_PER_CONNECTION');
  });
});
