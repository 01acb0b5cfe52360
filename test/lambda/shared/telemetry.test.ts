import type { Context } from 'aws-lambda';
import {
  countMetric,
  currentCorrelationId,
  durationMetric,
  instrumented,
  logger,
  metrics,
  tracer,
} from '../../../lambda/shared/telemetry';
import { captureLogs } from '../fixtures/log-capture';

/** The part of a Lambda context the wrapper reads. */
const lambdaContext = (awsRequestId: string): Context =>
  ({
    awsRequestId,
    functionName: 'fn',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:fn',
    memoryLimitInMB: '256',
    logGroupName: '/aws/lambda/fn',
    logStreamName: 'stream',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => 1000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  }) as Context;

interface Event {
  correlationId?: string;
}

/** What the handler saw of the invocation's correlation id, from the logger and from the async context. */
const seen: { logger?: string; current?: string }[] = [];
const observe = instrumented(
  async (_event: Event) => {
    seen.push({ logger: logger.getCorrelationId() as string | undefined, current: currentCorrelationId() });
    logger.info('Handled');
    return 'done';
  },
  { correlationId: (event) => event.correlationId },
);

beforeEach(() => {
  seen.length = 0;
});

afterEach(() => {
  jest.restoreAllMocks();
  logger.resetKeys();
});

describe('instrumented', () => {
  it("logs under the correlation id the event gives, and hands it to the invocation's code", async () => {
    // Act
    const lines = await captureLogs(logger, () =>
      observe({ correlationId: 'corr-1' }, lambdaContext('req-1')),
    );

    // Assess
    expect(seen).toEqual([{ logger: 'corr-1', current: 'corr-1' }]);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'INFO', message: 'Handled', correlation_id: 'corr-1' }),
    ]);
  });

  it("falls back to Lambda's request id when the event gives none", async () => {
    // Act
    await observe({}, lambdaContext('req-2'));

    // Assess
    expect(seen).toEqual([{ logger: 'req-2', current: 'req-2' }]);
  });

  it('adds the Lambda context to every line (request id, cold start, function)', async () => {
    // Act
    const lines = await captureLogs(logger, () =>
      observe({ correlationId: 'corr-3' }, lambdaContext('req-3')),
    );

    // Assess
    expect(lines[0]).toMatchObject({
      function_request_id: 'req-3',
      function_name: 'fn',
      cold_start: expect.any(Boolean),
      correlation_id: 'corr-3',
    });
  });

  it('never lets one invocation’s keys leak into the next', async () => {
    // Prepare
    const tagging = instrumented(async (event: Event) => {
      if (event.correlationId === 'first') logger.appendKeys({ postId: 'P1' });
      logger.info('Handled');
    });

    // Act
    const lines = await captureLogs(logger, async () => {
      await observe({ correlationId: 'first' }, lambdaContext('req-a'));
      await tagging({ correlationId: 'first' }, lambdaContext('req-b'));
      await tagging({}, lambdaContext('req-c'));
    });

    // Assess
    expect(lines.map((line) => [line.correlation_id, line.postId])).toEqual([
      ['first', undefined],
      ['req-b', 'P1'],
      ['req-c', undefined],
    ]);
    expect(logger.getCorrelationId()).toBeUndefined();
    expect(currentCorrelationId()).toBeUndefined();
  });

  it('clears the keys after a failed invocation too, and rethrows', async () => {
    // Prepare
    const failing = instrumented(async (_event: Event) => {
      throw new Error('boom');
    });

    // Act
    const run = failing({}, lambdaContext('req-f'));

    // Assess
    await expect(run).rejects.toThrow('boom');
    expect(logger.getCorrelationId()).toBeUndefined();
  });

  it('keeps concurrent invocations apart in their own async context', async () => {
    // Prepare
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const waiting = instrumented(
      async (event: Event) => {
        await gate;
        return currentCorrelationId() === event.correlationId;
      },
      { correlationId: (event) => event.correlationId },
    );

    // Act
    const both = Promise.all([waiting({ correlationId: 'one' }), waiting({ correlationId: 'two' })]);
    release();

    // Assess
    expect(await both).toEqual([true, true]);
  });

  it('flushes the stored metrics after every invocation, even a failed one', async () => {
    // Prepare
    const publish = jest.spyOn(metrics, 'publishStoredMetrics');
    const counting = instrumented(async (event: Event) => {
      countMetric('ConnectionsOpened');
      if (event.correlationId === 'fail') throw new Error('boom');
    });

    // Act
    await counting({});
    await expect(counting({ correlationId: 'fail' })).rejects.toThrow('boom');

    // Assess
    expect(publish).toHaveBeenCalledTimes(2);
  });

  describe('with tracing on (in Lambda)', () => {
    function fakeSegment() {
      const subsegment = { close: jest.fn(), addError: jest.fn() };
      const segment = { addNewSubsegment: jest.fn(() => subsegment) };
      jest.spyOn(tracer, 'isTracingEnabled').mockReturnValue(true);
      jest.spyOn(tracer, 'getSegment').mockReturnValue(segment as never);
      const setSegment = jest.spyOn(tracer, 'setSegment').mockImplementation(() => undefined);
      const annotations = jest.spyOn(tracer, 'putAnnotation').mockImplementation(() => undefined);
      jest.spyOn(tracer, 'annotateColdStart').mockImplementation(() => undefined);
      jest.spyOn(tracer, 'addServiceNameAnnotation').mockImplementation(() => undefined);
      const errors = jest.spyOn(tracer, 'addErrorAsMetadata').mockImplementation(() => undefined);
      return { segment, subsegment, setSegment, annotations, errors };
    }

    it('traces the handler in a subsegment annotated with the correlation id, then restores the segment', async () => {
      // Prepare
      const { segment, subsegment, setSegment, annotations } = fakeSegment();

      // Act
      await observe({ correlationId: 'traced' }, lambdaContext('req-t'));

      // Assess
      expect(segment.addNewSubsegment).toHaveBeenCalledWith(expect.stringMatching(/^## /));
      expect(annotations).toHaveBeenCalledWith('correlation_id', 'traced');
      expect(subsegment.close).toHaveBeenCalledTimes(1);
      expect(setSegment.mock.calls).toEqual([[subsegment], [segment]]);
    });

    it('records a failure on the subsegment and still closes it', async () => {
      // Prepare
      const { subsegment, errors } = fakeSegment();
      const failing = instrumented(async (_event: Event) => {
        throw new Error('boom');
      });

      // Act
      const run = failing({}, lambdaContext('req-e'));

      // Assess
      await expect(run).rejects.toThrow('boom');
      expect(errors).toHaveBeenCalledWith(expect.objectContaining({ message: 'boom' }));
      expect(subsegment.close).toHaveBeenCalledTimes(1);
    });
  });
});

describe('metrics helpers', () => {
  it('counts only what happened: a zero count is not emitted', () => {
    // Prepare
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    countMetric('Delivered', 0);
    countMetric('Delivered', 3);

    // Assess
    expect(addMetric.mock.calls).toEqual([['Delivered', 'Count', 3]]);
  });

  it('emits durations in milliseconds', () => {
    // Prepare
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    durationMetric('FanOutDuration', 12.5);

    // Assess
    expect(addMetric).toHaveBeenCalledWith('FanOutDuration', 'Milliseconds', 12.5);
  });
});
