import { correlationIdOfJob, isPublishJob, parsePublishJob } from '../../../lambda/broadcast/publish-job';

const envelope = {
  type: 'comment.updated',
  data: { postId: 'p1', commentId: 'c1', action: 'deleted' },
  eventId: 'e1',
  seq: 4,
};

describe('isPublishJob', () => {
  it.each([
    ['a publish job', { kind: 'publish', jobId: 'j1', envelope }, true],
    ['a job of another kind', { kind: 'fanOut', jobId: 'j1' }, false],
    ['an HTTP API event', { routeKey: 'POST /broadcast/comments', requestContext: {} }, false],
    ['null', null, false],
    ['a string', 'publish', false],
  ])('tells %s apart', (_name, event, expected) => {
    // Act / Assess
    expect(isPublishJob(event)).toBe(expected);
  });
});

describe('parsePublishJob', () => {
  it('reads a job, its envelope rebuilt by the broadcast parser in the order it is sent', () => {
    // Prepare
    const event = {
      correlationId: 'corr-1',
      envelope: { seq: 4, eventId: 'e1', data: envelope.data, type: envelope.type, extra: 'dropped' },
      jobId: 'j1',
      kind: 'publish',
    };

    // Act
    const job = parsePublishJob(event);

    // Assess
    expect(job).toEqual({ kind: 'publish', jobId: 'j1', envelope, correlationId: 'corr-1' });
    expect(JSON.stringify(job.envelope)).toBe(JSON.stringify(envelope));
  });

  it('drops a correlation id that is not a valid one, rather than logging it', () => {
    // Act
    const job = parsePublishJob({ kind: 'publish', jobId: 'j1', envelope, correlationId: '{"forged":1}' });

    // Assess
    expect(job).not.toHaveProperty('correlationId');
  });

  it.each([
    ['no kind', { jobId: 'j1', envelope }],
    ['another kind', { kind: 'fanOut', jobId: 'j1', envelope }],
    ['no jobId', { kind: 'publish', envelope }],
    ['an empty jobId', { kind: 'publish', jobId: '', envelope }],
    ['a jobId that is not a string', { kind: 'publish', jobId: 7, envelope }],
    ['no envelope', { kind: 'publish', jobId: 'j1' }],
    ['an envelope without a type', { kind: 'publish', jobId: 'j1', envelope: { data: {} } }],
    [
      'an envelope with a bad data.postId',
      { kind: 'publish', jobId: 'j1', envelope: { type: 'x', data: { postId: '../p' } } },
    ],
    ['an envelope with a bad seq', { kind: 'publish', jobId: 'j1', envelope: { ...envelope, seq: 0 } }],
    [
      'an envelope over 128 KB',
      { kind: 'publish', jobId: 'j1', envelope: { type: 'x', data: { pad: 'x'.repeat(128 * 1024) } } },
    ],
    ['an array', [{ kind: 'publish', jobId: 'j1', envelope }]],
  ])('refuses %s', (_name, event) => {
    // Act / Assess
    expect(() => parsePublishJob(event)).toThrow(/^Not a publish job/);
  });
});

describe('correlationIdOfJob', () => {
  it.each([
    ['a valid id', { kind: 'publish', correlationId: 'corr-1' }, 'corr-1'],
    ['an invalid id', { kind: 'publish', correlationId: 'with space' }, undefined],
    ['no id', { kind: 'publish' }, undefined],
    ['an event that is no object', 'corr-1', undefined],
  ])('reads %s', (_name, event, expected) => {
    // Act / Assess
    expect(correlationIdOfJob(event)).toBe(expected);
  });
});
