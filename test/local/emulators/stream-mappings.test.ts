import type { LocalFunction, LocalStreamMapping } from '../../../local/cloudformation/local-model';
import type { StreamDeadLetter } from '../../../local/emulators/lambda-invoke-api';
import type { StreamLambdaEvent } from '../../../local/emulators/stream-event-source';
import { LocalStreamMappings, type StreamMappingsOptions } from '../../../local/emulators/stream-mappings';
import { FakeDynamoDbStream } from './fake-dynamodb-stream';
import { FakeLambda, lambdaMap, waitUntil } from './fake-lambda';

const EVENT_FILTER = '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"sk":{"S":[{"prefix":"event#"}]}}}}';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:App-Realtime-PublisherDeadLetters';

const fn = (logicalId: string): LocalFunction => ({
  key: `App-Realtime/${logicalId}`,
  functionName: `App-Realtime-${logicalId}`,
  logicalId,
  stackName: 'App-Realtime',
  assetDir: '/tmp/assembly/asset.0123',
  handler: 'index.handler',
  environment: {},
  timeoutSeconds: 10,
});

function mapping(
  stream: FakeDynamoDbStream,
  overrides: Partial<LocalStreamMapping> = {},
): LocalStreamMapping {
  return {
    key: 'App-Realtime/PublisherMapping',
    functionKey: 'App-Realtime/Publisher',
    tableName: 'App-Data-CommentsTable',
    streamArn: stream.streamArn,
    settings: {
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 10,
      MaximumRetryAttempts: 0,
      FilterCriteria: { Filters: [{ Pattern: EVENT_FILTER }] },
    },
    onFailure: QUEUE_ARN,
    enabled: true,
    ...overrides,
  };
}

/** What one test started: the mappings, their functions, and what reached the dead-letter list and the log. */
interface Harness {
  readonly mappings: LocalStreamMappings;
  readonly lambdas: Record<string, FakeLambda>;
  readonly deadLetters: StreamDeadLetter[];
  readonly logs: string[];
}

const started: LocalStreamMappings[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((mappings) => mappings.stop()));
});

function harness(
  stream: FakeDynamoDbStream,
  mappings: LocalStreamMapping[],
  lambdas: Record<string, FakeLambda> = { 'App-Realtime/Publisher': new FakeLambda() },
  options: Partial<StreamMappingsOptions> = {},
): Harness {
  const deadLetters: StreamDeadLetter[] = [];
  const logs: string[] = [];
  const running = new LocalStreamMappings({
    mappings,
    functions: new Map(Object.keys(lambdas).map((key) => [key, fn(key.split('/')[1] ?? key)])),
    lambdas: lambdaMap(lambdas),
    client: stream.client,
    deadLetter: (letter) => deadLetters.push(letter),
    region: 'us-east-1',
    accountId: '000000000000',
    log: (message) => logs.push(message),
    tuning: { pollIntervalMs: 5, shardDiscoveryIntervalMs: 10, retryBackoff: { baseMs: 1, maxMs: 5 } },
    ...options,
  });
  started.push(running);
  return { mappings: running, lambdas, deadLetters, logs };
}

const keysOf = (event: unknown): string[] =>
  (event as StreamLambdaEvent).Records.map((record) => String(record.dynamodb.Keys.sk?.S));

describe('LocalStreamMappings', () => {
  it("invokes the mapped function's runtime with the records its filter lets through", async () => {
    // Prepare
    const stream = new FakeDynamoDbStream();
    const { mappings, lambdas } = harness(stream, [mapping(stream)]);
    stream.put('post#1', 'comment#01');
    stream.put('post#1', 'event#000000000001');

    // Act
    await mappings.start();
    const event = await lambdas['App-Realtime/Publisher']?.waitForEvent();

    // Assess
    expect(keysOf(event)).toEqual(['event#000000000001']);
  });

  it('logs one line per mapping at start: what it reads, what it invokes and how', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream();
    const { mappings, logs } = harness(stream, [
      mapping(stream),
      mapping(stream, { key: 'App-Realtime/OffMapping', enabled: false }),
    ]);

    // Act
    await mappings.start();

    // Assess
    expect(logs).toEqual([
      'stream mapping App-Realtime/PublisherMapping: App-Data-CommentsTable stream → App-Realtime-Publisher ' +
        `(TRIM_HORIZON, batch 10, 1 filter, on failure → ${QUEUE_ARN})`,
      'stream mapping App-Realtime/OffMapping: disabled (Enabled: false)',
    ]);
  });

  it('puts what a mapping gives up on in the dead-letter list, tagged with its on-failure destination', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream();
    const failing = new FakeLambda(() => {
      throw new Error('publisher down');
    });
    const { mappings, deadLetters, logs } = harness(stream, [mapping(stream)], {
      'App-Realtime/Publisher': failing,
    });
    stream.put('post#1', 'event#000000000001');

    // Act
    await mappings.start();
    await waitUntil(() => deadLetters.length === 1);

    // Assess
    expect(deadLetters[0]).toMatchObject({
      destination: QUEUE_ARN,
      requestContext: {
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:App-Realtime-Publisher',
        condition: 'RetryAttemptsExhausted',
      },
      DDBStreamBatchInfo: { batchSize: 1, streamArn: stream.streamArn },
    });
    expect(logs).toContainEqual(
      expect.stringMatching(
        /^stream mapping App-Realtime\/PublisherMapping: gave up on 1 records of shardId-/,
      ),
    );
  });

  it('leaves the destination out when the mapping has none', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream();
    const failing = new FakeLambda(() => {
      throw new Error('publisher down');
    });
    const { mappings, deadLetters } = harness(stream, [mapping(stream, { onFailure: undefined })], {
      'App-Realtime/Publisher': failing,
    });
    stream.put('post#1', 'event#000000000001');

    // Act
    await mappings.start();
    await waitUntil(() => deadLetters.length === 1);

    // Assess
    expect(deadLetters[0]).not.toHaveProperty('destination');
  });

  it('arms failures on every mapping at once, says how many are left, and disarms', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream();
    const publisher = new FakeLambda();
    const auditor = new FakeLambda();
    const { mappings } = harness(
      stream,
      [
        mapping(stream, { settings: { StartingPosition: 'TRIM_HORIZON', MaximumRetryAttempts: -1 } }),
        mapping(stream, {
          key: 'App-Realtime/AuditorMapping',
          functionKey: 'App-Realtime/Auditor',
          settings: { StartingPosition: 'TRIM_HORIZON', MaximumRetryAttempts: -1 },
        }),
      ],
      { 'App-Realtime/Publisher': publisher, 'App-Realtime/Auditor': auditor },
    );

    // Act
    mappings.arm(2);
    const leftBefore = mappings.left();
    stream.put('post#1', 'event#000000000001');
    await mappings.start();
    await publisher.waitForEvent();
    await auditor.waitForEvent();
    const leftAfter = mappings.left();
    mappings.arm(5);
    mappings.arm(0);

    // Assess: each mapping failed twice before its function saw the record once.
    expect(leftBefore).toBe(2);
    expect(leftAfter).toBe(0);
    expect(mappings.left()).toBe(0);
    expect(mappings.stats()['App-Realtime/PublisherMapping']).toMatchObject({ invocations: 3, retries: 2 });
    expect(mappings.stats()['App-Realtime/AuditorMapping']).toMatchObject({ invocations: 3, retries: 2 });
    expect(publisher.invoke).toHaveBeenCalledTimes(1);
  });

  it('starts nothing for a disabled mapping', async () => {
    // Prepare
    const stream = new FakeDynamoDbStream();
    const { mappings, lambdas } = harness(stream, [mapping(stream, { enabled: false })]);
    stream.put('post#1', 'event#000000000001');

    // Act
    await mappings.start();
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Assess
    expect(stream.calls.describeStream).toBe(0);
    expect(lambdas['App-Realtime/Publisher']?.invoke).not.toHaveBeenCalled();
    expect(mappings.stats()).toEqual({});
  });

  it('refuses a mapping whose function has no runtime, naming both', () => {
    // Prepare
    const stream = new FakeDynamoDbStream();

    // Act
    const create = (): Harness => harness(stream, [mapping(stream, { functionKey: 'App-Realtime/Missing' })]);

    // Assess
    expect(create).toThrow(
      'Stream mapping App-Realtime/PublisherMapping: no local runtime for App-Realtime/Missing',
    );
  });
});
