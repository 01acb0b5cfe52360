import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { connectionShard } from '../../../contracts/table-schema';
import { mockClient } from 'aws-sdk-client-mock';
import { logger, metrics } from '../../../lambda/shared/telemetry';
import { captureLogs } from '../fixtures/log-capture';
import type { WebSocketLifecycleEvent } from '../../../lambda/websocket-connection/handler';

type HandlerModule = typeof import('../../../lambda/websocket-connection/handler');

const TABLE = 'connections-test';
const TTL_SECONDS = 600;
const CONNECTED_AT = 1_795_000_000_789;

const ddb = mockClient(DynamoDBDocumentClient);
let handler: HandlerModule['handler'];

beforeAll(() => {
  // The module wires its repository from the environment at import, as at a Lambda cold start.
  process.env.CONNECTIONS_TABLE_NAME = TABLE;
  process.env.CONNECTION_TTL_SECONDS = String(TTL_SECONDS);
  ({ handler } = jest.requireActual<HandlerModule>('../../../lambda/websocket-connection/handler'));
});

beforeEach(() => {
  ddb.reset();
  jest.restoreAllMocks();
});

function lifecycleEvent(
  eventType: 'CONNECT' | 'DISCONNECT' | 'MESSAGE',
  authorizer?: Record<string, unknown>,
): WebSocketLifecycleEvent {
  const routeKeys = { CONNECT: '$connect', DISCONNECT: '$disconnect', MESSAGE: '$default' };
  return {
    isBase64Encoded: false,
    requestContext: {
      routeKey: routeKeys[eventType],
      eventType,
      messageId: 'msg-1',
      extendedRequestId: 'ext-1',
      requestTime: '26/Nov/2026:06:00:00 +0000',
      messageDirection: 'IN',
      stage: 'dev',
      connectedAt: CONNECTED_AT,
      requestTimeEpoch: CONNECTED_AT,
      requestId: 'req-1',
      domainName: 'ws.example.com',
      connectionId: 'conn-1',
      apiId: 'api',
      ...(authorizer ? { authorizer } : {}),
    },
  };
}

/** The connection's own row, as the $connect transaction stored it. */
const connectionRow = (): Record<string, unknown> | undefined =>
  ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Put?.Item;

describe('$connect', () => {
  it('stores the connection and its live-index row, both with expiresAt = floor(connectedAt / 1000) + TTL, and accepts it', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});
    const expiresAt = Math.floor(CONNECTED_AT / 1000) + TTL_SECONDS;

    // Act
    const response = await handler(lifecycleEvent('CONNECT'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
      TransactItems: [
        {
          Put: {
            TableName: TABLE,
            Item: {
              pk: 'conn#conn-1',
              sk: 'connection',
              connectionId: 'conn-1',
              connectedAt: CONNECTED_AT,
              userId: undefined,
              subscriptionCount: 0,
              expiresAt,
            },
          },
        },
        {
          Put: {
            TableName: TABLE,
            Item: { pk: `connections#${connectionShard('conn-1')}`, sk: 'conn-1', expiresAt },
          },
        },
      ],
    });
  });

  it('records the user id the WebSocket authorizer verified', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const response = await handler(
      lifecycleEvent('CONNECT', { principalId: 'user-42', userId: 'user-42', anonymous: 'false' }),
    );

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(connectionRow()).toMatchObject({ connectionId: 'conn-1', userId: 'user-42' });
  });

  it.each<[string, Record<string, unknown> | undefined]>([
    ['without any authorizer context (a stage without an authorizer)', undefined],
    ['that the authorizer let in anonymously', { principalId: 'anonymous', anonymous: 'true' }],
    ['marked anonymous even if a userId slipped in', { principalId: 'x', anonymous: 'true', userId: 'u1' }],
    ['whose context userId is not of the id format', { principalId: 'x', userId: 'a b', anonymous: 'false' }],
  ])('accepts a connection %s and stores no user id', async (_case, authorizer) => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const response = await handler(lifecycleEvent('CONNECT', authorizer));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    const item = connectionRow();
    expect(item).toBeDefined();
    expect(item?.userId).toBeUndefined();
  });

  it('refuses the connection with a 500 when the row cannot be written, and logs and counts it', async () => {
    // Prepare
    ddb
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error('throttled'), { name: 'ProvisionedThroughputExceededException' }));
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await handler(lifecycleEvent('CONNECT'));

    // Assess
    expect(response).toEqual({ statusCode: 500 });
    expect(logError).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ connectionId: 'conn-1' }),
    );
    expect(addMetric).toHaveBeenCalledWith('ConnectFailures', 'Count', 1);
  });
});

describe('$connect with subprotocols', () => {
  const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIn0.c2ln';

  /** A $connect whose handshake offered this Sec-WebSocket-Protocol, as API Gateway passes it on. */
  function offering(protocols: string, name = 'Sec-WebSocket-Protocol'): WebSocketLifecycleEvent {
    return {
      ...lifecycleEvent('CONNECT', { principalId: 'user-42', userId: 'user-42', anonymous: 'false' }),
      headers: { Host: 'ws.example.com', [name]: protocols },
      multiValueHeaders: { Host: ['ws.example.com'], [name]: [protocols] },
    };
  }

  it.each([
    ['the SDK’s offer, as a browser sends it', `realtime-comments.v1, realtime-comments.bearer.${TOKEN}`],
    ['the token first, without spaces', `realtime-comments.bearer.${TOKEN},realtime-comments.v1`],
    ['the protocol alone (a query-string token or an anonymous client)', 'realtime-comments.v1'],
  ])('answers %s with the selected protocol, and never the token', async (_case, protocols) => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const response = await handler(offering(protocols));

    // Assess
    expect(response).toEqual({
      statusCode: 200,
      headers: { 'Sec-WebSocket-Protocol': 'realtime-comments.v1' },
    });
    expect(JSON.stringify(response)).not.toContain(TOKEN);
    expect(connectionRow()).toMatchObject({ connectionId: 'conn-1', userId: 'user-42' });
  });

  it('reads the header whatever the case of its name', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const response = await handler(offering('realtime-comments.v1', 'sec-websocket-protocol'));

    // Assess
    expect(response).toEqual({
      statusCode: 200,
      headers: { 'Sec-WebSocket-Protocol': 'realtime-comments.v1' },
    });
  });

  it('answers a handshake without subprotocols without the header', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});

    // Act
    const response = await handler({ ...lifecycleEvent('CONNECT'), headers: { Host: 'ws.example.com' } });

    // Assess
    expect(response).toEqual({ statusCode: 200 });
  });

  it.each([
    ['a token without the protocol', `realtime-comments.bearer.${TOKEN}`],
    ['only an unknown version', 'realtime-comments.v2'],
    ['two tokens', `realtime-comments.v1, realtime-comments.bearer.a, realtime-comments.bearer.b`],
  ])(
    'refuses %s with a 400 and stores nothing, logging the problem and not the token',
    async (_case, protocols) => {
      // Prepare
      let response: unknown;

      // Act
      const lines = await captureLogs(logger, async () => {
        response = await handler(offering(protocols));
      });

      // Assess
      expect(response).toEqual({ statusCode: 400 });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 0);
      expect(lines).toContainEqual(
        expect.objectContaining({
          message: 'Refused a $connect with an invalid protocol list',
          problem: expect.any(String),
        }),
      );
      expect(JSON.stringify(lines)).not.toContain(TOKEN);
    },
  );

  it('answers 500 without the header when the row cannot be written', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).rejects(new Error('throttled'));

    // Act
    const response = await handler(offering('realtime-comments.v1'));

    // Assess
    expect(response).toEqual({ statusCode: 500 });
  });
});

describe('$disconnect', () => {
  it('reads the connection’s subscriptions page by page and batch-deletes every row it has', async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: [{ sk: 'sub#p1' }],
        LastEvaluatedKey: { pk: 'conn#conn-1', sk: 'sub#p1' },
      })
      .resolvesOnce({ Items: [{ sk: 'sub#p2' }] });
    ddb.on(BatchWriteCommand).resolves({});

    // Act
    const response = await handler(lifecycleEvent('DISCONNECT'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(ddb).toHaveReceivedNthSpecificCommandWith(1, QueryCommand, {
      TableName: TABLE,
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeValues: { ':pk': 'conn#conn-1', ':prefix': 'sub#' },
      ConsistentRead: true,
    });
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
      ExpressionAttributeValues: { ':pk': 'conn#conn-1', ':prefix': 'sub#' },
      ExclusiveStartKey: { pk: 'conn#conn-1', sk: 'sub#p1' },
    });
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(BatchWriteCommand, {
      RequestItems: {
        [TABLE]: [
          { DeleteRequest: { Key: { pk: 'conn#conn-1', sk: 'connection' } } },
          { DeleteRequest: { Key: { pk: 'conn#conn-1', sk: 'sub#p1' } } },
          { DeleteRequest: { Key: { pk: 'conn#conn-1', sk: 'sub#p2' } } },
          { DeleteRequest: { Key: { pk: 'subscribers#p1', sk: 'conn-1' } } },
          { DeleteRequest: { Key: { pk: 'subscribers#p2', sk: 'conn-1' } } },
          { DeleteRequest: { Key: { pk: `connections#${connectionShard('conn-1')}`, sk: 'conn-1' } } },
        ],
      },
    });
  });

  it('still answers 200 when cleanup fails, and logs and counts the failure', async () => {
    // Prepare
    ddb.on(QueryCommand).rejects(new Error('table unavailable'));
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await handler(lifecycleEvent('DISCONNECT'));

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).not.toHaveReceivedCommand(BatchWriteCommand);
    expect(logError).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ connectionId: 'conn-1' }),
    );
    expect(addMetric).toHaveBeenCalledWith('DisconnectCleanupFailures', 'Count', 1);
  });
});

describe('connection metrics', () => {
  it('counts a connection opened once its row is stored', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await handler(lifecycleEvent('CONNECT'));

    // Assess
    expect(addMetric.mock.calls).toEqual([['ConnectionsOpened', 'Count', 1]]);
  });

  it('does not count a connection it refused', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).rejects(new Error('throttled'));
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await handler(lifecycleEvent('CONNECT'));

    // Assess
    expect(addMetric.mock.calls.map(([name]) => name)).toEqual(['ConnectFailures']);
  });

  it.each([
    ['after its rows are deleted', () => ddb.on(QueryCommand).resolves({ Items: [{ sk: 'sub#p1' }] })],
    [
      'even when the cleanup fails: the socket is closed either way',
      () => ddb.on(QueryCommand).rejects(new Error('down')),
    ],
  ])('counts a connection closed %s', async (_name, prepare) => {
    // Prepare
    prepare();
    ddb.on(BatchWriteCommand).resolves({});
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await handler(lifecycleEvent('DISCONNECT'));

    // Assess
    expect(addMetric).toHaveBeenCalledWith('ConnectionsClosed', 'Count', 1);
  });

  it("logs under API Gateway's request id", async () => {
    // Prepare
    ddb.on(TransactWriteCommand).rejects(new Error('throttled'));

    // Act
    const lines = await captureLogs(logger, () => handler(lifecycleEvent('CONNECT')));

    // Assess
    expect(lines).toEqual([
      expect.objectContaining({ level: 'ERROR', correlation_id: 'req-1', connectionId: 'conn-1' }),
    ]);
  });
});

describe('routing', () => {
  it('dispatches on the route key when the event type is absent', async () => {
    // Prepare
    ddb.on(TransactWriteCommand).resolves({});
    const event = lifecycleEvent('CONNECT');
    const requestContext: Record<string, unknown> = { ...event.requestContext };
    delete requestContext.eventType;

    // Act
    const response = await handler({ ...event, requestContext } as unknown as WebSocketLifecycleEvent);

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it('follows the event type API Gateway reports over the route key', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [] });
    ddb.on(BatchWriteCommand).resolves({});
    const event = lifecycleEvent('DISCONNECT');
    const renamed = { ...event, requestContext: { ...event.requestContext, routeKey: '$connect' } };

    // Act
    const response = await handler(renamed as WebSocketLifecycleEvent);

    // Assess
    expect(response).toEqual({ statusCode: 200 });
    expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    expect(ddb).toHaveReceivedCommand(BatchWriteCommand);
  });

  it('never disconnects on a message event, whatever its route key says', async () => {
    // Prepare
    const event = lifecycleEvent('MESSAGE');
    const message = { ...event, requestContext: { ...event.requestContext, routeKey: '$disconnect' } };

    // Act
    const response = await handler(message as WebSocketLifecycleEvent);

    // Assess
    expect(response).toEqual({ statusCode: 400 });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('refuses a message event without touching the table', async () => {
    // Act
    const response = await handler(lifecycleEvent('MESSAGE'));

    // Assess
    expect(response).toEqual({ statusCode: 400 });
    expect(ddb.calls()).toHaveLength(0);
  });
});
