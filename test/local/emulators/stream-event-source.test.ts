import { sleep } from '../../../contracts/backoff';
import { pause } from '../../../local/emulators/abortable-wait';
import { FilterPatternError } from '../../../local/emulators/event-filter';
import {
  LocalStreamEventSource,
  type LocalStreamEventSourceOptions,
  type StreamEventSourceMappingSettings,
  type StreamLambdaEvent,
  type StreamOnFailureRecord,
} from '../../../local/emulators/stream-event-source';
import { laneIndex } from '../../../local/emulators/stream-records';
import { FakeDynamoDbStream } from './fake-dynamodb-stream';

const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:publisher';
/** 2026-01-01T00:00:00Z: the fake stream's and the event source's clock unless a test moves it. */
const T0 = 1_767_225_600_000;

/** One mapping under test: what the function saw and what reached the on-failure destination. */
interface Harness {
  readonly stream: FakeDynamoDbStream;
  readonly source: LocalStreamEventSource;
  readonly events: StreamLambdaEvent[];
  readonly failures: StreamOnFailureRecord[];
  readonly logs: string[];
}

const running: LocalStreamEventSource[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((source) => source.stop()));
});

/** Fast polling and near-zero retry delays, so tests wait on events, never on the clock. */
function harness(
  settings: Partial<StreamEventSourceMappingSettings>,
  respond: (event: StreamLambdaEvent, call: number) => unknown = () => undefined,
  overrides: Partial<LocalStreamEventSourceOptions> & { stream?: FakeDynamoDbStream } = {},
): Harness {
  const { stream = new FakeDynamoDbStream(() => T0), ...options } = overrides;
  const events: StreamLambdaEvent[] = [];
  const failures: StreamOnFailureRecord[] = [];
  const logs: string[] = [];
  const source = new LocalStreamEventSource({
    client: stream.client,
    streamArn: stream.streamArn,
    settings: { StartingPosition: 'TRIM_HORIZON', ...settings },
    invoke: async (event) => {
      events.push(structuredClone(event));
      return respond(event, events.length);
    },
    onFailure: (record) => {
      failures.push(record);
    },
    log: (message) => logs.push(message),
    functionArn: FUNCTION_ARN,
    pollIntervalMs: 5,
    shardDiscoveryIntervalMs: 10,
    retryBackoff: { baseMs: 1, maxMs: 5 },
    now: () => T0,
    ...options,
  });
  running.push(source);
  return { stream, source, events, failures, logs };
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Waits until `count` records are processed and nothing is left in flight. */
async function waitUntilSettled({ source }: Harness, delivered: number, givenUp = 0): Promise<void> {
  await waitFor(
    () =>
      source.stats.recordsDelivered === delivered &&
      source.stats.recordsGivenUp === givenUp &&
      source.stats.pendingRecords === 0,
    `${delivered} records delivered and ${givenUp} given up; stats ${JSON.stringify(source.stats)}`,
  );
}

const sortKeys = (event: StreamLambdaEvent): (string | undefined)[] =>
  event.Records.map((record) => record.dynamodb.Keys.sk?.S);
const batches = (events: StreamLambdaEvent[]): (string | undefined)[][] => events.map(sortKeys);

describe('LocalStreamEventSource', () => {
  describe('reading and batching', () => {
    it('delivers the records in order, in batches of at most BatchSize, in the Lambda event shape', async () => {
      // Prepare
      const h = harness({ BatchSize: 2 });
      const first = h.stream.put('topic#1', 'e1', { blob: { B: new Uint8Array([1, 2, 3]) } });
      for (const sk of ['e2', 'e3', 'e4', 'e5']) h.stream.put('topic#1', sk);

      // Act
      await h.source.start();
      await waitUntilSettled(h, 5);

      // Assess
      expect(batches(h.events)).toEqual([['e1', 'e2'], ['e3', 'e4'], ['e5']]);
      expect(h.events[0]?.Records[0]).toEqual({
        eventID: `event-${first}`,
        eventName: 'INSERT',
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: 'eu-west-1',
        dynamodb: {
          ApproximateCreationDateTime: T0 / 1000,
          Keys: { pk: { S: 'topic#1' }, sk: { S: 'e1' } },
          NewImage: { pk: { S: 'topic#1' }, sk: { S: 'e1' }, blob: { B: 'AQID' } },
          SequenceNumber: first,
          SizeBytes: 42,
          StreamViewType: 'NEW_IMAGE',
        },
        eventSourceARN: h.stream.streamArn,
      });
    });

    it('starts after the newest record with LATEST', async () => {
      // Prepare
      const h = harness({ StartingPosition: 'LATEST' });
      h.stream.put('topic#1', 'before-1');
      h.stream.put('topic#1', 'before-2');

      // Act
      await h.source.start();
      h.stream.put('topic#1', 'after-1');
      h.stream.put('topic#1', 'after-2');
      await waitUntilSettled(h, 2);

      // Assess
      expect(batches(h.events).flat()).toEqual(['after-1', 'after-2']);
    });

    it('skips the records the filter excludes and counts them as processed', async () => {
      // Prepare
      const h = harness({
        FilterCriteria: {
          Filters: [{ Pattern: '{"dynamodb":{"NewImage":{"sk":{"S":[{"prefix":"event#"}]}}}}' }],
        },
      });
      for (const sk of ['event#1', 'meta#1', 'event#2', 'meta#2']) h.stream.put('topic#1', sk);

      // Act
      await h.source.start();
      await waitUntilSettled(h, 2);

      // Assess
      expect(batches(h.events)).toEqual([['event#1', 'event#2']]);
      expect(h.source.stats.recordsFiltered).toBe(2);
    });

    it('waits for a full batch within MaximumBatchingWindowInSeconds', async () => {
      // Prepare
      const h = harness({ BatchSize: 3, MaximumBatchingWindowInSeconds: 300 });
      await h.source.start();

      // Act
      h.stream.put('topic#1', 'e1');
      await waitFor(() => h.source.stats.pendingRecords === 1, 'the first record to be read');
      const invokedEarly = h.events.length;
      h.stream.put('topic#1', 'e2');
      h.stream.put('topic#1', 'e3');
      await waitUntilSettled(h, 3);

      // Assess
      expect(invokedEarly).toBe(0);
      expect(batches(h.events)).toEqual([['e1', 'e2', 'e3']]);
    });

    it('sends a smaller batch when the batching window ends', async () => {
      // Prepare
      const h = harness({ BatchSize: 100, MaximumBatchingWindowInSeconds: 1 });
      h.stream.put('topic#1', 'e1');
      h.stream.put('topic#1', 'e2');

      // Act
      await h.source.start();
      await waitUntilSettled(h, 2);

      // Assess
      expect(batches(h.events)).toEqual([['e1', 'e2']]);
    });

    it('resumes after the last record read when its iterator expires', async () => {
      // Prepare
      const h = harness({});
      h.stream.put('topic#1', 'e1');
      h.stream.put('topic#1', 'e2');
      await h.source.start();
      await waitUntilSettled(h, 2);

      // Act
      h.stream.expireIterators();
      h.stream.put('topic#1', 'e3');
      h.stream.put('topic#1', 'e4');
      await waitUntilSettled(h, 4);

      // Assess
      expect(batches(h.events).flat()).toEqual(['e1', 'e2', 'e3', 'e4']);
      expect(h.stream.calls.getShardIterator).toBeGreaterThanOrEqual(2);
    });
  });

  describe('shards', () => {
    it('reads a child shard only after every record of its parent is processed', async () => {
      // Prepare
      const h = harness({ BatchSize: 1 }, async (event) => {
        // Slow on the parent's records, so that reading the child early would overtake them.
        if (sortKeys(event)[0]?.startsWith('parent')) await sleep(20);
      });
      const parent = h.stream.openShard();
      for (const sk of ['parent-1', 'parent-2', 'parent-3']) h.stream.put('topic#1', sk, {}, parent);
      h.stream.closeShard(parent);
      const child = h.stream.openShard(parent);
      h.stream.put('topic#1', 'child-1', {}, child);
      h.stream.put('topic#1', 'child-2', {}, child);

      // Act
      await h.source.start();
      await waitUntilSettled(h, 5);

      // Assess
      expect(batches(h.events).flat()).toEqual(['parent-1', 'parent-2', 'parent-3', 'child-1', 'child-2']);
    });

    it('follows a shard rollover after start, reading the new shard from its first record', async () => {
      // Prepare
      const h = harness({ StartingPosition: 'LATEST' });
      await h.source.start();
      h.stream.put('topic#1', 'e1');
      await waitUntilSettled(h, 1);

      // Act
      h.stream.closeShard(h.stream.firstShardId);
      const child = h.stream.openShard(h.stream.firstShardId);
      h.stream.put('topic#1', 'e2', {}, child);
      h.stream.put('topic#1', 'e3', {}, child);
      await waitUntilSettled(h, 3);

      // Assess
      expect(batches(h.events).flat()).toEqual(['e1', 'e2', 'e3']);
    });

    it('skips closed shards with LATEST', async () => {
      // Prepare
      const h = harness({ StartingPosition: 'LATEST' });
      const parent = h.stream.openShard();
      h.stream.put('topic#1', 'old', {}, parent);
      h.stream.closeShard(parent);
      h.stream.openShard(parent);

      // Act
      await h.source.start();
      h.stream.put('topic#1', 'new');
      await waitUntilSettled(h, 1);

      // Assess
      expect(batches(h.events).flat()).toEqual(['new']);
    });
  });

  describe('function results', () => {
    it('checkpoints before the lowest reported item failure and retries from there', async () => {
      // Prepare
      const sequence: string[] = [];
      const h = harness({ FunctionResponseTypes: ['ReportBatchItemFailures'] }, (_event, call) =>
        call === 1
          ? { batchItemFailures: [{ itemIdentifier: sequence[3] }, { itemIdentifier: sequence[2] }] }
          : { batchItemFailures: [] },
      );
      for (const sk of ['e1', 'e2', 'e3', 'e4', 'e5']) sequence.push(h.stream.put('topic#1', sk));

      // Act
      await h.source.start();
      await waitUntilSettled(h, 5);

      // Assess
      expect(batches(h.events)).toEqual([
        ['e1', 'e2', 'e3', 'e4', 'e5'],
        ['e3', 'e4', 'e5'],
      ]);
      expect(h.source.stats.retries).toBe(1);
    });

    it.each([
      ['an itemIdentifier not in the batch', { batchItemFailures: [{ itemIdentifier: '999' }] }],
      ['an item without itemIdentifier', { batchItemFailures: [{ id: '1' }] }],
      ['batchItemFailures that is not a list', { batchItemFailures: 'e2' }],
      ['a response that is not an object', 'partial'],
    ])('retries the whole batch on %s', async (_case, response) => {
      // Prepare
      const h = harness({ FunctionResponseTypes: ['ReportBatchItemFailures'] }, (_event, call) =>
        call === 1 ? response : null,
      );
      for (const sk of ['e1', 'e2', 'e3']) h.stream.put('topic#1', sk);

      // Act
      await h.source.start();
      await waitUntilSettled(h, 3);

      // Assess
      expect(batches(h.events)).toEqual([
        ['e1', 'e2', 'e3'],
        ['e1', 'e2', 'e3'],
      ]);
    });

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['an empty object', {}],
      ['null batchItemFailures', { batchItemFailures: null }],
      ['an empty list', { batchItemFailures: [] }],
    ])('counts %s as full success', async (_case, response) => {
      // Prepare
      const h = harness({ FunctionResponseTypes: ['ReportBatchItemFailures'] }, () => response);
      h.stream.put('topic#1', 'e1');

      // Act
      await h.source.start();
      await waitUntilSettled(h, 1);

      // Assess
      expect(h.events).toHaveLength(1);
    });

    it('ignores batchItemFailures unless FunctionResponseTypes asks for them', async () => {
      // Prepare
      const h = harness({}, (event) => ({
        batchItemFailures: [{ itemIdentifier: event.Records[0]?.dynamodb.SequenceNumber }],
      }));
      h.stream.put('topic#1', 'e1');

      // Act
      await h.source.start();
      await waitUntilSettled(h, 1);

      // Assess
      expect(h.events).toHaveLength(1);
    });

    it('retries the whole batch when the invocation fails', async () => {
      // Prepare
      const h = harness({}, (_event, call) => {
        if (call === 1) throw new Error('boom');
      });
      for (const sk of ['e1', 'e2', 'e3']) h.stream.put('topic#1', sk);

      // Act
      await h.source.start();
      await waitUntilSettled(h, 3);

      // Assess
      expect(batches(h.events)).toEqual([
        ['e1', 'e2', 'e3'],
        ['e1', 'e2', 'e3'],
      ]);
      expect(h.logs.some((line) => line.includes('Unhandled: boom'))).toBe(true);
    });
  });

  describe('giving up', () => {
    it('sends the batch to onFailure once the retries are used up, then carries on', async () => {
      // Prepare
      const h = harness({ MaximumRetryAttempts: 2 }, (event) => {
        if (sortKeys(event).some((sk) => sk?.startsWith('bad'))) throw new Error('poison');
      });
      const sequence = ['bad-1', 'bad-2', 'bad-3'].map((sk) => h.stream.put('topic#1', sk));
      await h.source.start();
      await waitUntilSettled(h, 0, 3);

      // Act
      h.stream.put('topic#1', 'good');
      await waitUntilSettled(h, 1, 3);

      // Assess
      expect(batches(h.events)).toEqual(
        [...Array(3)].map(() => ['bad-1', 'bad-2', 'bad-3']).concat([['good']]),
      );
      expect(h.failures).toEqual([
        {
          requestContext: {
            requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
            functionArn: FUNCTION_ARN,
            condition: 'RetryAttemptsExhausted',
            approximateInvokeCount: 3,
          },
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          version: '1.0',
          timestamp: '2026-01-01T00:00:00.000Z',
          DDBStreamBatchInfo: {
            shardId: h.stream.firstShardId,
            startSequenceNumber: sequence[0],
            endSequenceNumber: sequence[2],
            approximateArrivalOfFirstRecord: '2026-01-01T00:00:00Z',
            approximateArrivalOfLastRecord: '2026-01-01T00:00:00Z',
            batchSize: 3,
            streamArn: h.stream.streamArn,
          },
        },
      ]);
      expect(h.source.stats).toMatchObject({
        invocations: 4,
        retries: 2,
        failuresReported: 1,
        recordsGivenUp: 3,
      });
    });

    it('gives up only the records from the reported failure on', async () => {
      // Prepare
      const sequence: string[] = [];
      const h = harness(
        { FunctionResponseTypes: ['ReportBatchItemFailures'], MaximumRetryAttempts: 2 },
        () => ({
          batchItemFailures: [{ itemIdentifier: sequence[1] }],
        }),
      );
      for (const sk of ['r1', 'r2', 'r3']) sequence.push(h.stream.put('topic#1', sk));

      // Act
      await h.source.start();
      await waitUntilSettled(h, 1, 2);

      // Assess
      expect(batches(h.events)).toEqual([
        ['r1', 'r2', 'r3'],
        ['r2', 'r3'],
        ['r2', 'r3'],
      ]);
      expect(h.failures).toHaveLength(1);
      expect(h.failures[0]?.requestContext).toMatchObject({ approximateInvokeCount: 3 });
      expect(h.failures[0]?.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
      expect(h.failures[0]?.DDBStreamBatchInfo).toMatchObject({
        startSequenceNumber: sequence[1],
        endSequenceNumber: sequence[2],
        batchSize: 2,
      });
    });

    it('bisects a failing batch until the poison record stands alone, and gives up only that one', async () => {
      // Prepare
      const h = harness(
        { BatchSize: 4, BisectBatchOnFunctionError: true, MaximumRetryAttempts: 1 },
        (event) => {
          if (sortKeys(event).includes('e3')) throw new Error('poison');
        },
      );
      const sequence = ['e1', 'e2', 'e3', 'e4'].map((sk) => h.stream.put('topic#1', sk));

      // Act
      await h.source.start();
      await waitUntilSettled(h, 3, 1);

      // Assess
      expect(batches(h.events)).toEqual([
        ['e1', 'e2', 'e3', 'e4'],
        ['e1', 'e2'],
        ['e3', 'e4'],
        ['e3'],
        ['e3'],
        ['e4'],
      ]);
      expect(h.failures).toHaveLength(1);
      expect(h.failures[0]?.requestContext).toMatchObject({
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 4,
      });
      expect(h.failures[0]?.DDBStreamBatchInfo).toMatchObject({
        startSequenceNumber: sequence[2],
        endSequenceNumber: sequence[2],
        batchSize: 1,
      });
    });

    it('gives up records older than MaximumRecordAgeInSeconds', async () => {
      // Prepare
      let now = T0;
      const stream = new FakeDynamoDbStream(() => now);
      const h = harness(
        { MaximumRecordAgeInSeconds: 60 },
        (_event, call) => {
          if (call === 1) {
            now += 61_000;
            throw new Error('slow failure');
          }
        },
        { stream, now: () => now },
      );
      const sequence = ['e1', 'e2'].map((sk) => stream.put('topic#1', sk));

      // Act
      await h.source.start();
      await waitUntilSettled(h, 0, 2);
      stream.put('topic#1', 'e3');
      await waitUntilSettled(h, 1, 2);

      // Assess
      expect(batches(h.events)).toEqual([['e1', 'e2'], ['e3']]);
      expect(h.failures).toHaveLength(1);
      expect(h.failures[0]).toMatchObject({
        requestContext: { condition: 'RecordAgeExceeded', approximateInvokeCount: 1 },
        timestamp: '2026-01-01T00:01:01.000Z',
        DDBStreamBatchInfo: {
          startSequenceNumber: sequence[0],
          endSequenceNumber: sequence[1],
          batchSize: 2,
        },
      });
    });

    it('carries on when the on-failure destination refuses the record', async () => {
      // Prepare
      const h = harness(
        { MaximumRetryAttempts: 0 },
        (event) => {
          if (sortKeys(event).includes('bad')) throw new Error('poison');
        },
        {
          onFailure: () => {
            throw new Error('queue is gone');
          },
        },
      );
      h.stream.put('topic#1', 'bad');
      await h.source.start();
      await waitUntilSettled(h, 0, 1);

      // Act
      h.stream.put('topic#1', 'good');
      await waitUntilSettled(h, 1, 1);

      // Assess
      expect(h.logs.some((line) => line.includes('queue is gone'))).toBe(true);
    });
  });

  describe('parallelization', () => {
    it('keeps each partition key in order while different keys are delivered concurrently', async () => {
      // Prepare
      const keys = ['topic#a', 'topic#b', 'topic#c', 'topic#d', 'topic#e', 'topic#f'];
      const seen = new Map<string, string[]>();
      const inFlightPerLane = new Map<number, number>();
      let inFlight = 0;
      let maxInFlight = 0;
      let laneOverlap = false;
      const h = harness({ BatchSize: 1, ParallelizationFactor: 4 }, async (event) => {
        const record = event.Records[0]!;
        const lane = laneIndex(record, 'pk', 4);
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        inFlightPerLane.set(lane, (inFlightPerLane.get(lane) ?? 0) + 1);
        laneOverlap ||= inFlightPerLane.get(lane)! > 1;
        // The first invocation holds until a second one runs beside it (or gives up after a while).
        if (maxInFlight === 1)
          await waitFor(() => maxInFlight > 1, 'a concurrent invocation', 10_000).catch(() => {});
        await sleep(1);
        const pk = record.dynamodb.Keys.pk!.S!;
        seen.set(pk, [...(seen.get(pk) ?? []), record.dynamodb.Keys.sk!.S!]);
        inFlightPerLane.set(lane, inFlightPerLane.get(lane)! - 1);
        inFlight -= 1;
      });
      for (let index = 1; index <= 5; index += 1) for (const pk of keys) h.stream.put(pk, `e${index}`);

      // Act
      await h.source.start();
      await waitUntilSettled(h, keys.length * 5);

      // Assess
      const lanes = new Set(h.events.map((event) => laneIndex(event.Records[0]!, 'pk', 4)));
      expect(lanes.size).toBeGreaterThan(1);
      for (const pk of keys) expect(seen.get(pk)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
      expect(maxInFlight).toBeGreaterThan(1);
      expect(laneOverlap).toBe(false);
    });
  });

  describe('fault injection and stats', () => {
    it('fails the next invocations without running the function', async () => {
      // Prepare
      const h = harness({});
      h.source.failNextInvocations(2);
      h.stream.put('topic#1', 'e1');

      // Act
      await h.source.start();
      await waitUntilSettled(h, 1);

      // Assess
      expect(h.events).toHaveLength(1);
      expect(h.source.stats).toMatchObject({
        invocations: 3,
        retries: 2,
        recordsDelivered: 1,
        failuresReported: 0,
      });
    });

    it('reports an injected failure as an unhandled function error', async () => {
      // Prepare
      const h = harness({ MaximumRetryAttempts: 0 });
      h.source.failNextInvocations(1);
      h.stream.put('topic#1', 'e1');

      // Act
      await h.source.start();
      await waitUntilSettled(h, 0, 1);

      // Assess
      expect(h.events).toHaveLength(0);
      expect(h.failures[0]?.responseContext.functionError).toBe('Unhandled');
    });

    it('reports the records waiting for the function and how old the oldest is', async () => {
      // Prepare
      let now = T0;
      let release = (): void => undefined;
      const stream = new FakeDynamoDbStream(() => now);
      const h = harness({}, () => new Promise<void>((resolve) => (release = resolve)), {
        stream,
        now: () => now,
      });
      stream.put('topic#1', 'e1');
      stream.put('topic#1', 'e2');
      await h.source.start();
      await waitFor(() => h.events.length === 1, 'the invocation');

      // Act
      now += 5_000;
      const whileBlocked = h.source.stats;
      release();
      await waitUntilSettled(h, 2);

      // Assess
      expect(whileBlocked).toMatchObject({ pendingRecords: 2, lagMs: 5_000 });
      expect(h.source.stats).toMatchObject({ pendingRecords: 0, lagMs: 0 });
    });
  });

  describe('stop', () => {
    it('waits for the invocation in flight, then polls no more', async () => {
      // Prepare
      let release = (): void => undefined;
      const h = harness({}, () => new Promise<void>((resolve) => (release = resolve)));
      h.stream.put('topic#1', 'e1');
      await h.source.start();
      await waitFor(() => h.events.length === 1, 'the invocation');

      // Act
      let stopped = false;
      const stopping = h.source.stop().then(() => (stopped = true));
      for (let tick = 0; tick < 10; tick += 1) await new Promise((resolve) => setImmediate(resolve));
      const stoppedBeforeRelease = stopped;
      release();
      await stopping;
      const reads = h.stream.calls.getRecords;
      await sleep(50);

      // Assess
      expect(stoppedBeforeRelease).toBe(false);
      expect(h.stream.calls.getRecords).toBe(reads);
    });

    it.each([
      ['a retry delay', { MaximumRetryAttempts: -1 }, { baseMs: 60_000, maxMs: 60_000 }],
      ['a batching window', { BatchSize: 10, MaximumBatchingWindowInSeconds: 300 }, undefined],
    ])('does not wait out %s', async (_case, settings, retryBackoff) => {
      // Prepare
      const h = harness(
        settings,
        () => {
          throw new Error('always');
        },
        { retryBackoff, random: () => 0.99 },
      );
      h.stream.put('topic#1', 'e1');
      await h.source.start();
      await waitFor(() => h.source.stats.pendingRecords === 1 && h.source.stats.retries <= 1, 'the record');
      if (retryBackoff) await waitFor(() => h.source.stats.retries === 1, 'the first retry to be scheduled');

      // Act
      const deadline = new AbortController();
      const stopped = await Promise.race([
        h.source.stop().then(() => 'stopped'),
        pause(15_000, deadline.signal).then(() => 'late'),
      ]);
      deadline.abort();

      // Assess
      expect(stopped).toBe('stopped');
    });
  });

  describe('start', () => {
    it('rejects when the stream does not exist, leaving nothing running', async () => {
      // Prepare
      const h = harness({}, undefined, {
        streamArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Gone/stream/x',
      });

      // Act
      const starting = h.source.start();

      // Assess
      await expect(starting).rejects.toThrow(/Stream: .*Gone.* not found/);
      const reads = h.stream.calls.describeStream;
      await sleep(50);
      expect(h.stream.calls.describeStream).toBe(reads);
    });
  });

  describe('settings', () => {
    it.each<[string, Partial<StreamEventSourceMappingSettings>, RegExp]>([
      ['BatchSize 0', { BatchSize: 0 }, /BatchSize must be an integer from 1 to 10000/],
      [
        'a batching window over 300 s',
        { MaximumBatchingWindowInSeconds: 301 },
        /MaximumBatchingWindowInSeconds/,
      ],
      ['MaximumRetryAttempts -2', { MaximumRetryAttempts: -2 }, /MaximumRetryAttempts/],
      ['a record age under 60 s', { MaximumRecordAgeInSeconds: 30 }, /-1 or from 60 to 604800/],
      ['ParallelizationFactor 11', { ParallelizationFactor: 11 }, /ParallelizationFactor/],
      ['an unknown response type', { FunctionResponseTypes: ['ReportEverything'] }, /FunctionResponseTypes/],
      [
        'AT_TIMESTAMP',
        { StartingPosition: 'AT_TIMESTAMP' as 'LATEST' },
        /StartingPosition must be TRIM_HORIZON or LATEST/,
      ],
    ])('refuses %s', (_case, settings, message) => {
      expect(() => harness(settings)).toThrow(message);
    });

    it('refuses a filter AWS would refuse', () => {
      expect(() =>
        harness({ FilterCriteria: { Filters: [{ Pattern: '{"eventName":[{"like":"I%"}]}' }] } }),
      ).toThrow(FilterPatternError);
    });
  });
});
