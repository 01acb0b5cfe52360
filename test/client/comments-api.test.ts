import { CommentsApiClient, CommentsApiError, type CommentsApiClientOptions } from '../../client';
import { isValidIdempotencyKey } from '../../contracts/idempotency';
import { comment } from './fake-websocket';

const API = 'https://api.example.test/';

interface Sent {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: unknown;
}

type Answer = Response | Error | 'hang';

/** A fetch that records each request and answers from a script; 'hang' waits until the request is aborted. */
function fakeFetch(answers: Answer[]): { fetch: typeof fetch; sent: Sent[] } {
  const sent: Sent[] = [];
  const scripted = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    sent.push({
      url: String(input),
      method: init.method ?? 'GET',
      headers: { ...(init.headers as Record<string, string>) },
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    });
    const answer = answers.shift() ?? new Error('no answer scripted');
    if (answer === 'hang') {
      return new Promise<Response>((_, reject) => {
        init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      });
    }
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { fetch: scripted as typeof fetch, sent };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

function api(answers: Answer[], options: Partial<CommentsApiClientOptions> = {}) {
  const { fetch, sent } = fakeFetch(answers);
  let keys = 0;
  const client = new CommentsApiClient({
    url: API,
    token: 'a-token',
    fetch,
    random: () => 0.5,
    newIdempotencyKey: () => `key-${String(++keys).padStart(4, '0')}`,
    ...options,
  });
  return { client, sent };
}

/** Runs a call to its end under fake timers, returning what it resolved or rejected with. */
async function outcome<T>(promise: Promise<T>, runMs = 120_000): Promise<{ value?: T; error?: unknown }> {
  const settled = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await jest.advanceTimersByTimeAsync(runMs);
  return settled;
}

const networkError = (): Error => new TypeError('fetch failed');

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('CommentsApiClient', () => {
  it('creates a comment with the bearer token and one idempotency key', async () => {
    const { client, sent } = api([json(201, comment('c1'))]);

    const result = await outcome(client.createComment('post-1', 'Hello'));

    expect(result.value).toEqual(comment('c1'));
    expect(sent).toEqual([
      {
        url: 'https://api.example.test/api/v1/posts/post-1/comments',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': 'key-0001',
          authorization: 'Bearer a-token',
        },
        body: { content: 'Hello' },
      },
    ]);
  });

  it('retries a create on network errors, 502–504 and 429 with the same key; the next action gets a new one', async () => {
    const { client, sent } = api(
      [networkError(), json(503, {}), json(429, {}), json(201, comment('c1')), json(201, comment('c2'))],
      { maxAttempts: 5 },
    );

    const first = await outcome(client.createComment('post-1', 'Hello'));
    const second = await outcome(client.createComment('post-1', 'Again'));

    expect(first.value).toEqual(comment('c1'));
    expect(second.value).toEqual(comment('c2'));
    expect(sent.map((s) => s.headers['idempotency-key'])).toEqual([
      'key-0001',
      'key-0001',
      'key-0001',
      'key-0001',
      'key-0002',
    ]);
  });

  it('waits a jittered, growing delay between attempts', async () => {
    // random 0.5 and the defaults (250 ms, doubling): 125, then 250 ms.
    const { client, sent } = api([json(502, {}), json(504, {}), json(201, comment('c1'))]);

    const call = client.createPost({ title: 'T' });
    await jest.advanceTimersByTimeAsync(124);
    const early = sent.length;
    await jest.advanceTimersByTimeAsync(1);
    const afterFirst = sent.length;
    await jest.advanceTimersByTimeAsync(249);
    const beforeSecond = sent.length;
    await jest.advanceTimersByTimeAsync(1);

    expect([early, afterFirst, beforeSecond, sent.length]).toEqual([1, 2, 2, 3]);
    await expect(call).resolves.toEqual(comment('c1'));
  });

  it('honours Retry-After seconds', async () => {
    const { client, sent } = api([
      json(429, { detail: 'slow down' }, { 'retry-after': '3' }),
      json(201, comment('c1')),
    ]);

    const call = client.createComment('post-1', 'Hello');
    await jest.advanceTimersByTimeAsync(2999);
    const beforeRetryAfter = sent.length;
    await jest.advanceTimersByTimeAsync(1);

    expect([beforeRetryAfter, sent.length]).toEqual([1, 2]);
    await expect(call).resolves.toEqual(comment('c1'));
  });

  it('fails at once with a Retry-After longer than it is willing to wait', async () => {
    const { client, sent } = api([json(503, { detail: 'maintenance' }, { 'retry-after': '600' })]);

    const { error } = await outcome(client.createComment('post-1', 'Hello'));

    expect(error).toBeInstanceOf(CommentsApiError);
    expect((error as CommentsApiError).details).toMatchObject({
      failure: 'http',
      status: 503,
      detail: 'maintenance',
      retryAfterMs: 600_000,
    });
    expect(sent).toHaveLength(1);
  });

  it('abandons an attempt after timeoutMs and retries it, up to maxAttempts', async () => {
    const { client, sent } = api(['hang', 'hang', 'hang'], { timeoutMs: 2000, maxAttempts: 3 });

    const { error } = await outcome(client.createComment('post-1', 'Hello'));

    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((s) => s.headers['idempotency-key']))).toEqual(new Set(['key-0001']));
    expect(error).toBeInstanceOf(CommentsApiError);
    expect((error as CommentsApiError).details).toMatchObject({ failure: 'timeout', attempts: 3 });
  });

  it.each([400, 403, 404, 409, 422, 500])(
    'fails at once on %i, with the status and the server’s detail',
    async (status) => {
      const { client, sent } = api([json(status, { detail: `refused with ${status}` })]);

      const { error } = await outcome(client.editComment('post-1', 'c1', 'new'));

      expect(sent).toHaveLength(1);
      expect(error).toBeInstanceOf(CommentsApiError);
      expect([(error as CommentsApiError).status, (error as CommentsApiError).detail]).toEqual([
        status,
        `refused with ${status}`,
      ]);
    },
  );

  it('retries edits and deletes the same way, without a key', async () => {
    const { client, sent } = api([
      networkError(),
      json(200, { ...comment('c1'), content: 'new' }),
      json(503, {}),
      new Response(null, { status: 204 }),
    ]);

    const edit = await outcome(client.editComment('post-1', 'c1', 'new'));
    const removal = await outcome(client.deleteComment('post-1', 'c1'));

    expect(edit.value).toEqual({ ...comment('c1'), content: 'new' });
    expect(removal).toEqual({ value: undefined });
    expect(sent.map((s) => [s.method, s.url.replace(API, '/'), s.headers['idempotency-key']])).toEqual([
      ['PATCH', '/api/v1/posts/post-1/comments/c1', undefined],
      ['PATCH', '/api/v1/posts/post-1/comments/c1', undefined],
      ['DELETE', '/api/v1/posts/post-1/comments/c1', undefined],
      ['DELETE', '/api/v1/posts/post-1/comments/c1', undefined],
    ]);
  });

  it('takes a 404 on a retried delete as done: the attempt whose answer was lost deleted it', async () => {
    const { client, sent } = api([json(504, {}), json(404, { detail: 'Comment not found' }), json(404, {})]);

    const retried = await outcome(client.deleteComment('post-1', 'c1'));
    const first = await outcome(client.deleteComment('post-1', 'c2'));

    expect(retried).toEqual({ value: undefined });
    expect((first.error as CommentsApiError).status).toBe(404);
    expect(sent).toHaveLength(3);
  });

  it('reads pages and posts without a token', async () => {
    const listing = { postId: 'post-1', comments: [comment('c1')], count: 1, nextCursor: 'abc' };
    const { client, sent } = api([json(200, listing), json(200, { id: 'post-1' })]);

    const page = await outcome(client.listComments('post-1', { limit: 1, cursor: 'xyz' }));
    await outcome(client.getPost('post-1'));

    expect(page.value).toEqual(listing);
    expect(sent.map((s) => [s.method, s.url, s.headers.authorization])).toEqual([
      ['GET', 'https://api.example.test/api/v1/posts/post-1/comments?limit=1&cursor=xyz', undefined],
      ['GET', 'https://api.example.test/api/v1/posts/post-1', undefined],
    ]);
  });

  it('asks a token function for a fresh token once after a 401', async () => {
    const token = jest.fn(({ refresh }: { refresh: boolean }) =>
      Promise.resolve(refresh ? 'fresh' : 'cached'),
    );
    const { client, sent } = api(
      [json(401, { detail: 'expired' }), json(201, comment('c1')), json(401, {}), json(401, {})],
      {
        token,
      },
    );

    const first = await outcome(client.createComment('post-1', 'Hello'));
    const second = await outcome(client.createComment('post-1', 'Again'));

    expect(first.value).toEqual(comment('c1'));
    expect((second.error as CommentsApiError).status).toBe(401);
    expect(sent.map((s) => [s.headers.authorization, s.headers['idempotency-key']])).toEqual([
      ['Bearer cached', 'key-0001'],
      ['Bearer fresh', 'key-0001'],
      ['Bearer cached', 'key-0002'],
      ['Bearer fresh', 'key-0002'],
    ]);
  });

  it('stops at once when the caller aborts, rejecting with the signal’s reason', async () => {
    const { client, sent } = api([json(503, {}), json(201, comment('c1'))]);
    const controller = new AbortController();

    const call = outcome(client.createComment('post-1', 'Hello', { signal: controller.signal }), 0);
    await jest.advanceTimersByTimeAsync(0);
    controller.abort(new Error('user left'));
    const { error } = await call;
    await jest.advanceTimersByTimeAsync(60_000);

    expect((error as Error).message).toBe('user left');
    expect(sent).toHaveLength(1);
  });

  it('uses a key the application gives, and refuses one of the wrong form', async () => {
    const { client, sent } = api([json(201, { id: 'p' })]);

    await outcome(client.createPost({ title: 'T' }, { idempotencyKey: 'my-action-42' }));

    expect(sent[0]?.headers['idempotency-key']).toBe('my-action-42');
    await expect(client.createPost({ title: 'T' }, { idempotencyKey: 'no spaces!' })).rejects.toThrow(
      TypeError,
    );
    await expect(client.getPost('bad/id')).rejects.toThrow(TypeError);
    expect(sent).toHaveLength(1);
  });

  it('makes its keys with crypto.randomUUID by default', async () => {
    const { fetch, sent } = fakeFetch([json(201, comment('c1'))]);
    const client = new CommentsApiClient({ url: API, token: 't', fetch });

    await outcome(client.createComment('post-1', 'Hello'));

    const key = sent[0]?.headers['idempotency-key'];
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(isValidIdempotencyKey(key)).toBe(true);
  });
});
