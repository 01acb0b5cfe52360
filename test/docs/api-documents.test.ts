import { AsyncApiMessages, OpenApiAnswers } from './api-documents';

/**
 * The validators the e2e suite checks real answers and events with: they pass what the documents describe
 * and name what they do not, so a passing e2e check means something.
 */
let answers: OpenApiAnswers;
let messages: AsyncApiMessages;

beforeAll(async () => {
  [answers, messages] = await Promise.all([OpenApiAnswers.load(), AsyncApiMessages.load()]);
}, 60_000);

const json = { 'content-type': 'application/json' };
const post = { id: 'p1', title: 'T', body: '', userId: 'u1', createdAt: '2027-01-01T00:00:00.000Z' };

describe('OpenApiAnswers', () => {
  it('passes an answer as documented', () => {
    expect(answers.problems('getPost', { status: 200, headers: new Headers(json), body: post })).toEqual([]);
    expect(
      answers.problems('deleteComment', { status: 204, headers: new Headers(), body: undefined }),
    ).toEqual([]);
  });

  it('names a status the operation does not document', () => {
    expect(
      answers.problems('getPost', { status: 409, headers: new Headers(json), body: { detail: 'x' } }),
    ).toEqual([expect.stringContaining('does not document status 409')]);
  });

  it('names a field the schema does not have, and one it misses', () => {
    const problems = answers.problems('getPost', {
      status: 200,
      headers: new Headers(json),
      body: { ...post, title: undefined, likes: 3 },
    });
    expect(problems.join('\n')).toMatch(/must have required property 'title'/);
    expect(problems.join('\n')).toMatch(/additional properties.*likes/);
  });

  it('names a required header that is missing, and a body where none is documented', () => {
    expect(
      answers.problems('createComment', {
        status: 503,
        headers: new Headers(json),
        body: { detail: 'busy' },
      }),
    ).toEqual(['header Retry-After is missing']);
    expect(answers.problems('deleteComment', { status: 204, headers: new Headers(), body: {} })).toEqual([
      'status 204 documents no body, got one',
    ]);
  });
});

describe('AsyncApiMessages', () => {
  const created = {
    type: 'comment.created',
    data: {
      postId: 'p1',
      comment: { id: 'c1', postId: 'p1', userId: 'u1', content: 'Hi', createdAt: '2027-01-01T00:00:00.000Z' },
    },
    eventId: 'e1',
    seq: 1,
  };

  it('passes a frame as documented, an event or an action', () => {
    expect(messages.problems(created)).toEqual([]);
    expect(messages.problems({ action: 'subscribe', postId: 'p1', lastSeq: 0 })).toEqual([]);
  });

  it('names what a frame lacks or has too much of', () => {
    const { seq: _seq, ...withoutSeq } = created;
    expect(messages.problems(withoutSeq).join('\n')).toMatch(/must have required property 'seq'/);
    expect(messages.problems({ ...created, extra: true }).join('\n')).toMatch(/additional properties.*extra/);
    expect(
      messages.problems({ type: 'error', data: { code: 'NOT_A_CODE', message: 'x' } }).join('\n'),
    ).toMatch(/must be equal to one of the allowed values/);
  });

  it('names a frame that is no documented message', () => {
    expect(messages.problems({ type: 'comment.liked', data: {} })).toEqual([
      'docs/asyncapi.yaml has no message "comment.liked"',
    ]);
    expect(messages.problems(42)).toEqual([expect.stringContaining('neither "type" nor "action"')]);
  });
});
