import { created, POST, pong, serverError, snapshot, subscribed } from './fake-websocket';
import { connected, recorder, settle, setup } from './harness';

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('gap repair', () => {
  it('never skips a seq however many repairs fail (the snapshot@0, 1, 6 case)', async () => {
    // random 0.5: each backoff is half its ceiling (250, 500, 1000, …).
    const { client, socket, post } = await connected({ gapGraceMs: 100, subscribeTimeoutMs: 2000 }, 0);
    const lastSeqs: (number | undefined)[] = [];
    socket.receive(created(1));
    socket.receive(created(6));

    await settle(100); // grace: first replay asked for
    socket.receive(serverError('INTERNAL_ERROR', POST));
    lastSeqs.push(client.lastSeq(POST));
    await settle(250); // retried after a backoff; this one is never answered
    socket.receive(created(7));
    await settle(2000 + 500); // timed out, retried after a longer backoff
    socket.receive(subscribed()); // answered, but the replay is lost
    lastSeqs.push(client.lastSeq(POST));
    await settle(100 + 250); // grace plus backoff: asked again
    socket.receive(subscribed());
    for (const seq of [2, 3, 4, 5, 6, 7]) socket.receive(created(seq));

    expect(socket.subscribes().slice(1)).toEqual(
      Array(4).fill({ action: 'subscribe', postId: POST, lastSeq: 1 }),
    );
    expect(lastSeqs).toEqual([1, 1]);
    expect(post.snapshots).toHaveLength(1);
    expect(post.seqs()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(post.errors.map((e) => [e.code, e.retrying])).toEqual([
      ['INTERNAL_ERROR', true],
      ['SUBSCRIBE_TIMEOUT', true],
    ]);
    expect(client.postState(POST)).toBe('live');
  });

  it('caps the delay between replays at backoff.maxMs, and keeps going', async () => {
    const { socket } = await connected({ gapGraceMs: 100, backoff: { initialMs: 500, maxMs: 2000 } }, 0);
    socket.receive(created(2));
    await settle(100);

    const gaps: number[] = [];
    for (let attempt = 0; attempt < 8; attempt += 1) {
      socket.receive(subscribed());
      const before = socket.subscribes().length;
      let waited = 0;
      while (socket.subscribes().length === before) {
        await settle(50);
        waited += 50;
      }
      gaps.push(waited);
    }

    // 100 ms grace plus half the ceiling: 250, 500, 1000, then 1000 (the 2000 ms cap, halved) for good.
    expect(gaps).toEqual([350, 600, 1100, 1100, 1100, 1100, 1100, 1100]);
  });

  it('sends a repair queued behind another post’s subscribe as soon as that one times out', async () => {
    const { client, socket, post } = await connected({ gapGraceMs: 100, subscribeTimeoutMs: 3000 }, 0);
    client.subscribe('post-2', recorder().handlers);
    socket.receive(created(2));

    await settle(100);
    const whileOtherPending = socket.subscribes().length;
    await settle(2900);
    socket.receive(subscribed());
    socket.receive(created(1));

    expect(whileOtherPending).toBe(2);
    expect(socket.subscribes().slice(1)).toEqual([
      { action: 'subscribe', postId: 'post-2' },
      { action: 'subscribe', postId: POST, lastSeq: 0 },
    ]);
    expect(post.seqs()).toEqual([1, 2]);
  });

  it('asks again for a snapshot that never followed `subscribed`', async () => {
    const { client, socket } = await connected({ subscribeTimeoutMs: 4000 }, 0);
    const other = recorder();
    client.subscribe('post-2', other.handlers);
    socket.receive(subscribed('post-2'));

    await settle(4000);
    const beforeBackoff = socket.subscribes().slice(1);
    await settle(250);
    socket.receive(subscribed('post-2'));
    socket.receive(snapshot(3, { postId: 'post-2' }));

    expect(beforeBackoff).toEqual([{ action: 'subscribe', postId: 'post-2' }]);
    expect(socket.subscribes().slice(1)).toEqual([
      { action: 'subscribe', postId: 'post-2' },
      { action: 'subscribe', postId: 'post-2' },
    ]);
    expect(other.errors.map((e) => e.code)).toEqual(['SUBSCRIBE_TIMEOUT']);
    expect(other.snapshots.map((s) => s.data.seq)).toEqual([3]);
  });
});

describe('a lastSeq the server refuses', () => {
  it('starts over from a snapshot, handed over as a reset, holding live events until it comes', async () => {
    const { client, latest } = setup();
    const post = recorder();
    client.subscribe(POST, post.handlers, { lastSeq: 12 });
    client.connect();
    await settle();
    const socket = latest();
    socket.open();

    socket.receive(serverError('INVALID_LAST_SEQ', POST));
    socket.receive(created(21));
    await settle(250);
    socket.receive(subscribed());
    socket.receive(snapshot(20));

    expect(socket.subscribes()).toEqual([
      { action: 'subscribe', postId: POST, lastSeq: 12 },
      { action: 'subscribe', postId: POST },
    ]);
    expect(post.snapshots.map((s) => [s.data.seq, s.data.reset])).toEqual([[20, true]]);
    expect(post.seqs()).toEqual([21]);
  });
});

describe('heartbeat', () => {
  it('repairs a lost last event that a pong reveals, after the grace period', async () => {
    const { client, socket, post } = await connected({ pingIntervalMs: 60_000, gapGraceMs: 1000 }, 3);

    await settle(60_000);
    socket.receive(pong({ [POST]: 5, 'not-followed': 9 }));
    const state = client.postState(POST);
    await settle(999);
    const beforeGrace = socket.subscribes().length;
    await settle(1);
    socket.receive(subscribed());
    socket.receive(created(4));
    socket.receive(created(5));

    expect(socket.sent.filter((m) => m.action === 'ping')).toEqual([{ action: 'ping' }]);
    expect(state).toBe('syncing');
    expect(beforeGrace).toBe(1);
    expect(socket.subscribes()[1]).toEqual({ action: 'subscribe', postId: POST, lastSeq: 3 });
    expect(post.seqs()).toEqual([4, 5]);
    expect(post.states).toEqual(['live', 'syncing', 'live']);
  });

  it('calls the repair off when the event turns up within the grace period', async () => {
    const { socket, post } = await connected({ gapGraceMs: 1000 }, 3);

    socket.receive(pong({ [POST]: 4 }));
    socket.receive(created(4));
    await settle(5000);

    expect(socket.subscribes()).toHaveLength(1);
    expect(post.seqs()).toEqual([4]);
  });

  it('changes nothing on a pong without data (older servers) or at lastSeq', async () => {
    const { socket, client } = await connected({ gapGraceMs: 100 }, 3);

    socket.receive(pong());
    socket.receive(pong({ [POST]: 3 }));
    socket.receive({ type: 'pong', data: { seqs: { [POST]: 'seven' } } });
    await settle(5000);

    expect(socket.subscribes()).toHaveLength(1);
    expect(client.postState(POST)).toBe('live');
  });

  it('ignores a pong while the post’s subscribe is pending: its answer settles the matter', async () => {
    const { client, socket } = await connected({ gapGraceMs: 100 }, 0);
    const resumed = recorder();
    client.subscribe('post-2', resumed.handlers, { lastSeq: 5 });

    socket.receive(pong({ 'post-2': 7 }));
    await settle(1000);
    const whilePending = socket.subscribes().length;
    socket.receive(subscribed('post-2'));
    socket.receive(created(6, 'post-2'));
    socket.receive(created(7, 'post-2'));
    await settle(5000);

    expect(whilePending).toBe(2);
    expect(socket.subscribes()).toHaveLength(2);
    expect(resumed.seqs()).toEqual([6, 7]);
  });
});

describe('errors naming a post', () => {
  it('attributes an error to the post it names, not to the subscribe in flight', async () => {
    const { client, socket, post, errors } = await connected({}, 0);
    const other = recorder();
    client.subscribe('post-2', other.handlers);

    socket.receive(serverError('INTERNAL_ERROR', 'post-3'));
    const afterUnrelated = { errors: other.errors.length, subscribes: socket.subscribes().length };
    socket.receive(serverError('TOO_MANY_SUBSCRIPTIONS', 'post-2'));

    expect(afterUnrelated).toEqual({ errors: 0, subscribes: 2 });
    expect(errors.map((e) => [e.code, e.postId, e.retrying])).toEqual([
      ['INTERNAL_ERROR', 'post-3', false],
      ['TOO_MANY_SUBSCRIPTIONS', 'post-2', false],
    ]);
    expect(other.errors.map((e) => e.code)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
    expect(post.errors).toEqual([]);
    expect(client.postState('post-2')).toBeUndefined();
  });
});

describe('post state', () => {
  it('is syncing until the snapshot, live after, syncing through a gap and while disconnected', async () => {
    const { client, socket, latest, post } = await connected({ gapGraceMs: 100 }, 0);
    socket.receive(created(2));
    const duringGap = client.postState(POST);
    socket.receive(created(1));
    const afterGap = client.postState(POST);

    socket.drop();
    const disconnected = client.postState(POST);
    await settle(250);
    const next = latest();
    next.open();
    const resubscribing = client.postState(POST);
    next.receive(subscribed());

    expect([duringGap, afterGap, disconnected, resubscribing]).toEqual([
      'syncing',
      'live',
      'syncing',
      'syncing',
    ]);
    expect(post.states).toEqual(['live', 'syncing', 'live', 'syncing', 'live']);
    expect(client.postState('not-followed')).toBeUndefined();
  });

  it('stays live while the connection is replaced ahead of its maximum age', async () => {
    const { socket, latest, post } = await connected({ maxConnectionMs: 60_000, pingIntervalMs: 120_000 }, 0);

    await settle(60_000);
    const next = latest();
    next.open();
    next.receive(subscribed());

    expect(next).not.toBe(socket);
    expect(socket.isClosed).toBe(true);
    expect(post.states).toEqual(['live']);
  });
});
