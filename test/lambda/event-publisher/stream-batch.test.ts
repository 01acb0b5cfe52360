import type { SequencedChangeEvent } from '../../../contracts/protocol';
import { eventOfRecord, publishStreamBatch } from '../../../lambda/event-publisher/stream-batch';
import { PublishDeferredError } from '../../../lambda/fan-out/event-publisher';
import { logger, metrics } from '../../../lambda/shared/telemetry';
import { COMMITTED_AT, createdEvent, eventRow, streamRecord } from '../fixtures/stream-records';

const DEADLINE = 1_800_000_060_000;
/** Two seconds after the records' commit. */
const NOW = COMMITTED_AT * 1000 + 2000;

/** Records what it is asked to publish; `outcomes` answers by seq (published by default) or throws. */
function fakePublisher(outcomes: Record<number, 'published' | 'skipped' | Error> = {}) {
  const calls: { event: SequencedChangeEvent; options: { deadline: number; correlationId?: string } }[] = [];
  return {
    calls,
    publishStored: async (
      event: SequencedChangeEvent,
      options: { deadline: number; correlationId?: string },
    ): Promise<'published' | 'skipped'> => {
      calls.push({ event, options });
      const outcome = outcomes[event.seq] ?? 'published';
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

const records = (...seqs: number[]) =>
  seqs.map((seq) => streamRecord(eventRow(createdEvent(seq)), `${seq}00`));

afterEach(() => {
  jest.restoreAllMocks();
});

describe('publishStreamBatch', () => {
  it('publishes every event of the batch, in order, by the deadline, each under its eventId', async () => {
    // Prepare
    const publisher = fakePublisher();

    // Act
    const response = await publishStreamBatch(records(1, 2, 3), publisher, {
      deadline: DEADLINE,
      now: () => NOW,
    });

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publisher.calls).toEqual(
      [1, 2, 3].map((seq) => ({
        event: createdEvent(seq),
        options: { deadline: DEADLINE, correlationId: `e${seq}` },
      })),
    );
  });

  it('rebuilds each event exactly as the comments API broadcast it, whatever order the image holds', async () => {
    // Prepare
    const publisher = fakePublisher();
    const edited: SequencedChangeEvent = {
      type: 'comment.updated',
      data: {
        postId: 'p1',
        commentId: 'c1',
        action: 'updated',
        comment: {
          id: 'c1',
          postId: 'p1',
          userId: 'u1',
          content: 'edited',
          createdAt: 'then',
          updatedAt: 'now',
        },
      },
      eventId: 'e4',
      seq: 4,
    };
    // The stored map's keys in another order than the event's own.
    const reordered = {
      ...eventRow(edited),
      data: { comment: edited.data.comment, action: 'updated', commentId: 'c1', postId: 'p1' },
    };

    // Act
    await publishStreamBatch([streamRecord(reordered, '400')], publisher, { deadline: DEADLINE });

    // Assess
    expect(JSON.stringify(publisher.calls[0]?.event)).toBe(JSON.stringify(edited));
  });

  it('stops at the first event it cannot publish and reports exactly that record, so Lambda retries from it', async () => {
    // Prepare
    const publisher = fakePublisher({ 2: new Error('connections table unavailable') });
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const logError = jest.spyOn(logger, 'error');

    // Act
    const response = await publishStreamBatch(records(1, 2, 3), publisher, { deadline: DEADLINE });

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '200' }] });
    expect(publisher.calls.map((call) => call.event.seq)).toEqual([1, 2]);
    expect(addMetric).toHaveBeenCalledWith('PublishFailures', 'Count', 1);
    expect(logError).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ postId: 'p1', seq: 2, sequenceNumber: '200' }),
    );
  });

  it('reports an event deferred past the deadline as the batch’s item failure', async () => {
    // Prepare
    const publisher = fakePublisher({ 1: new PublishDeferredError('p1', 1, 'busy') });

    // Act
    const response = await publishStreamBatch(records(1, 2), publisher, { deadline: DEADLINE });

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });
    expect(publisher.calls).toHaveLength(1);
  });

  it.each([
    ['a modified row', streamRecord(eventRow(createdEvent(9)), '900', 'MODIFY')],
    ['a removed row (expired by TTL)', streamRecord(eventRow(createdEvent(9)), '900', 'REMOVE')],
    [
      'an inserted comment row',
      streamRecord({ pk: 'post#p1', sk: 'comment#c9', id: 'c9', postId: 'p1', content: 'x' }, '900'),
    ],
    ['an inserted post row', streamRecord({ pk: 'post#p1', sk: 'post', id: 'p1', title: 't' }, '900')],
    ['the publish cursor', streamRecord({ pk: 'post#p1', sk: 'publish', publishedSeq: 3 }, '900')],
  ])('passes over %s without publishing it', async (_name, record) => {
    // Prepare
    const publisher = fakePublisher();

    // Act
    const response = await publishStreamBatch([record, ...records(1)], publisher, { deadline: DEADLINE });

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publisher.calls.map((call) => call.event.seq)).toEqual([1]);
  });

  it('skips an event row that can never be published, counting and logging it, and goes on', async () => {
    // Prepare
    const publisher = fakePublisher();
    const malformed = streamRecord({ ...eventRow(createdEvent(2)), type: 'comment.exploded' }, '200');
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const logError = jest.spyOn(logger, 'error');

    // Act
    const response = await publishStreamBatch([...records(1), malformed, ...records(3)], publisher, {
      deadline: DEADLINE,
    });

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(publisher.calls.map((call) => call.event.seq)).toEqual([1, 3]);
    expect(addMetric).toHaveBeenCalledWith('PublishFailures', 'Count', 1);
    expect(logError).toHaveBeenCalledWith(
      expect.any(String),
      expect.objectContaining({ sequenceNumber: '200' }),
    );
  });

  it('measures PublishLag from the commit for events it published, not for those it skipped', async () => {
    // Prepare
    const publisher = fakePublisher({ 2: 'skipped' });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await publishStreamBatch(records(1, 2), publisher, { deadline: DEADLINE, now: () => NOW });

    // Assess
    expect(addMetric.mock.calls.filter(([name]) => name === 'PublishLag')).toEqual([
      ['PublishLag', 'Milliseconds', 2000],
    ]);
  });

  it('answers an empty batch with no failures', async () => {
    // Act
    const response = await publishStreamBatch([], fakePublisher(), { deadline: DEADLINE });

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
  });
});

describe('eventOfRecord', () => {
  it('reads the event of an inserted event row, without the table’s own attributes', () => {
    // Act
    const event = eventOfRecord(streamRecord(eventRow(createdEvent(5)), '500'));

    // Assess
    expect(event).toEqual(createdEvent(5));
  });

  it('reads nothing from a record without a new image', () => {
    // Act
    const event = eventOfRecord({ eventName: 'INSERT', dynamodb: { SequenceNumber: '1' } });

    // Assess
    expect(event).toBeUndefined();
  });
});
