import {
  HttpBroadcastClient,
  type HttpTransport,
  type TransportRequest,
} from '../../../lambda/comments-api/broadcast-client';
import type { CommentChangeEvent } from '../../../contracts/protocol';
import { logger, metrics } from '../../../lambda/shared/telemetry';

const created: CommentChangeEvent = {
  type: 'comment.created',
  data: {
    postId: 'P1',
    comment: { id: 'C1', postId: 'P1', userId: 'u1', content: 'Hi', createdAt: '2027-01-01T00:00:00.000Z' },
  },
};

function answering(status: number, body: string): jest.MockedFunction<HttpTransport> {
  return jest.fn<ReturnType<HttpTransport>, Parameters<HttpTransport>>(
    async () => new Response(body, { status }),
  );
}

/** A transport that behaves like fetch on a server that never answers: it only settles when aborted. */
function hanging(): jest.MockedFunction<HttpTransport> {
  return jest.fn<ReturnType<HttpTransport>, Parameters<HttpTransport>>(
    (_url, { signal }) =>
      new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as Error));
      }),
  );
}

function requestOf(send: jest.MockedFunction<HttpTransport>, call = 0): [string, TransportRequest] {
  const args = send.mock.calls[call];
  if (!args) throw new Error(`transport call ${call} was not made`);
  return args;
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('HttpBroadcastClient', () => {
  it.each([
    ['https://b.example.test/dev', 'https://b.example.test/dev/broadcast/comments'],
    ['https://b.example.test/dev/', 'https://b.example.test/dev/broadcast/comments'],
    ['http://127.0.0.1:3001', 'http://127.0.0.1:3001/broadcast/comments'],
  ])('joins %s to the broadcast path', async (baseUrl, expected) => {
    // Prepare
    const send = answering(200, '{"connectionCount":0}');
    const client = new HttpBroadcastClient({ baseUrl, timeoutMs: 1000, send });

    // Act
    await client.publish(created);

    // Assess
    expect(requestOf(send)[0]).toBe(expected);
  });

  it('POSTs the event as JSON with a timeout signal', async () => {
    // Prepare
    const send = answering(200, '{"connectionCount":2}');
    const info = jest.spyOn(logger, 'info');
    const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test/dev', timeoutMs: 1000, send });

    // Act
    await client.publish(created);

    // Assess
    const [, request] = requestOf(send);
    expect(request.method).toBe('POST');
    // respond-async: the broadcast API answers once the publish is queued, whatever the audience.
    expect(request.headers).toEqual({ 'content-type': 'application/json', prefer: 'respond-async' });
    expect(JSON.parse(request.body ?? '')).toEqual(created);
    expect(request.signal).toBeInstanceOf(AbortSignal);
    expect(info).toHaveBeenCalledWith('Broadcast sent', expect.objectContaining({ connectionCount: 2 }));
  });

  it('logs and counts a non-2xx answer, with an excerpt of its body, without throwing', async () => {
    // Prepare
    const send = answering(502, `upstream failed ${'x'.repeat(2000)}`);
    const error = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 1000, send });

    // Act
    const outcome = client.publish(created);

    // Assess
    await expect(outcome).resolves.toBeUndefined();
    expect(error).toHaveBeenCalledWith(
      'Broadcast rejected',
      expect.objectContaining({ status: 502, body: expect.stringMatching(/^upstream failed x+…$/) }),
    );
    const body = (error.mock.calls[0]?.[1] as { body: string }).body;
    expect(body.length).toBeLessThan(600);
    expect(addMetric).toHaveBeenCalledWith('BroadcastFailures', 'Count', 1);
  });

  it('logs and counts a network error without throwing', async () => {
    // Prepare
    const send = jest.fn<ReturnType<HttpTransport>, Parameters<HttpTransport>>(async () => {
      throw new TypeError('fetch failed');
    });
    const error = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 1000, send });

    // Act
    const outcome = client.publish(created);

    // Assess
    await expect(outcome).resolves.toBeUndefined();
    expect(error).toHaveBeenCalledWith(
      'Broadcast failed',
      expect.objectContaining({ error: 'fetch failed' }),
    );
    expect(addMetric).toHaveBeenCalledWith('BroadcastFailures', 'Count', 1);
  });

  it('survives a transport that throws synchronously', async () => {
    // Prepare
    const send: HttpTransport = () => {
      throw new Error('signer misconfigured');
    };
    const error = jest.spyOn(logger, 'error');
    const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 1000, send });

    // Act
    const outcome = client.publish(created);

    // Assess
    await expect(outcome).resolves.toBeUndefined();
    expect(error).toHaveBeenCalledWith(
      'Broadcast failed',
      expect.objectContaining({ error: 'signer misconfigured' }),
    );
  });

  it('aborts a request that outlives the timeout, then logs and counts it', async () => {
    // Prepare
    const send = hanging();
    const error = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 20, send });

    // Act
    await client.publish(created);

    // Assess
    expect(requestOf(send)[1].signal.aborted).toBe(true);
    expect(error).toHaveBeenCalledWith('Broadcast timed out', expect.objectContaining({ timeoutMs: 20 }));
    expect(addMetric).toHaveBeenCalledWith('BroadcastTimeouts', 'Count', 1);
  });

  it('stops waiting at the timeout even when the transport ignores the signal', async () => {
    // Prepare
    const send: HttpTransport = () => new Promise(() => undefined);
    const error = jest.spyOn(logger, 'error');
    const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 20, send });

    // Act
    await client.publish(created);

    // Assess
    expect(error).toHaveBeenCalledWith('Broadcast timed out', expect.anything());
  });

  it('stops waiting at the timeout when the answer’s body never finishes', async () => {
    // Prepare
    const send: HttpTransport = async () => ({
      ok: true,
      status: 200,
      text: () => new Promise(() => undefined),
    });
    const error = jest.spyOn(logger, 'error');
    const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 20, send });

    // Act
    await client.publish(created);

    // Assess
    expect(error).toHaveBeenCalledWith('Broadcast timed out', expect.anything());
  });

  describe('connectionCount', () => {
    it('GETs the count endpoint and returns its count', async () => {
      // Prepare
      const send = answering(200, '{"count":7}');
      const client = new HttpBroadcastClient({
        baseUrl: 'https://b.example.test/dev/',
        timeoutMs: 1000,
        send,
      });

      // Act
      const count = await client.connectionCount();

      // Assess
      expect(count).toBe(7);
      const [url, request] = requestOf(send);
      expect(url).toBe('https://b.example.test/dev/connections/count');
      expect(request.method).toBe('GET');
      expect(request.body).toBeUndefined();
    });

    it.each([
      ['a non-2xx answer', answering(503, 'unavailable'), 'Broadcast API answered HTTP 503'],
      ['an answer without a count', answering(200, '{"total":1}'), 'Broadcast API answer has no "count"'],
      ['an answer that is not JSON', answering(200, 'ok'), 'Broadcast API answer has no "count"'],
      ['a timeout', hanging(), 'Broadcast API did not answer within 20 ms'],
    ])('throws on %s', async (_case, send, message) => {
      // Prepare
      const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 20, send });

      // Act
      const attempt = client.connectionCount();

      // Assess
      await expect(attempt).rejects.toThrow(message);
    });

    it('throws a message naming the cause when the API is unreachable', async () => {
      // Prepare
      const send: HttpTransport = async () => {
        throw new TypeError('fetch failed');
      };
      const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 1000, send });

      // Act
      const attempt = client.connectionCount();

      // Assess
      await expect(attempt).rejects.toThrow('Broadcast API unreachable: fetch failed');
    });
  });

  it('uses the global fetch by default, looked up when the request is made', async () => {
    // Prepare
    const client = new HttpBroadcastClient({ baseUrl: 'https://b.example.test', timeoutMs: 1000 });
    const fetchSpy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response('{"count":1}'));

    // Act
    const count = await client.connectionCount();

    // Assess
    expect(count).toBe(1);
    expect(fetchSpy).toHaveBeenCalledWith('https://b.example.test/connections/count', expect.anything());
  });

  it.each([
    [{ baseUrl: 'b.example.test', timeoutMs: 1000 }, 'absolute http(s) URL'],
    [{ baseUrl: 'ftp://b.example.test', timeoutMs: 1000 }, 'absolute http(s) URL'],
    [{ baseUrl: 'https://b.example.test', timeoutMs: 0 }, 'positive number of milliseconds'],
  ])('refuses the configuration %p', (options, message) => {
    // Prepare
    const build = (): HttpBroadcastClient => new HttpBroadcastClient(options);

    // Act / Assess
    expect(build).toThrow(message);
  });
});

describe('HttpBroadcastClient correlation id', () => {
  it('sends the current correlation id as x-correlation-id on the broadcast and the count', async () => {
    // Prepare
    const send = jest.fn<ReturnType<HttpTransport>, Parameters<HttpTransport>>(
      async (url) =>
        new Response(url.endsWith('/count') ? '{"count":1}' : '{"connectionCount":1}', { status: 200 }),
    );
    const ids = ['corr-1', 'corr-2'];
    const client = new HttpBroadcastClient({
      baseUrl: 'https://b.example.test/dev',
      timeoutMs: 1000,
      send,
      correlationId: () => ids.shift(),
    });

    // Act
    await client.publish(created);
    await client.connectionCount();

    // Assess
    expect(requestOf(send, 0)[1].headers).toEqual({
      'content-type': 'application/json',
      prefer: 'respond-async',
      'x-correlation-id': 'corr-1',
    });
    expect(requestOf(send, 1)[1].headers).toEqual({
      accept: 'application/json',
      'x-correlation-id': 'corr-2',
    });
  });

  it('sends no such header when there is no correlation id', async () => {
    // Prepare
    const send = answering(200, '{"connectionCount":0}');
    const client = new HttpBroadcastClient({
      baseUrl: 'https://b.example.test/dev',
      timeoutMs: 1000,
      send,
      correlationId: () => undefined,
    });

    // Act
    await client.publish(created);

    // Assess
    expect(Object.keys(requestOf(send)[1].headers)).toEqual(['content-type', 'prefer']);
  });
});
