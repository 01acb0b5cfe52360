import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { MAX_BROADCAST_BYTES } from '../../../contracts/protocol';
import { logger, metrics } from '../../../lambda/shared/telemetry';
import { captureLogs } from '../fixtures/log-capture';

type HandlerModule = typeof import('../../../lambda/broadcast/handler');

const TABLE = 'connections-test';
const CONCURRENCY = 2;
const BATCH_SIZE = 10;
const MAX_ATTEMPTS = 3;
const WORKER = 'realtime-comments-dev-fan-out-worker';

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const lambda = mockClient(LambdaClient);
let handler: HandlerModule['handler'];

beforeAll(() => {
  // The module wires its adapters from the environment at import, as at a Lambda cold start.
  process.env.CONNECTIONS_TABLE_NAME = TABLE;
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

beforeEach(() => {
  ddb.reset();
  api.reset();
  lambda.reset();
  api.on(PostToConnectionCommand).resolves({});
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
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

const members = (...ids: string[]): Record<string, string>[] =>
  ids.map((connectionId) => ({ connectionId, sk: 'connection', topic: 'all' }));

/** The answer for an audience delivered inline: no retries unless given, nothing queued. */
const inline = (counts: Record<string, number>): Record<string, unknown> => ({
  broadcastId: expect.any(String),
  retried: 0,
  queued: 0,
  batches: 0,
  ...counts,
});

function bodyOf(response: Awaited<ReturnType<HandlerModule['handler']>>): unknown {
  return JSON.parse(String(response.body));
}

function pushedTo(): (string | undefined)[] {
  return api.commandCalls(PostToConnectionCommand).map((call) => call.args[0].input.ConnectionId);
}

function pushedPayloads(): unknown[] {
  return api
    .commandCalls(PostToConnectionCommand)
    .map((call) => JSON.parse(Buffer.from(call.args[0].input.Data as Uint8Array).toString('utf8')));
}

describe('POST /broadcast/comments', () => {
  it('sends an envelope with data.postId to that post’s subscribers only', async () => {
    // Prepare
    const envelope = {
      type: 'comment.created',
      data: { postId: 'p1', comment: { id: 'c1', content: 'hi' } },
    };
    ddb
      .on(QueryCommand, { IndexName: 'byTopic', ExpressionAttributeValues: { ':topic': 'post#p1' } })
      .resolves({
        Items: members('a', 'b'),
      });

    // Act
    const response = await handler(broadcast(envelope));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 2, delivered: 2, stale: 0, failed: 0 }));
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: TABLE,
      IndexName: 'byTopic',
      ExpressionAttributeValues: { ':topic': 'post#p1' },
    });
    expect(pushedTo().sort()).toEqual(['a', 'b']);
    expect(pushedPayloads()).toEqual([envelope, envelope]);
  });

  it('sends an envelope without postId to every connection', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: members('a', 'b', 'c') });

    // Act
    const response = await handler(broadcast({ type: 'system.notice', data: { text: 'maintenance' } }));

    // Assess
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 3, delivered: 3, stale: 0, failed: 0 }));
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: 'byTopic',
      ExpressionAttributeValues: { ':topic': 'all' },
    });
    expect(pushedTo().sort()).toEqual(['a', 'b', 'c']);
  });

  it('pages through the audience with LastEvaluatedKey', async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolvesOnce({
        Items: members('a', 'b'),
        LastEvaluatedKey: { connectionId: 'b', topic: 'post#p1', sk: 's' },
      })
      .resolvesOnce({
        Items: members('c'),
        LastEvaluatedKey: { connectionId: 'c', topic: 'post#p1', sk: 's' },
      })
      .resolvesOnce({ Items: members('d', 'e') });

    // Act
    const response = await handler(broadcast({ type: 'comment.created', data: { postId: 'p1' } }));

    // Assess
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 5, delivered: 5, stale: 0, failed: 0 }));
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
    expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
      ExclusiveStartKey: { connectionId: 'b', topic: 'post#p1', sk: 's' },
    });
    expect(ddb).toHaveReceivedNthSpecificCommandWith(3, QueryCommand, {
      ExclusiveStartKey: { connectionId: 'c', topic: 'post#p1', sk: 's' },
    });
    expect(pushedTo().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('deletes exactly the connection reported gone, before answering, and delivers to the others', async () => {
    // Prepare
    ddb.on(QueryCommand, { IndexName: 'byTopic' }).resolves({ Items: members('a', 'b', 'c') });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'b' } })
      .resolves({ Items: [{ sk: 'connection' }, { sk: 'sub#p1' }] });
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
    const response = await handler(broadcast({ type: 'comment.created', data: { postId: 'p1' } }));

    // Assess
    expect(deleteFinished).toBe(true);
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 3, delivered: 2, stale: 1, failed: 0 }));
    const partitionQueries = ddb
      .commandCalls(QueryCommand)
      .filter((call) => call.args[0].input.IndexName === undefined)
      .map((call) => call.args[0].input.ExpressionAttributeValues);
    expect(partitionQueries).toEqual([{ ':pk': 'b' }]);
    expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 1);
    expect(ddb).toHaveReceivedCommandWith(BatchWriteCommand, {
      RequestItems: {
        [TABLE]: [
          { DeleteRequest: { Key: { connectionId: 'b', sk: 'connection' } } },
          { DeleteRequest: { Key: { connectionId: 'b', sk: 'sub#p1' } } },
        ],
      },
    });
    expect(addMetric).toHaveBeenCalledWith('Delivered', 'Count', 2);
    expect(addMetric).toHaveBeenCalledWith('StaleConnections', 'Count', 1);
  });

  it(`retries a throttled push up to FAN_OUT_MAX_ATTEMPTS (${MAX_ATTEMPTS}), then counts it failed and logs it`, async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: members('a', 'b') });
    const throttled = Object.assign(new Error('slow down'), { name: 'LimitExceededException' });
    api.on(PostToConnectionCommand, { ConnectionId: 'a' }).rejects(throttled);
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await handler(broadcast({ type: 'system.notice' }));

    // Assess
    expect(bodyOf(response)).toEqual(
      inline({ connectionCount: 2, delivered: 1, stale: 0, retried: MAX_ATTEMPTS - 1, failed: 1 }),
    );
    expect(pushedTo().filter((id) => id === 'a')).toHaveLength(MAX_ATTEMPTS);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    expect(ddb).not.toHaveReceivedCommand(BatchWriteCommand);
    expect(logError).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ connectionId: 'a', errorName: 'LimitExceededException' }),
    );
    expect(addMetric).toHaveBeenCalledWith('DeliveryFailures', 'Count', 1);
    expect(addMetric).toHaveBeenCalledWith('DeliveryRetries', 'Count', MAX_ATTEMPTS - 1);
  });

  it('counts a throttled push that succeeds on retry as delivered, with the retry', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: members('a') });
    const throttled = Object.assign(new Error('slow down'), { name: 'LimitExceededException' });
    api.on(PostToConnectionCommand).rejectsOnce(throttled).resolves({});

    // Act
    const response = await handler(broadcast({ type: 'system.notice' }));

    // Assess
    expect(bodyOf(response)).toEqual(
      inline({ connectionCount: 1, delivered: 1, stale: 0, retried: 1, failed: 0 }),
    );
  });

  it('still answers when deleting a stale connection fails, logging and counting it', async () => {
    // Prepare
    ddb.on(QueryCommand, { IndexName: 'byTopic' }).resolves({ Items: members('a') });
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'a' } })
      .resolves({ Items: [{ sk: 'connection' }] });
    ddb.on(BatchWriteCommand).rejects(new Error('table unavailable'));
    api.on(PostToConnectionCommand).rejects(new GoneException({ message: 'gone', $metadata: {} }));
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await handler(broadcast({ type: 'system.notice' }));

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
      .resolvesOnce({ Items: members('a', 'b', 'c'), LastEvaluatedKey: { k: 1 } })
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
    const response = await handler(broadcast({ type: 'system.notice' }));

    // Assess
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 7, delivered: 7, stale: 0, failed: 0 }));
    expect(maxActive).toBe(CONCURRENCY);
  });

  it('answers an empty audience with zero counts', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [] });

    // Act
    const response = await handler(broadcast({ type: 'comment.created', data: { postId: 'quiet' } }));

    // Assess
    expect(bodyOf(response)).toEqual(inline({ connectionCount: 0, delivered: 0, stale: 0, failed: 0 }));
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });

  it(`queues an audience above FAN_OUT_BATCH_SIZE (${BATCH_SIZE}) as async worker batches and answers 202`, async () => {
    // Prepare
    const audience = Array.from({ length: 25 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    ddb.on(QueryCommand).resolves({ Items: members(...audience) });
    const envelope = { type: 'comment.created', data: { postId: 'p1' }, eventId: 'e-1', seq: 7 };

    // Act
    const response = await handler(broadcast(envelope));

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
    });
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
    const invocations = lambda.commandCalls(InvokeCommand).map((call) => call.args[0].input);
    expect(invocations).toHaveLength(3);
    for (const invocation of invocations) {
      expect(invocation).toMatchObject({ FunctionName: WORKER, InvocationType: 'Event' });
    }
    const batches = invocations
      .map((invocation) => JSON.parse(Buffer.from(invocation.Payload as Uint8Array).toString('utf8')))
      .sort((a, b) => a.batch - b.batch);
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
    ddb.on(QueryCommand).resolves({ Items: members(...Array.from({ length: 12 }, (_, i) => `c${i}`)) });
    lambda
      .on(InvokeCommand)
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }))
      .resolves({ StatusCode: 202 });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = await handler(broadcast({ type: 'system.notice' }));

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
    const response = await handler(broadcast(body));

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
    const response = await handler(broadcast(envelope));

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
    const response = await handler(broadcast({ type: 'system.notice' }));

    // Assess
    expect(response.statusCode).toBe(500);
    expect(bodyOf(response)).toEqual({ detail: 'Internal server error' });
    expect(logError).toHaveBeenCalled();
  });
});

describe('GET /connections/count', () => {
  it('answers the number of connections, summed over pages', async () => {
    // Prepare
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Count: 3, LastEvaluatedKey: { k: 1 } })
      .resolvesOnce({ Count: 4 });

    // Act
    const response = await handler(httpEvent('GET /connections/count'));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(bodyOf(response)).toEqual({ count: 7 });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { IndexName: 'byTopic', Select: 'COUNT' });
  });
});

describe('routing', () => {
  it('answers an unknown route with 404', async () => {
    // Act
    const response = await handler(httpEvent('DELETE /broadcast/comments'));

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
  const envelope = { type: 'comment.created', data: { postId: 'p1' }, eventId: 'e-1', seq: 7 };
  const largeAudience = (): void => {
    ddb.on(QueryCommand).resolves({ Items: members(...Array.from({ length: 25 }, (_, i) => `c${i}`)) });
  };
  const queuedBatches = (): Record<string, unknown>[] =>
    lambda
      .commandCalls(InvokeCommand)
      .map((call) => JSON.parse(Buffer.from(call.args[0].input.Payload as Uint8Array).toString('utf8')));

  it("logs under the comments API's x-correlation-id and passes it on in every worker batch", async () => {
    // Prepare
    largeAudience();

    // Act
    const lines = await captureLogs(logger, () => handler(withHeader(broadcast(envelope), 'corr-from-api')));

    // Assess
    expect(queuedBatches()).toHaveLength(3);
    for (const batch of queuedBatches()) expect(batch.correlationId).toBe('corr-from-api');
    expect(lines).toEqual([
      expect.objectContaining({ message: 'Broadcast sent', correlation_id: 'corr-from-api', batches: 3 }),
    ]);
  });

  it.each([
    ['without the header', (event: APIGatewayProxyEventV2) => event],
    ['with an invalid header', (event: APIGatewayProxyEventV2) => withHeader(event, '{"forged":true}')],
  ])('falls back to its own API Gateway request id %s', async (_name, prepare) => {
    // Prepare
    largeAudience();

    // Act
    const lines = await captureLogs(logger, () => handler(prepare(broadcast(envelope))));

    // Assess
    for (const batch of queuedBatches()) expect(batch.correlationId).toBe('req-1');
    expect(lines.map((line) => line.correlation_id)).toEqual(['req-1']);
  });

  it('does not carry one broadcast’s id into the next', async () => {
    // Prepare
    largeAudience();

    // Act
    await handler(withHeader(broadcast(envelope), 'first-broadcast'));
    lambda.resetHistory();
    await handler(broadcast(envelope));

    // Assess
    for (const batch of queuedBatches()) expect(batch.correlationId).toBe('req-1');
    expect(logger.getCorrelationId()).toBeUndefined();
  });

  it('measures an inline fan-out as FanOutDuration, in milliseconds', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: members('a', 'b') });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await handler(broadcast(envelope));

    // Assess
    expect(addMetric).toHaveBeenCalledWith('FanOutDuration', 'Milliseconds', expect.any(Number));
  });
});
