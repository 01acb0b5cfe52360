import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient, InvokeCommand } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { CONNECTION_INDEX_SHARDS } from '../../../contracts/table-schema';
import { fanOutWiringFromEnv } from '../../../lambda/fan-out/fan-out-wiring';
import { DynamoConnectionAudience } from '../../../lambda/shared/connection-repository';
import { ManagementApiNotifier } from '../../../lambda/shared/connection-notifier';

const lambda = mockClient(LambdaClient);

/** What the stack sets on the broadcast function, plus the name Lambda gives the worker. */
const ENV = {
  CONNECTIONS_TABLE_NAME: 'connections-test',
  WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://ws.execute-api.us-east-1.amazonaws.com/dev',
  FAN_OUT_WORKER_FUNCTION_NAME: 'worker-fn',
  AWS_LAMBDA_FUNCTION_NAME: 'self-fn',
  FAN_OUT_CONCURRENCY: '7',
  FAN_OUT_MAX_ATTEMPTS: '4',
  FAN_OUT_RETRY_BASE_MS: '10',
  FAN_OUT_RETRY_MAX_MS: '80',
};

beforeEach(() => {
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

describe('fanOutWiringFromEnv', () => {
  it('builds the adapters and the delivery settings from the environment', () => {
    // Act
    const wiring = fanOutWiringFromEnv('FAN_OUT_WORKER_FUNCTION_NAME', ENV);

    // Assess
    expect(wiring.connections).toBeInstanceOf(DynamoConnectionAudience);
    expect(wiring.notifier).toBeInstanceOf(ManagementApiNotifier);
    expect(wiring.concurrency).toBe(7);
    expect(wiring.retry).toEqual({ maxAttempts: 4, baseMs: 10, maxMs: 80 });
  });

  it.each([
    ['FAN_OUT_WORKER_FUNCTION_NAME', 'worker-fn'],
    ['AWS_LAMBDA_FUNCTION_NAME', 'self-fn'],
  ] as const)('dispatches batches to the function named by %s', async (variable, functionName) => {
    // Act
    await fanOutWiringFromEnv(variable, ENV).dispatcher.dispatch({
      broadcastId: 'b-1',
      batch: 1,
      generation: 1,
      envelope: { type: 'comment.created' },
      connectionIds: ['c1'],
    });

    // Assess
    expect(lambda).toHaveReceivedCommandWith(InvokeCommand, {
      FunctionName: functionName,
      InvocationType: 'Event',
    });
  });

  it('reads the audience through the document client it is given, when it is given one', async () => {
    // Prepare
    const shared = DynamoDBDocumentClient.from(new DynamoDBClient({}));
    const sharedStub = mockClient(shared);
    sharedStub.on(QueryCommand).resolves({ Count: 2 });

    // Act
    const count = await fanOutWiringFromEnv(
      'FAN_OUT_WORKER_FUNCTION_NAME',
      ENV,
      shared,
    ).connections.countConnections();

    // Assess
    expect(count).toBe(2 * CONNECTION_INDEX_SHARDS);
    expect(sharedStub).toHaveReceivedCommandTimes(QueryCommand, CONNECTION_INDEX_SHARDS);
    expect(sharedStub).toHaveReceivedCommandWith(QueryCommand, { TableName: 'connections-test' });
    sharedStub.restore();
  });

  it.each([
    'CONNECTIONS_TABLE_NAME',
    'WEBSOCKET_MANAGEMENT_ENDPOINT',
    'FAN_OUT_WORKER_FUNCTION_NAME',
    'FAN_OUT_CONCURRENCY',
    'FAN_OUT_MAX_ATTEMPTS',
  ])('fails naming %s when it is missing', (name) => {
    // Prepare
    const env: Record<string, string> = { ...ENV };
    delete env[name];

    // Act / Assess
    expect(() => fanOutWiringFromEnv('FAN_OUT_WORKER_FUNCTION_NAME', env)).toThrow(
      `Missing required environment variable ${name}`,
    );
  });
});
