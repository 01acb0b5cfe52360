import { RealtimeCommentsClient, type ConnectionState } from '../../client';
import { connected, recorder, settle, setup, URL } from './harness';
import { created, fakeWebSocket, POST, snapshot, subscribed } from './fake-websocket';

/** Shaped like a real JWT (base64url segments and dots), so it can travel in Sec-WebSocket-Protocol. */
const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2ln-_';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('RealtimeCommentsClient: connecting', () => {
  it('connects with the token in Sec-WebSocket-Protocol, never in the URL, and reports each state', async () => {
    const { client, latest, states } = setup({ token: JWT });
    expect(client.state).toBe('idle');

    client.connect();
    await settle();
    latest().open();

    expect(latest().url).toBe(URL);
    expect(latest().url).not.toContain(JWT);
    expect(latest().protocols).toEqual(['realtime-comments.v1', `realtime-comments.bearer.${JWT}`]);
    expect(states).toEqual(['connecting', 'open']);
    expect(client.state).toBe('open');
  });

  it('asks the token function for a token before every connection attempt', async () => {
    let issued = 0;
    const token = jest.fn((_request: { refresh: boolean }): Promise<string> => {
      issued += 1;
      return Promise.resolve(`${JWT}${issued}`);
    });
    const { client, sockets, latest } = setup({ token });

    client.connect();
    await settle();
    latest().open();
    latest().drop();
    await settle(250);
    latest().open();

    expect(token).toHaveBeenCalledTimes(2);
    expect(token).toHaveBeenLastCalledWith({ refresh: false });
    expect(sockets.map((s) => s.protocols?.[1])).toEqual([
      `realtime-comments.bearer.${JWT}1`,
      `realtime-comments.bearer.${JWT}2`,
    ]);
    expect(sockets.map((s) => s.url)).toEqual([URL, URL]);
  });

  it('offers the protocol alone when there is no token', async () => {
    const { client, latest } = setup({ token: undefined });

    client.connect();
    await settle();

    expect(latest().url).toBe(URL);
    expect(latest().protocols).toEqual(['realtime-comments.v1']);
  });

  it("keeps the query-string form as an option (tokenTransport: 'query')", async () => {
    const { client, sockets, latest } = setup({ token: 'a b&c', tokenTransport: 'query' });

    client.connect();
    await settle();
    latest().open();

    expect(new globalThis.URL(latest().url).searchParams.get('token')).toBe('a b&c');
    expect(latest().url.startsWith(`${URL}?token=`)).toBe(true);
    expect(latest().protocols).toBeUndefined();
    expect(sockets).toHaveLength(1);
  });

  it('connects without a token in the query form when none is given', async () => {
    const { client, latest } = setup({ token: undefined, tokenTransport: 'query' });

    client.connect();
    await settle();

    expect(latest().url).toBe(URL);
    expect(latest().protocols).toBeUndefined();
  });

  it('reports a token that cannot travel in the header, without naming it, and keeps trying', async () => {
    const token = jest.fn().mockResolvedValueOnce('not a/jwt=').mockResolvedValue(JWT);
    const { client, sockets, errors } = setup({ token });

    client.connect();
    await settle();
    await settle(250);

    expect(errors[0]?.code).toBe('CONNECTION_FAILED');
    expect(errors[0]?.message).toMatch(/Sec-WebSocket-Protocol/);
    expect(errors[0]?.message).not.toContain('not a/jwt=');
    expect(sockets).toHaveLength(1);
    expect(sockets[0]?.protocols?.[1]).toBe(`realtime-comments.bearer.${JWT}`);
  });

  it('refuses a tokenTransport it does not know', () => {
    expect(
      () =>
        new RealtimeCommentsClient({
          url: URL,
          WebSocket: fakeWebSocket().WebSocket,
          tokenTransport: 'cookie' as 'query',
        }),
    ).toThrow(/tokenTransport must be 'protocol' or 'query'/);
  });

  it('offers the refreshed token after a 401, in the header again', async () => {
    const token = ({ refresh }: { refresh: boolean }): Promise<string> =>
      Promise.resolve(refresh ? `${JWT}fresh` : `${JWT}stale`);
    const { client, sockets, latest } = setup({ token });

    client.connect();
    await settle();
    latest().refuse(401);
    await settle();

    expect(sockets.map((s) => s.protocols)).toEqual([
      ['realtime-comments.v1', `realtime-comments.bearer.${JWT}stale`],
      ['realtime-comments.v1', `realtime-comments.bearer.${JWT}fresh`],
    ]);
    expect(sockets.every((s) => s.url === URL)).toBe(true);
  });

  it('asks for a fresh token once after a 401, at once, then backs off', async () => {
    const token = jest.fn((_request: { refresh: boolean }) => Promise.resolve('t'));
    const { client, sockets, latest, errors } = setup({ token });

    client.connect();
    await settle();
    latest().refuse(401);
    await settle();
    const afterFirst = sockets.length;
    latest().refuse(401);
    await settle();
    const beforeBackoff = sockets.length;
    await settle(500);

    expect(afterFirst).toBe(2);
    expect(token.mock.calls.map(([request]) => request.refresh)).toEqual([false, true, false]);
    expect(beforeBackoff).toBe(2);
    expect(sockets).toHaveLength(3);
    expect(errors.map((e) => e.code)).toEqual(['UNAUTHORIZED', 'UNAUTHORIZED']);
  });

  it('reports a token function that fails, and tries again after the backoff', async () => {
    const token = jest.fn().mockRejectedValueOnce(new Error('identity provider down')).mockResolvedValue('t');
    const { client, sockets, errors, states } = setup({ token });

    client.connect();
    await settle();
    expect(sockets).toHaveLength(0);
    await settle(250);

    expect(sockets).toHaveLength(1);
    expect(errors[0]?.code).toBe('TOKEN_FAILED');
    expect(states).toEqual(['connecting', 'reconnecting']);
  });

  it('needs a WebSocket implementation where the platform has none (Node 20)', () => {
    const global = globalThis as { WebSocket?: unknown };
    const saved = global.WebSocket;
    delete global.WebSocket;
    try {
      expect(() => new RealtimeCommentsClient({ url: URL, token: 't' })).toThrow(
        /No WebSocket implementation/,
      );
    } finally {
      if (saved !== undefined) global.WebSocket = saved;
    }
  });

  it('refuses a URL that is not ws: or wss:', () => {
    expect(
      () => new RealtimeCommentsClient({ url: 'https://example.test', WebSocket: fakeWebSocket().WebSocket }),
    ).toThrow(TypeError);
  });
});

describe('RealtimeCommentsClient: reconnecting', () => {
  it('waits a jittered, growing delay between failed attempts', async () => {
    // random 0.5: each delay is half its ceiling (500, 1000, 2000, … capped at 30 s).
    const { client, sockets, latest } = setup();
    client.connect();
    await settle();

    const expected = [250, 500, 1000, 2000, 4000, 8000, 15000, 15000];
    const observed: [boolean, boolean][] = [];
    for (const delay of expected) {
      latest().refuse();
      const before = sockets.length;
      await settle(delay - 1);
      const early = sockets.length > before;
      await settle(1);
      observed.push([early, sockets.length > before]);
    }

    expect(observed).toEqual(expected.map(() => [false, true]));
  });

  it('keeps each delay inside [0, ceiling) with the random source it is given', async () => {
    const draws = [0, 0.999, 0.25];
    const { client, sockets, latest } = setup({ random: () => draws.shift() ?? 0 });
    client.connect();
    await settle();

    latest().refuse();
    await settle(0);
    expect(sockets).toHaveLength(2);
    latest().refuse();
    await settle(998);
    expect(sockets).toHaveLength(2);
    await settle(1);
    expect(sockets).toHaveLength(3);
    latest().refuse();
    await settle(499);
    expect(sockets).toHaveLength(3);
    await settle(1);
    expect(sockets).toHaveLength(4);
  });

  it('resets the backoff once a connection has been open a while', async () => {
    const { client, sockets, latest } = setup();
    client.connect();
    await settle();
    latest().refuse();
    await settle(250);
    latest().refuse();
    await settle(500);
    latest().open();
    await settle(10_000);

    latest().drop();
    await settle(250);

    expect(sockets).toHaveLength(4);
  });

  it('resets the backoff after the first subscribe is answered', async () => {
    const { client, sockets, latest } = setup();
    client.subscribe(POST, recorder().handlers);
    client.connect();
    await settle();
    latest().refuse();
    await settle(250);
    latest().refuse();
    await settle(500);
    latest().open();
    latest().receive(subscribed());

    latest().drop();
    await settle(250);

    expect(sockets).toHaveLength(4);
  });

  it('resubscribes after a reconnect with the lastSeq it had, and delivers the replay once, in order', async () => {
    const { socket, latest, post, states } = await connected({}, 3);
    socket.receive(created(4));
    socket.receive(created(5));

    socket.drop();
    await settle(250);
    const next = latest();
    next.open();
    next.receive(subscribed());
    for (const seq of [5, 6, 7, 8]) next.receive(created(seq));

    expect(next).not.toBe(socket);
    expect(next.subscribes()).toEqual([{ action: 'subscribe', postId: POST, lastSeq: 5 }]);
    expect(post.seqs()).toEqual([4, 5, 6, 7, 8]);
    expect(post.snapshots).toHaveLength(1);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
  });

  it('resubscribes several posts one at a time, each with its own lastSeq', async () => {
    const { client, socket, latest } = await connected({}, 3);
    const other = recorder();
    client.subscribe('post-2', other.handlers);
    socket.receive(subscribed('post-2'));
    socket.receive(snapshot(9, { postId: 'post-2' }));

    socket.drop();
    await settle(250);
    const next = latest();
    next.open();
    const first = next.subscribes();
    next.receive(subscribed(POST));
    const both = next.subscribes();

    expect(first).toEqual([{ action: 'subscribe', postId: POST, lastSeq: 3 }]);
    expect(both).toEqual([
      { action: 'subscribe', postId: POST, lastSeq: 3 },
      { action: 'subscribe', postId: 'post-2', lastSeq: 9 },
    ]);
  });

  it('replaces its state from a reset snapshot when the server cannot replay', async () => {
    const { socket, latest, post } = await connected({}, 5);

    socket.drop();
    await settle(250);
    const next = latest();
    next.open();
    next.receive(subscribed());
    next.receive(snapshot(42, { reset: true }));
    next.receive(created(40));
    next.receive(created(43));

    expect(next.subscribes()[0]).toEqual({ action: 'subscribe', postId: POST, lastSeq: 5 });
    expect(post.snapshots.map((s) => [s.data.seq, s.data.reset])).toEqual([
      [5, undefined],
      [42, true],
    ]);
    expect(post.seqs()).toEqual([43]);
  });

  it('stops reconnecting after close()', async () => {
    const { client, socket, sockets, states } = await connected();

    socket.drop();
    client.close();
    await settle(120_000);

    expect(sockets).toHaveLength(1);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'closed']);
  });

  it('closes the socket it holds on close(), and a close event then changes nothing', async () => {
    const { client, socket, sockets, states } = await connected();

    client.close();
    await settle(120_000);

    expect(socket.closeCalls).toEqual([{ code: 1000, reason: 'client closed' }]);
    expect(sockets).toHaveLength(1);
    expect(states).toEqual(['connecting', 'open', 'closed']);
  });

  it('abandons an attempt that was waiting for its token when closed', async () => {
    let release: (token: string) => void = () => undefined;
    const token = (): Promise<string> => new Promise((resolve) => (release = resolve));
    const { client, sockets } = setup({ token });

    client.connect();
    await settle();
    client.close();
    release('late');
    await settle(60_000);

    expect(sockets).toHaveLength(0);
    expect(client.state).toBe('closed');
  });

  it('resumes its subscriptions with lastSeq when connected again after close()', async () => {
    const { client, latest, socket } = await connected({}, 7);

    client.close();
    client.connect();
    await settle();
    const next = latest();
    next.open();

    expect(next).not.toBe(socket);
    expect(next.subscribes()).toEqual([{ action: 'subscribe', postId: POST, lastSeq: 7 }]);
  });

  it('reconnects at once on reconnect() rather than waiting out the backoff', async () => {
    const { client, sockets, latest } = setup();
    client.connect();
    await settle();
    for (let i = 0; i < 5; i += 1) {
      latest().refuse();
      await settle(30_000);
    }
    latest().refuse();
    const before = sockets.length;

    client.reconnect();
    await settle();

    expect(sockets).toHaveLength(before + 1);
  });
});

describe('RealtimeCommentsClient: ordering and duplicates', () => {
  it('delivers the snapshot, then live events', async () => {
    const { socket, post } = await connected({}, 0);
    socket.receive(created(1));
    socket.receive(created(2));

    expect(socket.subscribes()).toEqual([{ action: 'subscribe', postId: POST }]);
    expect(post.snapshots).toHaveLength(1);
    expect(post.seqs()).toEqual([1, 2]);
  });

  it('drops duplicates: the same eventId, and a seq at or before lastSeq', async () => {
    const { socket, post } = await connected({}, 0);

    socket.receive(created(1));
    socket.receive(created(1));
    socket.receive({ ...created(2), eventId: 'evt-post-1-1' });
    socket.receive(created(2));
    socket.receive({ ...created(2), eventId: 'another-id' });

    expect(post.seqs()).toEqual([1, 2]);
  });

  it('on a gap, waits briefly, resubscribes with lastSeq and delivers in order after the replay', async () => {
    const { socket, post } = await connected({ gapGraceMs: 1000 }, 0);
    socket.receive(created(1));
    socket.receive(created(3));
    socket.receive(created(4));

    await settle(999);
    const beforeGrace = socket.subscribes().length;
    await settle(1);
    const resubscribe = socket.subscribes()[1];
    socket.receive(subscribed());
    socket.receive(created(2));
    socket.receive(created(3));
    socket.receive(created(4));
    socket.receive(created(5));

    expect(beforeGrace).toBe(1);
    expect(resubscribe).toEqual({ action: 'subscribe', postId: POST, lastSeq: 1 });
    expect(post.seqs()).toEqual([1, 2, 3, 4, 5]);
  });

  it('does not resubscribe when the missing event turns up within the grace period', async () => {
    const { socket, post } = await connected({ gapGraceMs: 1000 }, 0);
    socket.receive(created(2));
    socket.receive(created(1));

    await settle(5000);

    expect(post.seqs()).toEqual([1, 2]);
    expect(socket.subscribes()).toHaveLength(1);
  });

  it('keeps asking for a replay, with growing delays, until the gap fills, never moving lastSeq past it', async () => {
    // random 0.5: each backoff is half its ceiling (250, 500, …).
    const { socket, post, client } = await connected({ gapGraceMs: 100 }, 0);
    socket.receive(created(3));

    await settle(100);
    socket.receive(subscribed());
    await settle(100 + 249);
    const beforeBackoff = socket.subscribes().length;
    await settle(1);
    socket.receive(subscribed());
    await settle(100 + 500);
    const lastSeqMeanwhile = client.lastSeq(POST);
    socket.receive(subscribed());
    socket.receive(created(1));
    socket.receive(created(2));

    expect(beforeBackoff).toBe(2);
    expect(socket.subscribes()).toEqual([
      { action: 'subscribe', postId: POST },
      { action: 'subscribe', postId: POST, lastSeq: 0 },
      { action: 'subscribe', postId: POST, lastSeq: 0 },
      { action: 'subscribe', postId: POST, lastSeq: 0 },
    ]);
    expect(lastSeqMeanwhile).toBe(0);
    expect(post.snapshots.map((s) => s.data.seq)).toEqual([0]);
    expect(post.seqs()).toEqual([1, 2, 3]);
  });

  it('holds live events that beat the snapshot and drops those the snapshot holds', async () => {
    const { client, latest } = setup();
    const post = recorder();
    client.subscribe(POST, post.handlers);
    client.connect();
    await settle();
    const socket = latest();
    socket.open();
    socket.receive(subscribed());
    socket.receive(created(7));
    socket.receive(created(8));
    const beforeSnapshot = post.events.length;
    socket.receive(snapshot(7));

    expect(beforeSnapshot).toBe(0);
    expect(post.snapshots).toHaveLength(1);
    expect(post.seqs()).toEqual([8]);
  });

  it('delivers events without seq as they come (servers before sequencing)', async () => {
    const { socket, post } = await connected({}, undefined);
    socket.receive(created(undefined, POST, 'x'));
    socket.receive(created(undefined, POST, 'y'));

    expect(post.events).toHaveLength(2);
  });

  it('decodes binary frames as UTF-8', async () => {
    const { socket, post } = await connected({}, 0);

    socket.receiveRaw(new TextEncoder().encode(JSON.stringify(created(1))));
    socket.receiveRaw(new TextEncoder().encode(JSON.stringify(created(2))).buffer);

    expect(post.seqs()).toEqual([1, 2]);
  });

  it('ignores frames that are not protocol events, and events for other posts', async () => {
    const { socket, post } = await connected({}, 0);

    socket.receiveRaw('not json');
    socket.receive({ message: 'Internal server error' });
    socket.receive(created(1, 'someone-else'));
    socket.receive(created(1));

    expect(post.seqs()).toEqual([1]);
  });

  it('keeps delivering when a handler throws, and reports it', async () => {
    const { client, latest, errors } = setup();
    const seen: number[] = [];
    client.subscribe(POST, {
      onSnapshot: () => undefined,
      onEvent: (event) => {
        seen.push(event.seq ?? -1);
        if (event.seq === 1) throw new Error('app bug');
      },
    });
    client.connect();
    await settle();
    latest().open();
    latest().receive(snapshot(0));
    latest().receive(created(1));
    latest().receive(created(2));

    expect(seen).toEqual([1, 2]);
    expect(errors.map((e) => e.code)).toEqual(['HANDLER_FAILED']);
  });
});

describe('RealtimeCommentsClient: subscriptions', () => {
  it('stops delivering after unsubscribe and tells the server', async () => {
    const { client, socket } = await connected();
    const unsubscribeOther = client.subscribe('post-2', recorder().handlers);
    socket.receive(subscribed('post-2'));

    unsubscribeOther();
    unsubscribeOther();

    expect(socket.sent.filter((m) => m.action === 'unsubscribe')).toEqual([
      { action: 'unsubscribe', postId: 'post-2' },
    ]);
  });

  it('resumes from a lastSeq given at subscribe', async () => {
    const { client, latest } = setup();
    client.subscribe(POST, recorder().handlers, { lastSeq: 12 });
    client.connect();
    await settle();
    latest().open();

    expect(latest().subscribes()).toEqual([{ action: 'subscribe', postId: POST, lastSeq: 12 }]);
  });

  it('refuses a second subscription to the same post, and ids of the wrong form', () => {
    const { client } = setup();
    client.subscribe(POST, recorder().handlers);

    expect(() => client.subscribe(POST, recorder().handlers)).toThrow(/Already subscribed/);
    expect(() => client.subscribe('bad id!', recorder().handlers)).toThrow(TypeError);
    expect(() => client.subscribe('post-3', recorder().handlers, { lastSeq: -1 })).toThrow(TypeError);
  });

  it('ends a subscription the server refuses for good, with the error on both channels', async () => {
    const { client, latest, errors } = setup();
    const missing = recorder();
    client.subscribe('missing', missing.handlers);
    client.connect();
    await settle();
    const socket = latest();
    socket.open();
    socket.receive({
      type: 'error',
      data: { code: 'POST_NOT_FOUND', message: 'Post missing does not exist' },
    });

    socket.drop();
    await settle(250);
    latest().open();

    expect(missing.errors.map((e) => [e.code, e.postId, e.retrying])).toEqual([
      ['POST_NOT_FOUND', 'missing', false],
    ]);
    expect(errors.map((e) => e.code)).toEqual(['POST_NOT_FOUND']);
    expect(latest().subscribes()).toEqual([]);
  });

  it('retries a subscribe that failed on the server side', async () => {
    const { client, latest } = setup();
    const post = recorder();
    client.subscribe(POST, post.handlers);
    client.connect();
    await settle();
    const socket = latest();
    socket.open();
    socket.receive({ type: 'error', data: { code: 'INTERNAL_ERROR', message: 'boom' } });
    await settle(250);

    expect(post.errors.map((e) => [e.code, e.retrying])).toEqual([['INTERNAL_ERROR', true]]);
    expect(socket.subscribes()).toHaveLength(2);
  });

  it('sends a subscribe again when it is not answered in time', async () => {
    const { client, latest } = setup({ subscribeTimeoutMs: 5000 });
    const post = recorder();
    client.subscribe(POST, post.handlers);
    client.connect();
    await settle();
    const socket = latest();
    socket.open();

    await settle(5000 + 250);

    expect(post.errors.map((e) => e.code)).toEqual(['SUBSCRIBE_TIMEOUT']);
    expect(socket.subscribes()).toHaveLength(2);
  });
});

describe('RealtimeCommentsClient: keeping the connection', () => {
  it('sends {action:"ping"} every pingIntervalMs', async () => {
    const { socket } = await connected({ pingIntervalMs: 60_000 });
    socket.autoPong = true;

    await settle(59_999);
    const before = socket.sent.filter((m) => m.action === 'ping').length;
    await settle(1);
    await settle(120_000);

    expect(before).toBe(0);
    expect(socket.sent.filter((m) => m.action === 'ping')).toEqual([
      { action: 'ping' },
      { action: 'ping' },
      { action: 'ping' },
    ]);
    expect(socket.isClosed).toBe(false);
  });

  it('pings every minute by default, well inside the 10-minute idle timeout', async () => {
    const { socket } = await connected();
    socket.autoPong = true;

    await settle(60_000 - 1);
    const before = socket.sent.filter((m) => m.action === 'ping').length;
    await settle(1);

    expect(before).toBe(0);
    expect(socket.sent.filter((m) => m.action === 'ping')).toHaveLength(1);
  });

  it('replaces a connection that does not answer a ping', async () => {
    const { socket, sockets, latest, states } = await connected({
      pingIntervalMs: 60_000,
      pongTimeoutMs: 5000,
    });

    await settle(60_000 + 5000);
    await settle(250);
    latest().open();

    expect(socket.closeCalls[0]?.code).toBe(4000);
    expect(sockets).toHaveLength(2);
    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
  });

  it('opens a new connection before maxConnectionMs, resubscribes with lastSeq, then closes the old one', async () => {
    const { socket, sockets, latest, post, states } = await connected({}, 0);
    socket.autoPong = true;
    socket.receive(created(1));

    await settle(2 * 60 * 60_000 - 5 * 60_000 - 1);
    const beforeLimit = sockets.length;
    await settle(1);
    const next = latest();
    next.open();
    next.autoPong = true;
    const oldClosedBeforeAck = socket.isClosed;
    socket.receive(created(2));
    next.receive(subscribed());
    next.receive(created(2));
    next.receive(created(3));

    expect(beforeLimit).toBe(1);
    expect(sockets).toHaveLength(2);
    expect(next.subscribes()).toEqual([{ action: 'subscribe', postId: POST, lastSeq: 1 }]);
    expect(oldClosedBeforeAck).toBe(false);
    expect(socket.closeCalls).toEqual([{ code: 1000, reason: 'replaced' }]);
    expect(post.seqs()).toEqual([1, 2, 3]);
    expect(states).toEqual(['connecting', 'open']);
  });

  it('keeps the old connection when its replacement fails, and tries again', async () => {
    const { socket, sockets, latest, states } = await connected({ maxConnectionMs: 60_000 }, 0);

    await settle(60_000);
    latest().refuse();
    const keptOpen = !socket.isClosed;
    await settle(250);
    latest().open();
    latest().receive(subscribed());

    expect(keptOpen).toBe(true);
    expect(sockets).toHaveLength(3);
    expect(socket.isClosed).toBe(true);
    expect(states).toEqual(['connecting', 'open']);
  });

  it('carries on with the replacement when the old connection drops first', async () => {
    const { socket, latest, states, post } = await connected({ maxConnectionMs: 60_000 }, 0);

    await settle(60_000);
    socket.drop(1001);
    const next = latest();
    next.open();
    next.receive(subscribed());
    next.receive(created(1));

    expect(states).toEqual(['connecting', 'open', 'reconnecting', 'open']);
    expect(post.seqs()).toEqual([1]);
  });

  it('removes listeners with the function on() returns', async () => {
    const { client, latest } = setup();
    const seen: ConnectionState[] = [];
    const off = client.on('state', (state) => seen.push(state));

    client.connect();
    off();
    await settle();
    latest().open();

    expect(seen).toEqual(['connecting']);
  });
});
