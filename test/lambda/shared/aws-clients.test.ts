import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  CALL_TIMEOUTS,
  createDocumentClient,
  createLambdaClient,
  createManagementClient,
  type CallTimeouts,
} from '../../../lambda/shared/aws-clients';
import { tracer } from '../../../lambda/shared/telemetry';

afterEach(() => {
  jest.restoreAllMocks();
});

describe('tracing', () => {
  it('hands every client to the tracer, the document client through its base client', () => {
    // Prepare
    const capture = jest.spyOn(tracer, 'captureAWSv3Client');

    // Act
    const documentClient = createDocumentClient({});
    const management = createManagementClient('https://ws.example.com/dev');
    const lambda = createLambdaClient({});

    // Assess
    const captured = capture.mock.calls.map(([client]) => client);
    expect(captured).toHaveLength(3);
    expect(captured[0]).toBeInstanceOf(DynamoDBClient);
    expect(documentClient.middlewareStack).toBe((captured[0] as DynamoDBClient).middlewareStack);
    expect(captured[1]).toBe(management);
    expect(captured[1]).toBeInstanceOf(ApiGatewayManagementApiClient);
    expect(captured[2]).toBe(lambda);
    expect(captured[2]).toBeInstanceOf(LambdaClient);
  });

  it('returns the clients untouched while tracing is off (tests, the local stack)', () => {
    // Act
    const lambda = createLambdaClient({});

    // Assess
    expect(tracer.isTracingEnabled()).toBe(false);
    expect(lambda.middlewareStack.identify().join(',')).not.toMatch(/xray/i);
  });
});

describe('createManagementClient', () => {
  it('turns the SDK retries off when asked, so the fan-out counts every retry itself', async () => {
    // Act
    const fanOutClient = createManagementClient('https://ws.example.com/dev', { maxAttempts: 1 });
    const standard = createManagementClient('https://ws.example.com/dev');

    // Assess
    expect(await fanOutClient.config.maxAttempts()).toBe(1);
    expect(await standard.config.maxAttempts()).toBe(3);
  });
});

describe('createLambdaClient', () => {
  it('sends to LAMBDA_ENDPOINT when the local stack sets it', async () => {
    // Act
    const client = createLambdaClient({ LAMBDA_ENDPOINT: 'http://127.0.0.1:3001' });
    const endpoint = await client.config.endpoint?.();

    // Assess
    expect(endpoint).toMatchObject({ protocol: 'http:', hostname: '127.0.0.1', port: 3001 });
  });

  it("uses the region's endpoint otherwise", () => {
    // Act
    const client = createLambdaClient({});

    // Assess
    expect(client.config.endpoint).toBeUndefined();
  });
});

/**
 * The timeouts against a real socket: a local server that accepts every connection and never answers, as
 * an endpoint that has gone silent does. AWS_MAX_ATTEMPTS=1 (read by every client when its first call
 * resolves its config) keeps the SDK from retrying, so one attempt's timeout is the whole call.
 */
describe('call timeouts', () => {
  const TINY: CallTimeouts = { connectionTimeoutMs: 200, requestTimeoutMs: 200 };
  const sockets = new Set<Socket>();
  /** Connections the silent server accepted in this test: one per attempt. */
  let accepted = 0;
  let silent: Server;
  let endpoint: string;

  beforeAll(async () => {
    silent = createServer((socket) => {
      accepted += 1;
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    accepted = 0;
    process.env.AWS_MAX_ATTEMPTS = '1';
  });

  afterEach(() => {
    delete process.env.AWS_MAX_ATTEMPTS;
    for (const socket of sockets) socket.destroy();
  });

  afterAll(async () => {
    await new Promise((resolve) => silent.close(resolve));
  });

  it.each([
    [
      'a DynamoDB call',
      () => {
        const client = createDocumentClient({ DYNAMODB_ENDPOINT: endpoint }, TINY);
        return { call: client.send(new GetCommand({ TableName: 't', Key: { pk: 'a' } })), client };
      },
    ],
    [
      'a Lambda call',
      () => {
        const client = createLambdaClient({ LAMBDA_ENDPOINT: endpoint }, TINY);
        return {
          call: client.send(new InvokeCommand({ FunctionName: 'f', InvocationType: 'Event' })),
          client,
        };
      },
    ],
    [
      'a Management API call',
      () => {
        const client = createManagementClient(endpoint, { maxAttempts: 1, timeouts: TINY });
        return {
          call: client.send(new PostToConnectionCommand({ ConnectionId: 'c', Data: new Uint8Array([1]) })),
          client,
        };
      },
    ],
  ])('fails %s to an endpoint that never answers once its request timeout is up', async (_service, send) => {
    // Prepare
    const started = performance.now();

    // Act
    const { call, client } = send();
    const outcome = await call.then(
      () => undefined,
      (error: unknown) => error,
    );
    const elapsed = performance.now() - started;
    client.destroy();

    // Assess
    expect(outcome).toMatchObject({
      name: 'TimeoutError',
      message: expect.stringMatching(/200 ms requestTimeout/),
    });
    expect(elapsed).toBeGreaterThanOrEqual(190);
    expect(elapsed).toBeLessThan(2000);
    expect(accepted).toBe(1);
  });

  it('only warns, and goes on waiting, without throwOnRequestTimeout in the pinned SDK', async () => {
    // Prepare
    const warn = jest.fn();
    const client = new DynamoDBClient({
      endpoint,
      requestHandler: { requestTimeout: 200, logger: { warn, debug() {}, info() {}, error() {} } },
    });
    const abort = new AbortController();

    // Act
    const call = client
      .send(new GetItemCommand({ TableName: 't', Key: { pk: { S: 'a' } } }), { abortSignal: abort.signal })
      .then(
        () => 'answered',
        () => 'failed',
      );
    await new Promise((resolve) => setTimeout(resolve, 600));
    const threeTimeoutsLater = await Promise.race([call, Promise.resolve('waiting')]);
    abort.abort();
    await call;
    client.destroy();

    // Assess
    expect(threeTimeoutsLater).toBe('waiting');
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('[WARN] a request has exceeded the configured 200 ms'),
    );
  });

  it('gives each client its production timeouts, with throwOnRequestTimeout, unless told otherwise', () => {
    // Prepare
    const create = jest.spyOn(NodeHttpHandler, 'create');

    // Act
    createDocumentClient({});
    createManagementClient('https://ws.example.com/dev');
    createLambdaClient({});

    // Assess
    expect(create.mock.calls.map(([options]) => options)).toEqual([
      { connectionTimeout: 1000, requestTimeout: 5000, throwOnRequestTimeout: true },
      { connectionTimeout: 1000, requestTimeout: 3000, throwOnRequestTimeout: true },
      { connectionTimeout: 1000, requestTimeout: 5000, throwOnRequestTimeout: true },
    ]);
    expect(CALL_TIMEOUTS).toEqual({
      dynamodb: { connectionTimeoutMs: 1000, requestTimeoutMs: 5000 },
      managementApi: { connectionTimeoutMs: 1000, requestTimeoutMs: 3000 },
      lambda: { connectionTimeoutMs: 1000, requestTimeoutMs: 5000 },
    });
  });
});
