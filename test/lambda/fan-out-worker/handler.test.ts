import {
  ApiGatewayManagementApiClient,
  ApiGatewayManagementApiServiceException,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { BatchWriteCommand, DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Context } from 'aws-lambda';
import {
  correlationIdOfBatchEvent,
  InvalidFanOutBatchError,
  parseFanOutBatch,
  type FanOutBatch,
} from '../../../lambda/fan-out/fan-out-batch';
import { logger, metrics } from '../../../lambda/shared/telemetry';
import { connectionShard } from '../../../contracts/table-schema';
import { captureLogs } from '../fixtures/log-capture';

type HandlerModule = typeof import('../../../lambda/fan-out-worker/handler');

const TABLE = 'connections-test';
const SELF = 'realtime-comments-dev-fan-out-worker';
const MAX_ATTEMPTS = 2;

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const lambda = mockClient(LambdaClient);
let handler: HandlerModule['handler'];

beforeAll(() => {
  // The module wires its adapters from the environment at import, as at a Lambda cold start.
  Object.assign(process.env, {
    CONNECTIONS_TABLE_NAME: TABLE,
    WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://api.execute-api.us-east-1.amazonaws.com/dev',
    AWS_LAMBDA_FUNCTION_NAME: SELF,
    FAN_OUT_CONCURRENCY: '4',
    FAN_OUT_MAX_ATTEMPTS: String(MAX_ATTEMPTS),
    FAN_OUT_RETRY_BASE_MS: '1',
    FAN_OUT_RETRY_MAX_MS: '2',
    FAN_OUT_MAX_GENERATIONS: '2',
  });
  ({ handler } = jest.requireActual<HandlerModule>('../../../lambda/fan-out-worker/handler'));
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
  jest.restoreAllMocks();
});

const envelope = {
  type: 'comment.created',
  data: { postId: 'p1', comment: { id: 'c1' } },
  eventId: 'e1',
  seq: 2,
};

const batchOf = (connectionIds: string[], generation = 1): FanOutBatch => ({
  broadcastId: 'b-1',
  batch: 1,
  generation,
  envelope,
  connectionIds,
});

const serverError = (): Error =>
  new ApiGatewayManagementApiServiceException({
    name: 'InternalServerErrorException',
    $fault: 'server',
    $metadata: { httpStatusCode: 500 },
  });

function pushes(): { connectionId: string | undefined; payload: unknown }[] {
  return api.commandCalls(PostToConnectionCommand).map((call) => ({
    connectionId: call.args[0].input.ConnectionId,
    payload: JSON.parse(Buffer.from(call.args[0].input.Data as Uint8Array).toString('utf8')),
  }));
}

describe('fan-out worker handler', () => {
  it('pushes the queued envelope to each connection of the batch', async () => {
    // Act
    const summary = await handler(batchOf(['a', 'b', 'c']));

    // Assess
    expect(summary).toMatchObject({ connectionCount: 3, delivered: 3, failed: 0, handedOn: 0 });
    expect(pushes()).toEqual(['a', 'b', 'c'].map((connectionId) => ({ connectionId, payload: envelope })));
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
  });

  it('deletes a connection reported gone (410), rows and subscriptions', async () => {
    // Prepare
    api
      .on(PostToConnectionCommand, { ConnectionId: 'b' })
      .rejects(new GoneException({ message: 'gone', $metadata: { httpStatusCode: 410 } }));
    ddb
      .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'conn#b', ':prefix': 'sub#' } })
      .resolves({ Items: [{ sk: 'sub#p1' }] });

    // Act
    const summary = await handler(batchOf(['a', 'b']));

    // Assess
    expect(summary).toMatchObject({ delivered: 1, stale: 1, failed: 0 });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { TableName: TABLE, ConsistentRead: true });
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
  });

  it('re-invokes itself asynchronously with only the ids that still failed, as the next generation', async () => {
    // Prepare
    api.on(PostToConnectionCommand, { ConnectionId: 'b' }).rejects(serverError());
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const summary = await handler(batchOf(['a', 'b', 'c']));

    // Assess
    expect(summary).toMatchObject({ delivered: 2, retried: MAX_ATTEMPTS - 1, failed: 1, handedOn: 1 });
    expect(lambda).toHaveReceivedCommandTimes(InvokeCommand, 1);
    const invocation = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(invocation).toMatchObject({ FunctionName: SELF, InvocationType: 'Event' });
    expect(JSON.parse(Buffer.from(invocation?.Payload as Uint8Array).toString('utf8'))).toEqual(
      batchOf(['b'], 2),
    );
    expect(addMetric).toHaveBeenCalledWith('DeliveryRetries', 'Count', MAX_ATTEMPTS - 1);
    expect(addMetric).toHaveBeenCalledWith('DeliveryFailures', 'Count', 1);
  });

  it('throws when no connection could be reached, for Lambda to retry and then dead-letter', async () => {
    // Prepare
    api.on(PostToConnectionCommand).rejects(serverError());

    // Act
    const run = handler(batchOf(['a', 'b']));

    // Assess
    await expect(run).rejects.toThrow(/none of its 2 failed connections/);
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 2 * MAX_ATTEMPTS);
    expect(lambda).not.toHaveReceivedCommand(InvokeCommand);
  });

  it('throws for a batch beyond FAN_OUT_MAX_GENERATIONS without pushing anything', async () => {
    // Act
    const run = handler(batchOf(['b'], 3));

    // Assess
    await expect(run).rejects.toThrow(/after 2 generations/);
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });

  it.each([
    ['not an object', 'nope'],
    ['no ids', { ...batchOf(['a']), connectionIds: [] }],
    ['no envelope type', { ...batchOf(['a']), envelope: { data: {} } }],
    ['a generation of 0', { ...batchOf(['a']), generation: 0 }],
  ])('refuses an event with %s and pushes nothing', async (_name, event) => {
    // Act
    const run = handler(event);

    // Assess
    await expect(run).rejects.toThrow(InvalidFanOutBatchError);
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });
});

describe('fan-out worker correlation id', () => {
  /** The Lambda context of an async invocation (the worker only reads the request id). */
  const invocation = (awsRequestId: string): Context =>
    ({ awsRequestId, functionName: SELF, getRemainingTimeInMillis: () => 60_000 }) as unknown as Context;

  it("logs under the batch's correlation id, the comment request's", async () => {
    // Act
    const lines = await captureLogs(logger, () =>
      handler({ ...batchOf(['a', 'b']), correlationId: 'corr-from-api' }, invocation('worker-req-1')),
    );

    // Assess
    expect(lines).toEqual([
      expect.objectContaining({
        message: 'Fan-out batch delivered',
        correlation_id: 'corr-from-api',
        function_request_id: 'worker-req-1',
        broadcastId: 'b-1',
      }),
    ]);
  });

  it('falls back to its own request id for a batch without one (an older event, a hand-made redrive)', async () => {
    // Act
    const lines = await captureLogs(logger, () => handler(batchOf(['a']), invocation('worker-req-2')));

    // Assess
    expect(lines.map((line) => line.correlation_id)).toEqual(['worker-req-2']);
  });

  it('clears the id after an event it refuses', async () => {
    // Act
    const run = handler({ ...batchOf(['a']), connectionIds: [], correlationId: 'corr-bad' }, invocation('r'));

    // Assess
    await expect(run).rejects.toThrow(InvalidFanOutBatchError);
    expect(logger.getCorrelationId()).toBeUndefined();
  });

  it('hands the correlation id on with the ids that still failed', async () => {
    // Prepare
    api.on(PostToConnectionCommand, { ConnectionId: 'b' }).rejects(serverError());

    // Act
    await handler({ ...batchOf(['a', 'b']), correlationId: 'corr-1' }, invocation('worker-req-3'));

    // Assess
    const next = lambda.commandCalls(InvokeCommand)[0]?.args[0].input.Payload as Uint8Array;
    expect(JSON.parse(Buffer.from(next).toString('utf8'))).toEqual({
      ...batchOf(['b'], 2),
      correlationId: 'corr-1',
    });
  });

  it('measures the batch as FanOutDuration, in milliseconds', async () => {
    // Prepare
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await handler(batchOf(['a', 'b']));

    // Assess
    expect(addMetric).toHaveBeenCalledWith('FanOutDuration', 'Milliseconds', expect.any(Number));
  });
});

describe('correlationIdOfBatchEvent', () => {
  it('reads a valid id from any event, even one that is not a valid batch', () => {
    expect(correlationIdOfBatchEvent({ correlationId: 'corr-1' })).toBe('corr-1');
    expect(correlationIdOfBatchEvent({ correlationId: 'not an id' })).toBeUndefined();
    expect(correlationIdOfBatchEvent('nope')).toBeUndefined();
  });
});

describe('parseFanOutBatch', () => {
  it('keeps a valid correlation id', () => {
    expect(parseFanOutBatch({ ...batchOf(['a']), correlationId: 'JKJaXmPLvHcESHA=' }).correlationId).toBe(
      'JKJaXmPLvHcESHA=',
    );
  });

  it.each([
    ['absent', undefined],
    ['not an id', 'line\nbreak'],
    ['not a string', 42],
  ])('drops a correlation id that is %s, and still delivers the batch', (_name, correlationId) => {
    const batch = parseFanOutBatch({ ...batchOf(['a']), correlationId });
    expect(batch).toEqual(batchOf(['a']));
    expect('correlationId' in batch).toBe(false);
  });
});
