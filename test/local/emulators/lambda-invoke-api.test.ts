import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  InvokeCommand,
  LambdaClient,
  RequestTooLargeException,
  ResourceNotFoundException,
} from '@aws-sdk/client-lambda';
import type { RouteAuthorizers } from '../../../local/auth/authorizers';
import { DEAD_LETTERS_PATH } from '../../../local/devtools/control-paths';
import { createDeadLetterRoute } from '../../../local/devtools/dead-letter-route';
import {
  LocalLambdaInvokeApi,
  MAX_ASYNC_PAYLOAD_BYTES,
  type DeadLetter,
  type LambdaInvokeApiOptions,
} from '../../../local/emulators/lambda-invoke-api';
import { verifySigV4 } from '../../../local/auth/sigv4-verifier';
import type { LocalFunction } from '../../../local/cloudformation/local-model';
import { FakeLambda, lambdaMap, waitUntil } from './fake-lambda';

/** The only key the SigV4 check knows, and what the SDK client signs with. */
const CREDENTIALS = { accessKeyId: 'LOCALTESTKEY', secretAccessKey: 'local-test-secret' };

const authorizers: RouteAuthorizers = {
  verifyJwt: () => Promise.reject(new Error('unexpected JWT check')),
  verifyIam: (request) => verifySigV4(request, { [CREDENTIALS.accessKeyId]: CREDENTIALS.secretAccessKey }),
};

const fn = (logicalId: string, asyncInvoke?: LocalFunction['asyncInvoke']): LocalFunction => ({
  key: `App/${logicalId}`,
  functionName: `App-${logicalId}`,
  logicalId,
  stackName: 'App',
  assetDir: '/nowhere',
  handler: 'index.handler',
  environment: {},
  timeoutSeconds: 3,
  ...(asyncInvoke ? { asyncInvoke } : {}),
});

const WORKER = fn('Worker', {
  maximumRetryAttempts: 2,
  onFailure: 'arn:aws:sqs:us-east-1:000000000000:App-DeadLetters',
});
const PLAIN = fn('Plain');
/** A function with ReservedConcurrentExecutions 2, like the fan-out worker's cap. */
const CAPPED: LocalFunction = { ...fn('Capped'), reservedConcurrency: 2 };

let api: LocalLambdaInvokeApi;
let server: Server;
let client: LambdaClient;
let lambdas: Record<string, FakeLambda>;
let logged: string[];

async function start(
  respond: Record<string, (event: unknown) => unknown>,
  options: Partial<LambdaInvokeApiOptions> = {},
) {
  lambdas = Object.fromEntries(
    Object.entries(respond).map(([key, handler]) => [key, new FakeLambda((event) => handler(event))]),
  );
  logged = [];
  api = new LocalLambdaInvokeApi({
    functions: [WORKER, PLAIN, CAPPED],
    lambdas: lambdaMap(lambdas),
    authorizers,
    region: 'us-east-1',
    accountId: '000000000000',
    retryDelayMs: 5,
    log: (message) => logged.push(message),
    ...options,
  });
  // As on the local stack's gateway port: the dev tools' dead-letter route beside the Invoke API.
  const deadLetters = createDeadLetterRoute(api);
  server = createServer((req, res) => {
    if (!api.handle(req, res) && !deadLetters(req, res)) res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  client = new LambdaClient({
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
}

const payload = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const decoded = (bytes: Uint8Array | undefined): unknown =>
  bytes === undefined || bytes.length === 0 ? undefined : JSON.parse(Buffer.from(bytes).toString('utf8'));

async function deadLetterRoute(method = 'GET'): Promise<{ deadLetters: DeadLetter[]; deadLettered: number }> {
  const { port } = server.address() as AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}${DEAD_LETTERS_PATH}`, { method });
  return (await response.json()) as { deadLetters: DeadLetter[]; deadLettered: number };
}

afterEach(async () => {
  api?.stop();
  client?.destroy();
  server?.closeAllConnections();
  if (server?.listening) await new Promise((resolve) => server.close(resolve));
});

describe('LocalLambdaInvokeApi', () => {
  it('answers an Event invocation with 202 at once and runs the function in the background', async () => {
    // Prepare
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await start({ 'App/Worker': () => gate.then(() => 'done') });

    // Act
    const response = await client.send(
      new InvokeCommand({
        FunctionName: WORKER.functionName,
        InvocationType: 'Event',
        Payload: payload({ n: 1 }),
      }),
    );
    const event = await lambdas['App/Worker']?.waitForEvent();
    const pendingWhileRunning = api.stats().pending;
    release();
    await api.idle();

    // Assess
    expect(response.StatusCode).toBe(202);
    expect(event).toEqual({ n: 1 });
    expect(pendingWhileRunning).toBe(1);
    expect(api.stats()).toEqual({ accepted: 1, retried: 0, deadLettered: 0, pending: 0, throttled: 0 });
  });

  it('retries a failed Event invocation as often as its EventInvokeConfig says, then dead-letters it', async () => {
    // Prepare
    await start({
      'App/Worker': () => {
        throw Object.assign(new Error('none reached'), { name: 'FanOutBatchFailedError' });
      },
    });

    // Act
    await client.send(
      new InvokeCommand({
        FunctionName: WORKER.functionName,
        InvocationType: 'Event',
        Payload: payload({ ids: ['a'] }),
      }),
    );
    await waitUntil(() => api.stats().deadLettered === 1);
    const listed = await deadLetterRoute();

    // Assess
    expect(lambdas['App/Worker']?.invoke).toHaveBeenCalledTimes(3);
    expect(api.stats()).toMatchObject({ accepted: 1, retried: 2, deadLettered: 1, pending: 0 });
    expect(listed.deadLettered).toBe(1);
    expect(listed.deadLetters).toEqual([
      {
        version: '1.0',
        timestamp: expect.any(String),
        requestContext: {
          requestId: expect.any(String),
          functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:App-Worker:$LATEST',
          condition: 'RetriesExhausted',
          approximateInvokeCount: 3,
        },
        requestPayload: { ids: ['a'] },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
        responsePayload: { errorType: 'FanOutBatchFailedError', errorMessage: 'none reached' },
        destination: 'arn:aws:sqs:us-east-1:000000000000:App-DeadLetters',
      },
    ]);
    expect(logged.filter((line) => line.includes('retrying'))).toHaveLength(2);
    expect(logged.at(-1)).toContain('dead-lettered after 3 attempts');
  });

  it('stops retrying once a retry succeeds', async () => {
    // Prepare
    let calls = 0;
    await start({
      'App/Worker': () => {
        calls += 1;
        if (calls === 1) throw new Error('once');
        return 'ok';
      },
    });

    // Act
    await client.send(new InvokeCommand({ FunctionName: WORKER.functionName, InvocationType: 'Event' }));
    await waitUntil(() => calls === 2);
    await api.idle();

    // Assess
    expect(api.stats()).toMatchObject({ retried: 1, deadLettered: 0 });
    expect(api.deadLetters).toEqual([]);
  });

  it('retries twice by default, for a function without an EventInvokeConfig', async () => {
    // Prepare
    await start({
      'App/Plain': () => {
        throw new Error('no');
      },
    });

    // Act
    await client.send(new InvokeCommand({ FunctionName: PLAIN.functionName, InvocationType: 'Event' }));
    await waitUntil(() => api.stats().deadLettered === 1);

    // Assess
    expect(lambdas['App/Plain']?.invoke).toHaveBeenCalledTimes(3);
    expect(api.deadLetters[0]?.destination).toBeUndefined();
  });

  it('empties the dead-letter list on DELETE', async () => {
    // Prepare
    await start({
      'App/Worker': () => {
        throw new Error('no');
      },
    });
    await client.send(new InvokeCommand({ FunctionName: WORKER.functionName, InvocationType: 'Event' }));
    await waitUntil(() => api.stats().deadLettered === 1);

    // Act
    const afterDelete = await deadLetterRoute('DELETE');

    // Assess
    expect(afterDelete.deadLetters).toEqual([]);
    expect(api.deadLetters).toEqual([]);
  });

  it('answers a RequestResponse invocation with the function result', async () => {
    // Prepare
    await start({ 'App/Plain': (event) => ({ echoed: event }) });

    // Act
    const response = await client.send(
      new InvokeCommand({ FunctionName: PLAIN.functionName, Payload: payload({ hello: 'world' }) }),
    );

    // Assess
    expect(response.StatusCode).toBe(200);
    expect(response.FunctionError).toBeUndefined();
    expect(decoded(response.Payload)).toEqual({ echoed: { hello: 'world' } });
  });

  it('answers a failed RequestResponse invocation with 200 and X-Amz-Function-Error, never retrying it', async () => {
    // Prepare
    await start({
      'App/Plain': () => {
        throw Object.assign(new Error('bad input'), { name: 'ValidationError' });
      },
    });

    // Act
    const response = await client.send(new InvokeCommand({ FunctionName: PLAIN.functionName }));

    // Assess
    expect(response.StatusCode).toBe(200);
    expect(response.FunctionError).toBe('Unhandled');
    expect(decoded(response.Payload)).toMatchObject({
      errorType: 'ValidationError',
      errorMessage: 'bad input',
    });
    expect(lambdas['App/Plain']?.invoke).toHaveBeenCalledTimes(1);
  });

  it.each([
    ['its ARN', 'arn:aws:lambda:us-east-1:000000000000:function:App-Plain'],
    ['its ARN with $LATEST', 'arn:aws:lambda:us-east-1:000000000000:function:App-Plain:$LATEST'],
    ['a partial ARN', '000000000000:function:App-Plain'],
  ])('finds the function by %s', async (_name, functionName) => {
    // Prepare
    await start({ 'App/Plain': () => 'found' });

    // Act
    const response = await client.send(new InvokeCommand({ FunctionName: functionName }));

    // Assess
    expect(decoded(response.Payload)).toBe('found');
  });

  it('answers DryRun with 204 without running the function', async () => {
    // Prepare
    await start({ 'App/Plain': () => 'ran' });

    // Act
    const response = await client.send(
      new InvokeCommand({ FunctionName: PLAIN.functionName, InvocationType: 'DryRun' }),
    );

    // Assess
    expect(response.StatusCode).toBe(204);
    expect(lambdas['App/Plain']?.invoke).not.toHaveBeenCalled();
  });

  it.each(['App-Missing', 'App-Plain:live'])(
    'answers %s with ResourceNotFoundException',
    async (functionName) => {
      // Prepare
      await start({ 'App/Plain': () => 'ran' });

      // Act
      const call = client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'Event' }));

      // Assess
      await expect(call).rejects.toThrow(ResourceNotFoundException);
    },
  );

  it('refuses an Event payload above 1 MB with RequestTooLargeException', async () => {
    // Prepare
    await start({ 'App/Worker': () => 'ran' });
    const big = payload({ pad: 'x'.repeat(MAX_ASYNC_PAYLOAD_BYTES) });

    // Act
    const call = client.send(
      new InvokeCommand({ FunctionName: WORKER.functionName, InvocationType: 'Event', Payload: big }),
    );

    // Assess
    await expect(call).rejects.toThrow(RequestTooLargeException);
    expect(lambdas['App/Worker']?.invoke).not.toHaveBeenCalled();
  });

  it('refuses an oversized Event payload with RequestTooLargeException even when it is not JSON', async () => {
    // Prepare
    await start({ 'App/Worker': () => 'ran' });
    const notJson = new TextEncoder().encode('{'.repeat(MAX_ASYNC_PAYLOAD_BYTES + 1));

    // Act
    const call = client.send(
      new InvokeCommand({ FunctionName: WORKER.functionName, InvocationType: 'Event', Payload: notJson }),
    );

    // Assess
    await expect(call).rejects.toThrow(RequestTooLargeException);
  });

  it('answers a function name with malformed percent-encoding with 400, not an exception', async () => {
    // Prepare
    await start({ 'App/Worker': () => 'ran' });
    const { port } = server.address() as AddressInfo;

    // Act
    const response = await fetch(`http://127.0.0.1:${port}/2015-03-31/functions/%ZZ/invocations`, {
      method: 'POST',
      body: '{}',
    });

    // Assess
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('InvalidParameterValueException');
    expect(await response.json()).toEqual({ message: 'Invalid function name' });
    expect(lambdas['App/Worker']?.invoke).not.toHaveBeenCalled();
  });

  it('refuses a payload that is not JSON', async () => {
    // Prepare
    await start({ 'App/Plain': () => 'ran' });

    // Act
    const call = client.send(
      new InvokeCommand({ FunctionName: PLAIN.functionName, Payload: new TextEncoder().encode('{nope') }),
    );

    // Assess
    await expect(call).rejects.toMatchObject({ name: 'InvalidRequestContentException' });
  });

  it.each([
    ['unsigned', undefined],
    ['signed with an unknown key', { accessKeyId: 'OTHER', secretAccessKey: 'x' }],
    ['signed with the wrong secret', { accessKeyId: CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' }],
  ])('refuses a request %s with 403, and runs nothing', async (_name, credentials) => {
    // Prepare
    await start({ 'App/Worker': () => 'ran' });
    const { port } = server.address() as AddressInfo;
    const other = credentials
      ? new LambdaClient({
          endpoint: `http://127.0.0.1:${port}`,
          region: 'us-east-1',
          credentials,
          maxAttempts: 1,
        })
      : undefined;

    // Act
    const status = other
      ? await other
          .send(new InvokeCommand({ FunctionName: WORKER.functionName, InvocationType: 'Event' }))
          .then(
            () => 202,
            (error: { $metadata?: { httpStatusCode?: number } }) => error.$metadata?.httpStatusCode,
          )
      : (
          await fetch(`http://127.0.0.1:${port}/2015-03-31/functions/${WORKER.functionName}/invocations`, {
            method: 'POST',
            headers: { 'x-amz-invocation-type': 'Event' },
            body: '{}',
          })
        ).status;
    other?.destroy();

    // Assess
    expect(status).toBe(403);
    expect(lambdas['App/Worker']?.invoke).not.toHaveBeenCalled();
  });

  it('dead-letters an event whose next retry would come after its maximum age', async () => {
    // Prepare
    const young = fn('Young', { maximumRetryAttempts: 2, maximumEventAgeSeconds: 0 });
    await start(
      {
        'App/Young': () => {
          throw new Error('no');
        },
      },
      { functions: [young] },
    );

    // Act
    await client.send(new InvokeCommand({ FunctionName: young.functionName, InvocationType: 'Event' }));
    await waitUntil(() => api.stats().deadLettered === 1);

    // Assess
    expect(api.deadLetters[0]?.requestContext).toMatchObject({
      condition: 'EventAgeExceeded',
      approximateInvokeCount: 1,
    });
  });
  it('runs no more Event invocations of a function at once than its reserved concurrency, queueing the rest', async () => {
    // Prepare
    let running = 0;
    let mostAtOnce = 0;
    await start({
      'App/Capped': async () => {
        running += 1;
        mostAtOnce = Math.max(mostAtOnce, running);
        await new Promise((resolve) => setTimeout(resolve, 30));
        running -= 1;
        return 'done';
      },
    });

    // Act
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, n) =>
        client.send(
          new InvokeCommand({
            FunctionName: CAPPED.functionName,
            InvocationType: 'Event',
            Payload: payload({ n }),
          }),
        ),
      ),
    );
    await api.idle();

    // Assess: every event ran once, two at a time, throttled rather than failed while waiting.
    expect(answers.map((answer) => answer.StatusCode)).toEqual([202, 202, 202, 202, 202, 202]);
    expect(lambdas['App/Capped']?.invoke).toHaveBeenCalledTimes(6);
    expect(mostAtOnce).toBe(2);
    expect(api.stats()).toMatchObject({ accepted: 6, retried: 0, deadLettered: 0, pending: 0 });
    expect(api.stats().throttled).toBeGreaterThan(0);
  });

  it('answers a RequestResponse invocation beyond the reserved concurrency with 429 TooManyRequestsException', async () => {
    // Prepare
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await start({ 'App/Capped': () => gate.then(() => 'done') });
    const busy = [1, 2].map(() =>
      client.send(new InvokeCommand({ FunctionName: CAPPED.functionName, Payload: payload({}) })),
    );
    await waitUntil(() => lambdas['App/Capped']?.invoke.mock.calls.length === 2);

    // Act
    const refused = await client
      .send(new InvokeCommand({ FunctionName: CAPPED.functionName, Payload: payload({}) }))
      .catch((error: unknown) => error);
    release();
    const answered = await Promise.all(busy);

    // Assess
    expect(refused).toMatchObject({ name: 'TooManyRequestsException', $metadata: { httpStatusCode: 429 } });
    expect(answered.map((answer) => decoded(answer.Payload))).toEqual(['done', 'done']);
    expect(lambdas['App/Capped']?.invoke).toHaveBeenCalledTimes(2);
  });
});
