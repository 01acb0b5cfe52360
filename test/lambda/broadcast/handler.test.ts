import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { MAX_BROADCAST_BYTES, type SequencedChangeEvent } from '../../../contracts/protocol';
import { CONNECTION_INDEX_SHARDS, connectionShard } from '../../../contracts/table-schema';
import type { HttpResult } from '../../../lambda/shared/http';
import { logger, metrics } from '../../../lambda/shared/telemetry';
import { captureLogs } from '../fixtures/log-capture';
import { eventRow } from '../fixtures/stream-records';

type HandlerModule = typeof import('../../../lambda/broadcast/handler');

const TABLE = 'connections-test';
const COMMENTS_TABLE = 'comments-test';
const CONCURRENCY = 2;
const BATCH_SIZE = 10;
const MAX_ATTEMPTS = 3;
const WORKER = 'realtime-comments-dev-fan-out-worker';
const SELF = 'realtime-comments-dev-broadcast';

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const lambda = mockClient(LambdaClient);
let handler: HandlerModule['handler'];

beforeAll(() => {
  // The module wires its adapters from the environment at import, as at a Lambda cold start.
  process.env.CONNECTIONS_TABLE_NAME = TABLE;
  process.env.COMMENTS_TABLE_NAME = COMMENTS_TABLE;
  process.env.PUBLISH_CLAIM_TTL_MS = '30000';
  process.env.AWS_LAMBDA_FUNCTION_NAME = SELF;
  process.env.WEBSOCKET_MANAGEMENT_ENDPOINT = 'https://api.execute-api.us-east-1.amazonaws.com/dev';
  process.env.FAN_OUT_CONCURRENCY = String(CONCURRENCY);
  process.env.FAN_OUT_WORKER_FUNCTION_NAME = WORKER;
  process.env.FAN_OUT_BATCH_SIZE = String(BATCH_SIZE);
  process.env.FAN_OUT_MAX_ATTEMPTS = String(MAX_ATTEMPTS);
  // Real sleeps in this file, kept to a millisecond or two.
  process.env.FAN_OUT_RETRY_BASE_MS = '1';
  process.env.FAN_OUT_RETRY_MAX_MS = '2';
  ({ handler } = jest.requireActual<HandlerModule>('../../../lambda/broadcast/handler'));
});

afterAll(() => {
  delete process.env.AWS_LAMBDA_FUNCTION_NAME;
});

beforeEach(() => {
  ddb.reset();
  api.reset();
  lambda.reset();
  api.on(PostToConnectionCommand).resolves({});
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
  // The publish cursor takes every claim unless a test says otherwise.
  ddb.on(UpdateCommand).resolves({});
  jest.restoreAllMocks();
});

function httpEvent(routeKey: string, body?: string): APIGatewayProxyEventV2 {
  const [method = 'GET', path = '/'] = routeKey.split(' ');
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    isBase64Encoded: false,
    body,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'jest' },
      requestId: 'req-1',
      routeKey,
      stage: 'dev',
      time: '26/Nov/2026:06:00:00 +0000',
      timeEpoch: 1_795_000_000_000,
    },
  };
}

const broadcast = (envelope: unknown): APIGatewayProxyEventV2 =>
  httpEvent('POST /broadcast/comments', typeof envelope === 'string' ? envelope : JSON.stringify(envelope));

/** What the comments API sends: the request asks for the answer before the fan-out. */
const respondAsync = (event: APIGatewayProxyEventV2, prefer = 'respond-async'): APIGatewayProxyEventV2 => ({
  ...event,
  headers: { ...event.headers, prefer },
});

/** An HTTP request through the handler; its answer is always an HTTP result. */
const http = async (event: APIGatewayProxyEventV2): Promise<HttpResult> =>
  (await handler(event)) as HttpResult;

/** Rows of a post's subscriber partition, as the audience Query returns them. */
const members = (...ids: string[]): Record<string, string>[] =>
  ids.map((connectionId) => ({ pk: 'subscribers#p1', sk: connectionId }));

/** Every connection is live: the index rows, each in the shard its id hashes to. */
function liveConnections(...ids: string[]): void {
  ddb.on(QueryCommand).resolves({ Items: [] });
  for (let shard = 0; shard < CONNECTION_INDEX_SHARDS; shard += 1) {
    const rows = ids
      .filter((id) => connectionShard(id) === shard)
      .map((id) => ({ pk: `connections#${shard}`, sk: id }));
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': `connections#${shard}` } })
      .resolves({ Items: rows });
  }
}

/** The answer for an audience delivered inline: no retries unless given, nothing queued or handed on. */
const inline = (counts: Record<string, number>): Record<string, unknown> => ({
  broadcastId: expect.any(String),
  retried: 0,
  queued: 0,
  batches: 0,
  handedOn: 0,
  ...counts,
});

function bodyOf(response: HttpResult): unknown {
  return JSON.parse(String(response.body));
}

/** A stored comment change of post p1, as the comments table holds it and the comments API sends it. */
const storedEvent = (seq: number, eventId = `e-${seq}`): SequencedChangeEvent => ({
  type: 'comment.created',
  data: {
    postId: 'p1',
    comment: {
      id: `c${seq}`,
      postId: 'p1',
      userId: 'u1',
      content: 'Hi',
      createdAt: '2027-01-01T00:00:00.000Z',
    },
  },
  eventId,
  seq,
});

/** The comments table holds these events (read back by the fast path before it claims one). */
function storedEvents(...events: SequencedChangeEvent[]): void {
  ddb.on(GetCommand).resolves({});
  for (const event of events) {
    ddb
      .on(GetCommand, { TableName: COMMENTS_TABLE, Key: { pk: 'post#p1', sk: eventRow(event).sk } })
      .resolves({ Item: eventRow(event) });
  }
}

/** The publish cursor refuses the claim, as it stands. */
const cursorRefuses = (cursor: Record<string, unknown>): void => {
  ddb.on(UpdateCommand).rejects(
    new ConditionalCheckFailedException({
      message: 'The conditional request failed',
      $metadata: {},
      Item: marshall({ pk: 'post#p1', sk: 'publish', ...cursor }),
    }),
  );
};

function pushedTo(): (string | undefined)[] {
  return api.commandCalls(PostToConnectionCommand).map((call) => call.args[0].input.ConnectionId);
}

function pushedPayloads(): unknown[] {
  return api
    .commandCalls(PostToConnectionCommand)
    .map((call) => JSON.parse(Buffer.from(call.args[0].input.Data as Uint8Array).toString('utf8')));
}

/** The worker batches queued, as the workers receive them. */
function queuedBatches(): Record<string, unknown>[] {
  return lambda
    .commandCalls(InvokeCommand)
    .filter((call) => call.args[0].input.FunctionName === WORKER)
    .map((call) => JSON.parse(Buffer.from(call.args[0].input.Payload as Uint8Array).toString('utf8')));
}

describe('POST /broadcast/comments', () => {
  it('sends an envelope with data.postId to that post’s subscribers only', async () => {
    // Prepare
    const envelope = {
      type: 'comment.created',
      data: { postId: 'p1', comment: { id: 'c1', content: 'hi' } },
    };
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'subscribers#p1' } })
      .resolves({ Items: members('a', 'b') });

    // Act
    const response = await http(broadcast(envelope));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 2, delivered: 2, stale: 0, failed: 0 }));
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      ExpressionAttributeValues: { ':pk': 'subscribers#p1' },
      // A subscription stored just before the change must be in the audience.
      ConsistentRead: true,
    });
    expect(pushedTo().sort()).toEqual(['a', 'b']);
    expect(pushedPayloads()).toEqual([envelope, envelope]);
  });

  it('sends an envelope without postId to every connection, reading every shard of the live index', async () => {
    // Prepare
    liveConnections('a', 'b', 'c');

    // Act
    const response = await http(broadcast({ type: 'system.notice', data: { text: 'maintenance' } }));

    // Assess
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 3, delivered: 3, stale: 0, failed: 0 }));
    const partitions = ddb
      .commandCalls(QueryCommand)
      .map((call) => call.args[0].input.ExpressionAttributeValues?.[':pk']);
    expect(partitions).toEqual(
      Array.from({ length: CONNECTION_INDEX_SHARDS }, (_, shard) => `connections#${shard}`),
    );
    expect(pushedTo().sort()).toEqual(['a', 'b', 'c']);
  });

  it('pages through the audience with LastEvaluatedKey', async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: members('a', 'b'),
        LastEvaluatedKey: { pk: 'subscribers#p1', sk: 'b' },
      })
      .resolvesOnce({
        Items: members('c'),
        LastEvaluatedKey: { pk: 'subscribers#p1', sk: 'c' },
      })
      .resolvesOnce({ Items: members('d', 'e') });

    // Act
    const response = await http(broadcast({ type: 'comment.created', data: { postId: 'p1' } }));

    // Assess
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 5, delivered: 5, stale: 0, failed: 0 }));
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
      ExclusiveStartKey: { pk: 'subscribers#p1', sk: 'b' },
    });
    expect(ddb).toHaveReceivedNthSpecificCommandWith(3, QueryCommand, {
      ExclusiveStartKey: { pk: 'subscribers#p1', sk: 'c' },
    });
    expect(pushedTo().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('deletes exactly the connection reported gone, before answering, and delivers to the others', async () => {
    // Prepare
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'subscribers#p1' } })
      .resolves({ Items: members('a', 'b', 'c') });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'conn#b', ':prefix': 'sub#' } })
      .resolves({ Items: [{ sk: 'sub#p1' }] });
    let deleteFinished = false;
    ddb.on(BatchWriteCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      deleteFinished = true;
      return {};
    });
    api
      .on(PostToConnectionCommand, { ConnectionId: 'b' })
      .rejects(new GoneException({ message: 'gone', $metadata: {} }));
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await http(broadcast({ type: 'comment.created', data: { postId: 'p1' } }));

    // Assess
    expect(deleteFinished).toBe(true);
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 3, delivered: 2, stale: 1, failed: 0 }));
    const connectionQueries = ddb
      .commandCalls(QueryCommand)
      .map((call) => call.args[0].input.ExpressionAttributeValues?.[':pk'])
      .filter((partition) => String(partition).startsWith('conn#'));
    expect(connectionQueries).toEqual(['conn#b']);
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(BatchWriteCommand, {
      RequestItems: {
        [TABLE]: [
          { DeleteRequest: { Key: { pk: 'conn#b', sk: 'connection' } } },
          { DeleteRequest: { Key: { pk: 'conn#b', sk: 'sub#p1' } } },
          { DeleteRequest: { Key: { pk: 'subscribers#p1', sk: 'b' } } },
          { DeleteRequest: { Key: { pk: `connections#${connectionShard('b')}`, sk: 'b' } } },
        ],
      },
    });
    expect(addMetric).toHaveBeenCalledWith('Delivered', 'Count', 2);
    expect(addMetric).toHaveBeenCalledWith('StaleConnections', 'Count', 1);
  });

  it(`retries a throttled push up to FAN_OUT_MAX_ATTEMPTS (${MAX_ATTEMPTS}), counts it failed, logs it and hands it to a worker`, async () => {
    // Prepare
    liveConnections('a', 'b');
    const throttled = Object.assign(new Error('slow down'), { name: 'LimitExceededException' });
    api.on(PostToConnectionCommand, { ConnectionId: 'a' }).rejects(throttled);
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await http(broadcast({ type: 'system.notice' }));

    // Assess
    expect(bodyOf(response)).toEqual(
      inline({
        connectionCount: 2,
        delivered: 1,
        stale: 0,
        retried: MAX_ATTEMPTS - 1,
        failed: 1,
        handedOn: 1,
      }),
    );
    expect(pushedTo().filter((id) => id === 'a')).toHaveLength(MAX_ATTEMPTS);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, CONNECTION_INDEX_SHARDS);
    expect(ddb).not.toHaveReceivedCommand(BatchWriteCommand);
    expect(logError).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ connectionId: 'a', errorName: 'LimitExceededException' }),
    );
    expect(addMetric).toHaveBeenCalledWith('DeliveryFailures', 'Count', 1);
    expect(addMetric).toHaveBeenCalledWith('DeliveryRetries', 'Count', MAX_ATTEMPTS - 1);
    expect(queuedBatches()).toEqual([
      expect.objectContaining({
        batch: 1,
        generation: 2,
        connectionIds: ['a'],
        envelope: { type: 'system.notice' },
      }),
    ]);
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: WORKER,
      InvocationType: 'Event',
    });
  });

  it('counts a throttled push that succeeds on retry as delivered, with the retry', async () => {
    // Prepare
    liveConnections('a');
    const throttled = Object.assign(new Error('slow down'), { name: 'LimitExceededException' });
    api.on(PostToConnectionCommand).rejectsOnce(throttled).resolves({});

    // Act
    const response = await http(broadcast({ type: 'system.notice' }));

    // Assess
    expect(bodyOf(response)).toEqual(
      inline({ connectionCount: 1, delivered: 1, stale: 0, retried: 1, failed: 0 }),
    );
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
  });

  it('still answers when deleting a stale connection fails, logging and counting it', async () => {
    // Prepare
    liveConnections('a');
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'conn#a', ':prefix': 'sub#' } })
      .resolves({ Items: [] });
    ddb.on(BatchWriteCommand).rejects(new Error('table unavailable'));
    api.on(PostToConnectionCommand).rejects(new GoneException({ message: 'gone', $metadata: {} }));
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await http(broadcast({ type: 'system.notice' }));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 1, delivered: 0, stale: 1, failed: 0 }));
    expect(logError).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ connectionId: 'a' }));
    expect(addMetric).toHaveBeenCalledWith('StaleConnectionCleanupFailures', 'Count', 1);
  });

  it(`keeps at most FAN_OUT_CONCURRENCY (${CONCURRENCY}) pushes in flight`, async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: members('a', 'b', 'c'), LastEvaluatedKey: { pk: 'subscribers#p1', sk: 'c' } })
      .resolvesOnce({ Items: members('d', 'e', 'f', 'g') });
    let active = 0;
    let maxActive = 0;
    api.on(PostToConnectionCommand).callsFake(async () => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      await new Promise((resolve) => setTimeout(resolve, 5));
      active -= 1;
      return {};
    });

    // Act
    const response = await http(broadcast({ type: 'comment.created', data: { postId: 'p1' } }));

    // Assess
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 7, delivered: 7, stale: 0, failed: 0 }));
    expect(maxActive).toBe(CONCURRENCY);
  });

  it('answers an empty audience with zero counts', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [] });

    // Act
    const response = await http(broadcast({ type: 'comment.created', data: { postId: 'quiet' } }));

    // Assess
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 0, delivered: 0, stale: 0, failed: 0 }));
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });

  it(`queues an audience above FAN_OUT_BATCH_SIZE (${BATCH_SIZE}) as async worker batches and answers 202`, async () => {
    // Prepare
    const audience = Array.from({ length: 25 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    ddb.on(QueryCommand).resolves({ Items: members(...audience) });
    const envelope = { type: 'comment.created', data: { postId: 'p1', text: 'not a stored event' } };

    // Act
    const response = await http(broadcast(envelope));

    // Assess
    expect(response.statusCode).toBe(202);
    const body = bodyOf(response) as Record<string, unknown>;
    expect(body).toEqual({
      broadcastId: expect.any(String),
      connectionCount: 25,
      delivered: 0,
      stale: 0,
      retried: 0,
      failed: 0,
      queued: 25,
      batches: 3,
      handedOn: 0,
    });
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
    const invocations = lambda.commandCalls(InvokeCommand).map((call) => call.args[0].input);
    expect(invocations).toHaveLength(3);
    for (const invocation of invocations) {
      expect(invocation).toMatchObject({ FunctionName: WORKER, InvocationType: 'Event' });
    }
    const batches = queuedBatches().sort((a, b) => Number(a.batch) - Number(b.batch));
    expect(batches.map((batch) => batch.connectionIds)).toEqual([
      audience.slice(0, 10),
      audience.slice(10, 20),
      audience.slice(20),
    ]);
    for (const batch of batches) {
      expect(batch).toMatchObject({ broadcastId: body.broadcastId, generation: 1, envelope });
    }
  });

  it('delivers a batch inline when Lambda refuses to queue it', async () => {
    // Prepare
    liveConnections(...Array.from({ length: 12 }, (_, i) => `c${i}`));
    lambda
      .on(InvokeCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }))
      .resolves({ StatusCode: 202 });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await http(broadcast({ type: 'system.notice' }));

    // Assess
    expect(response.statusCode).toBe(202);
    const body = bodyOf(response) as { delivered: number; queued: number };
    expect(body).toMatchObject({ connectionCount: 12, batches: 1 });
    expect(body.delivered + body.queued).toBe(12);
    expect(pushedTo()).toHaveLength(body.delivered);
    expect(addMetric).toHaveBeenCalledWith('FanOutDispatchFailures', 'Count', 1);
  });

  it.each([
    ['not JSON', 'nope'],
    ['an empty body', ''],
    ['a JSON array', '[]'],
    ['a missing type', '{"data":{}}'],
    ['an invalid data.postId', '{"type":"comment.created","data":{"postId":"../x"}}'],
  ])('answers %s with 400 {detail} and sends nothing', async (_name, body) => {
    // Act
    const response = await http(broadcast(body));

    // Assess
    expect(response.statusCode).toBe(400);
    expect(bodyOf(response)).toEqual({ detail: expect.any(String) });
    expect(ddb.calls()).toHaveLength(0);
    expect(api.calls()).toHaveLength(0);
  });

  it('answers an oversize body with 413', async () => {
    // Prepare
    const envelope = { type: 'system.notice', data: { pad: 'x'.repeat(MAX_BROADCAST_BYTES) } };

    // Act
    const response = await http(broadcast(envelope));

    // Assess
    expect(response.statusCode).toBe(413);
    expect(bodyOf(response)).toEqual({ detail: expect.any(String) });
    expect(ddb.calls()).toHaveLength(0);
  });

  it('answers a 500 JSON error instead of throwing when the audience cannot be read', async () => {
    // Prepare
    ddb.on(QueryCommand).rejects(new Error('table unavailable'));
    const logError = jest.spyOn(logger, 'error');

    // Act
    const response = await http(broadcast({ type: 'system.notice' }));

    // Assess
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ detail: 'Internal server error' });
    expect(logError).toHaveBeenCalled();
  });
});

describe('POST /broadcast/comments with a stored event (eventId, seq, data.postId)', () => {
  it('publishes the event as the comments table stores it, claiming it as the post’s next one, and answers 200', async () => {
    // Prepare
    const event = storedEvent(7);
    storedEvents(event);
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'subscribers#p1' } })
      .resolves({ Items: members('a', 'b') });

    // Act
    const response = await http(
      broadcast({ ...event, data: { postId: 'p1', comment: { content: 'forged' } } }),
    );

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 2, delivered: 2, stale: 0, failed: 0 }));
    expect(pushedPayloads()).toEqual([event, event]);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: COMMENTS_TABLE,
      Key: { pk: 'post#p1', sk: 'event#000000000007' },
      ConsistentRead: true,
    });
    const [claim, complete] = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(claim).toMatchObject({
      TableName: COMMENTS_TABLE,
      Key: { pk: 'post#p1', sk: 'publish' },
      ConditionExpression: expect.stringContaining('#published = :previous'),
      ExpressionAttributeValues: expect.objectContaining({ ':seq': 7, ':previous': 6 }),
    });
    expect(complete).toMatchObject({ UpdateExpression: expect.stringContaining('SET #published = :seq') });
  });

  it('answers 404 for an event the comments table does not store, and sends nothing', async () => {
    // Prepare
    storedEvents();

    // Act
    const response = await http(broadcast(storedEvent(7)));

    // Assess
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response)).toEqual({ detail: expect.stringContaining('No stored event') });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });

  it('answers 409 when the stored event with that seq has another eventId, and sends nothing', async () => {
    // Prepare
    storedEvents(storedEvent(7, 'the-stored-one'));

    // Act
    const response = await http(broadcast(storedEvent(7, 'another-one')));

    // Assess
    expect(response.statusCode).toBe(409);
    expect(bodyOf(response)).toEqual({ detail: expect.any(String) });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });

  it.each([
    ['alreadyPublished', { publishedSeq: 7 }],
    ['claimedElsewhere', { publishedSeq: 6, claimToken: 'stream', claimExpiresAt: Date.now() + 60_000 }],
    ['awaitingEarlierEvent', { publishedSeq: 5 }],
  ])(
    'answers 202 {skipped, reason: %s} and sends nothing when the cursor refuses the claim',
    async (reason, cursor) => {
      // Prepare
      storedEvents(storedEvent(7));
      cursorRefuses(cursor);

      // Act
      const response = await http(broadcast(storedEvent(7)));

      // Assess
      expect(response.statusCode).toBe(202);
      expect(bodyOf(response)).toEqual({ skipped: true, reason });
      expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
      expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    },
  );

  it('gives the claim back and answers 500 when the fan-out fails, so the stream need not wait it out', async () => {
    // Prepare
    storedEvents(storedEvent(7));
    ddb.on(QueryCommand).rejects(new Error('connections table unavailable'));

    // Act
    const response = await http(broadcast(storedEvent(7)));

    // Assess
    expect(response.statusCode).toBe(500);
    const updates = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input.UpdateExpression);
    expect(updates).toEqual([expect.stringContaining('SET #token'), 'REMOVE #token, #claimedSeq, #expires']);
  });
});

describe('POST /broadcast/comments with Prefer: respond-async', () => {
  const event = storedEvent(3);

  const queuedJobs = (): Record<string, unknown>[] =>
    lambda
      .commandCalls(InvokeCommand)
      .filter((call) => call.args[0].input.FunctionName === SELF)
      .map((call) => JSON.parse(Buffer.from(call.args[0].input.Payload as Uint8Array).toString('utf8')));

  it('queues the publish as an async invocation of itself and answers 202 {broadcastId, accepted} at once', async () => {
    // Act
    const response = await http(
      respondAsync({
        ...broadcast(event),
        headers: { ...broadcast(event).headers, 'x-correlation-id': 'corr-1' },
      }),
    );

    // Assess
    expect(response.statusCode).toBe(202);
    const body = bodyOf(response) as { broadcastId: string; accepted: boolean };
    expect(body).toEqual({ broadcastId: expect.any(String), accepted: true });
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, { FunctionName: SELF, InvocationType: 'Event' });
    expect(queuedJobs()).toEqual([
      { kind: 'publish', jobId: body.broadcastId, envelope: event, correlationId: 'corr-1' },
    ]);
    // Nothing is read, claimed or pushed before the answer.
    expect(ddb.calls()).toHaveLength(0);
    expect(api.calls()).toHaveLength(0);
  });

  it.each(['Respond-Async', 'handling=lenient, respond-async', ' respond-async ,wait=5'])(
    'reads the preference %p in any case, among others',
    async (prefer) => {
      // Act
      const response = await http(respondAsync(broadcast(event), prefer));

      // Assess
      expect(response.statusCode).toBe(202);
      expect(queuedJobs()).toHaveLength(1);
    },
  );

  it('publishes at once when the request prefers anything else', async () => {
    // Prepare
    storedEvents(event);
    ddb.on(QueryCommand).resolves({ Items: members('a') });

    // Act
    const response = await http(respondAsync(broadcast(event), 'return=minimal'));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(queuedJobs()).toEqual([]);
    expect(pushedTo()).toEqual(['a']);
  });

  it('answers a malformed body with 400 and queues nothing', async () => {
    // Act
    const response = await http(respondAsync(broadcast('{"type":"comment.created","data":[]}')));

    // Assess
    expect(response.statusCode).toBe(400);
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
  });

  it('answers 503 with Retry-After when Lambda throttles the queuing', async () => {
    // Prepare
    lambda
      .on(InvokeCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));

    // Act
    const response = await http(respondAsync(broadcast(event)));

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': expect.stringMatching(/^\d+$/) });
    expect(api.calls()).toHaveLength(0);
  });

  it('answers 500 when Lambda does not accept the event for asynchronous invocation', async () => {
    // Prepare
    lambda.on(InvokeCommand).resolves({ StatusCode: 200 });

    // Act
    const response = await http(respondAsync(broadcast(event)));

    // Assess
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ detail: 'Internal server error' });
  });
});

describe('a queued publish job', () => {
  const event = storedEvent(3);
  const job = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
    kind: 'publish',
    jobId: 'job-1',
    envelope: event,
    correlationId: 'corr-job',
    ...overrides,
  });

  it('publishes as a synchronous broadcast would have, and logs under the request that queued it', async () => {
    // Prepare
    storedEvents(event);
    ddb.on(QueryCommand).resolves({ Items: members('a', 'b') });

    // Act
    let result: unknown;
    const lines = await captureLogs(logger, async () => {
      result = await handler(job());
    });

    // Assess
    expect(result).toEqual({
      published: true,
      summary: inline({ connectionCount: 2, delivered: 2, stale: 0, failed: 0 }),
    });
    expect(pushedPayloads()).toEqual([event, event]);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => line.correlation_id === 'corr-job')).toBe(true);
    expect(lines).toContainEqual(
      expect.objectContaining({ message: 'Background broadcast done', jobId: 'job-1', published: true }),
    );
  });

  it('passes its correlation id on to the worker batches of a large audience', async () => {
    // Prepare
    storedEvents(event);
    ddb.on(QueryCommand).resolves({ Items: members(...Array.from({ length: 15 }, (_, i) => `c${i}`)) });

    // Act
    await handler(job());

    // Assess
    const batches = queuedBatches();
    expect(batches).toHaveLength(2);
    for (const batch of batches) expect(batch).toMatchObject({ correlationId: 'corr-job', envelope: event });
  });

  it('ends quietly with the reason when the event is left to the stream', async () => {
    // Prepare
    storedEvents(event);
    cursorRefuses({ publishedSeq: 3 });

    // Act
    const result = await handler(job());

    // Assess
    expect(result).toEqual({ published: false, reason: 'alreadyPublished' });
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });

  it('throws when the fan-out fails, so that Lambda retries the job', async () => {
    // Prepare
    storedEvents(event);
    ddb.on(QueryCommand).rejects(new Error('connections table unavailable'));

    // Act / Assess
    await expect(handler(job())).rejects.toThrow('connections table unavailable');
  });

  it.each([
    ['without a jobId', job({ jobId: undefined })],
    ['with a malformed envelope', job({ envelope: { type: 'Not A Type' } })],
    ['without an envelope', job({ envelope: undefined })],
  ])('throws for a job %s, touching nothing', async (_name, malformed) => {
    // Act / Assess
    await expect(handler(malformed)).rejects.toThrow('Not a publish job');
    expect(ddb.calls()).toHaveLength(0);
    expect(api.calls()).toHaveLength(0);
  });
});

describe('GET /connections/count', () => {
  it('answers the number of connections, summed over every shard and page', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Count: 1 });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'connections#0' } })
      .resolvesOnce({ Count: 3, LastEvaluatedKey: { pk: 'connections#0', sk: 'x' } })
      .resolvesOnce({ Count: 4 });

    // Act
    const response = await http(httpEvent('GET /connections/count'));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ count: 7 + (CONNECTION_INDEX_SHARDS - 1) });
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, CONNECTION_INDEX_SHARDS + 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: { ':pk': 'connections#0' },
      ExclusiveStartKey: { pk: 'connections#0', sk: 'x' },
      Select: 'COUNT',
    });
  });
});

describe('routing', () => {
  it('answers an unknown route with 404', async () => {
    // Act
    const response = await http(httpEvent('DELETE /broadcast/comments'));

    // Assess
    expect(response.statusCode).toBe(404);
    expect(bodyOf(response)).toEqual({ detail: 'Not Found' });
    expect(ddb.calls()).toHaveLength(0);
  });
});

describe('correlation id', () => {
  const withHeader = (event: APIGatewayProxyEventV2, correlationId: string): APIGatewayProxyEventV2 => ({
    ...event,
    headers: { ...event.headers, 'x-correlation-id': correlationId },
  });
  const envelope = storedEvent(7, 'e-1');
  const largeAudience = (): void => {
    storedEvents(envelope);
    ddb.on(QueryCommand).resolves({ Items: members(...Array.from({ length: 25 }, (_, i) => `c${i}`)) });
  };

  it("logs under the comments API's x-correlation-id and passes it on in every worker batch", async () => {
    // Prepare
    largeAudience();

    // Act
    const lines = await captureLogs(logger, () => http(withHeader(broadcast(envelope), 'corr-from-api')));

    // Assess
    expect(queuedBatches()).toHaveLength(3);
    for (const batch of queuedBatches()) expect(batch.correlationId).toBe('corr-from-api');
    expect(lines).toContainEqual(
      expect.objectContaining({ message: 'Broadcast sent', correlation_id: 'corr-from-api', batches: 3 }),
    );
    expect(lines.map((line) => line.correlation_id)).toEqual(lines.map(() => 'corr-from-api'));
  });

  it.each([
    ['without the header', (event: APIGatewayProxyEventV2) => event],
    ['with an invalid header', (event: APIGatewayProxyEventV2) => withHeader(event, '{"forged":true}')],
  ])('falls back to its own API Gateway request id %s', async (_name, prepare) => {
    // Prepare
    largeAudience();

    // Act
    const lines = await captureLogs(logger, () => http(prepare(broadcast(envelope))));

    // Assess
    expect(queuedBatches()).toHaveLength(3);
    for (const batch of queuedBatches()) expect(batch.correlationId).toBe('req-1');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.map((line) => line.correlation_id)).toEqual(lines.map(() => 'req-1'));
  });

  it('does not carry one broadcast’s id into the next', async () => {
    // Prepare
    largeAudience();

    // Act
    await http(withHeader(broadcast(envelope), 'first-broadcast'));
    lambda.resetHistory();
    await http(broadcast(envelope));

    // Assess
    expect(queuedBatches()).toHaveLength(3);
    for (const batch of queuedBatches()) expect(batch.correlationId).toBe('req-1');
    expect(logger.getCorrelationId()).toBeUndefined();
  });

  it('measures an inline fan-out as FanOutDuration, in milliseconds', async () => {
    // Prepare
    storedEvents(envelope);
    ddb.on(QueryCommand).resolves({ Items: members('a', 'b') });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await http(broadcast(envelope));

    // Assess
    expect(addMetric).toHaveBeenCalledWith('FanOutDuration', 'Milliseconds', expect.any(Number));
  });
});
