import type { Comment } from '../../client';
import {
  comment,
  created,
  edited,
  page,
  POST,
  serverError,
  snapshot,
  subscribed,
  updated,
} from './fake-websocket';
import { connected, recorder, settle, setup } from './harness';

const ids = (comments: readonly Comment[]): string[] => comments.map((c) => c.id);

/** A client subscribed to POST on an open socket, its subscribe answered, no snapshot yet. */
async function subscribing(options: Parameters<typeof setup>[0] = {}, lastSeq?: number) {
  const context = setup(options);
  const post = recorder();
  context.client.subscribe(POST, post.handlers, lastSeq === undefined ? {} : { lastSeq });
  context.client.connect();
  await settle();
  const socket = context.latest();
  socket.open();
  socket.receive(subscribed());
  return { ...context, socket, post };
}

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('complete snapshots', () => {
  it('reads every page before handing over one merged list, then the events that came meanwhile', async () => {
    const { client, socket, post } = await subscribing();

    socket.receive(snapshot(5, { comments: [comment('c1'), comment('c2')], cursor: 'p2' }));
    socket.receive(created(6));
    const afterFirst = {
      snapshots: post.snapshots.length,
      events: post.events.length,
      view: client.comments(POST),
    };
    socket.receive(page([comment('c3'), comment('c4')], { cursor: 'p3' }));
    socket.receive(page([comment('c5')]));

    expect(afterFirst).toEqual({ snapshots: 0, events: 0, view: [] });
    expect(socket.pageRequests()).toEqual([
      { action: 'listComments', postId: POST, cursor: 'p2' },
      { action: 'listComments', postId: POST, cursor: 'p3' },
    ]);
    expect(post.snapshots).toEqual([
      {
        type: 'comments.list',
        data: {
          postId: POST,
          comments: ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => comment(id)),
          count: 5,
          seq: 5,
          hasMore: false,
        },
      },
    ]);
    expect(post.seqs()).toEqual([6]);
    expect(ids(client.comments(POST))).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6']);
    expect(post.views.map(ids)).toEqual([['c1', 'c2', 'c3', 'c4', 'c5', 'c6']]);
    expect(post.states).toEqual(['live']);
    expect(client.postState(POST)).toBe('live');
  });

  it('pages a list cut short at 128 KB (truncated) the same way', async () => {
    const { socket, post } = await subscribing();

    socket.receive(snapshot(1, { comments: [comment('c1')], truncated: true, cursor: 'after-c1' }));
    socket.receive(page([comment('c2')], { truncated: true, cursor: 'after-c2' }));
    socket.receive(page([comment('c3')]));

    expect(socket.pageRequests().map((r) => r.cursor)).toEqual(['after-c1', 'after-c2']);
    expect(post.snapshots.map((s) => [ids(s.data.comments), s.data.count, s.data.truncated])).toEqual([
      [['c1', 'c2', 'c3'], 3, undefined],
    ]);
  });

  it('applies events after the snapshot on pages that already hold them, ending at the stored list', async () => {
    const { client, socket, post } = await subscribing();
    const edit = { ...comment('c2'), content: 'edited', updatedAt: '2026-01-02T00:00:00.000Z' };

    socket.receive(snapshot(5, { comments: [comment('c1'), comment('c2')], cursor: 'p2' }));
    socket.receive(edited(6, edit));
    socket.receive(created(7));
    socket.receive(updated(8, 'c3'));
    // Read after all three: the edit, c7 and the deletion of c3 are already in it.
    socket.receive(page([edit, comment('c7')]));

    expect(post.seqs()).toEqual([6, 7, 8]);
    expect(client.comments(POST)).toEqual([comment('c1'), edit, comment('c7')]);
  });

  it('asks again for a page the server refused, after a backoff, and for one never answered', async () => {
    const { socket, post, client } = await subscribing({ subscribeTimeoutMs: 5000 });
    socket.receive(snapshot(0, { comments: [comment('c1')], cursor: 'p2' }));

    socket.receive(serverError('INTERNAL_ERROR', POST));
    await settle(249);
    const beforeBackoff = socket.pageRequests().length;
    await settle(1);
    await settle(5000);
    const afterTimeout = socket.pageRequests().length;
    await settle(500);
    socket.receive(page([comment('c2')]));

    expect(beforeBackoff).toBe(1);
    expect(afterTimeout).toBe(2);
    expect(socket.pageRequests()).toEqual(
      Array(3).fill({ action: 'listComments', postId: POST, cursor: 'p2' }),
    );
    expect(post.errors.map((e) => [e.code, e.postId, e.retrying])).toEqual([
      ['INTERNAL_ERROR', POST, true],
      ['PAGE_TIMEOUT', POST, true],
    ]);
    expect(ids(client.comments(POST))).toEqual(['c1', 'c2']);
    expect(socket.subscribes()).toHaveLength(1);
  });

  it('reads again from the first page when the server refuses a cursor', async () => {
    const { socket, client } = await subscribing();
    socket.receive(snapshot(0, { comments: [comment('c1')], cursor: 'p2' }));

    socket.receive(serverError('INVALID_CURSOR', POST));
    await settle(250);
    socket.receive(page([comment('c1')], { cursor: 'p2b' }));
    socket.receive(page([comment('c2')]));

    expect(socket.pageRequests()).toEqual([
      { action: 'listComments', postId: POST, cursor: 'p2' },
      { action: 'listComments', postId: POST },
      { action: 'listComments', postId: POST, cursor: 'p2b' },
    ]);
    expect(ids(client.comments(POST))).toEqual(['c1', 'c2']);
  });

  it('ends the subscription when a page says the post is gone', async () => {
    const { socket, post, client } = await subscribing();
    socket.receive(snapshot(0, { comments: [comment('c1')], cursor: 'p2' }));

    socket.receive(serverError('POST_NOT_FOUND', POST));
    await settle(60_000);

    expect(post.errors.map((e) => [e.code, e.retrying])).toEqual([['POST_NOT_FOUND', false]]);
    expect(client.postState(POST)).toBeUndefined();
    expect(socket.pageRequests()).toHaveLength(1);
  });

  it('ignores a second list while one is being read: it answers an earlier subscribe', async () => {
    const { socket, post } = await subscribing();

    socket.receive(snapshot(3, { comments: [comment('c1')], cursor: 'p2' }));
    socket.receive(snapshot(4, { comments: [comment('c1')], cursor: 'other' }));
    socket.receive(page([comment('c2')]));

    expect(socket.pageRequests()).toHaveLength(1);
    expect(post.snapshots.map((s) => s.data.seq)).toEqual([3]);
  });
});

describe('reset snapshots', () => {
  it('keeps the complete view until the reset list is complete, then replaces it', async () => {
    const { socket, latest, post, client } = await connected({}, 5);
    socket.drop();
    await settle(250);
    const next = latest();
    next.open();
    next.receive(subscribed());

    next.receive(snapshot(42, { comments: [comment('a1')], reset: true, cursor: 'p2' }));
    next.receive(created(43));
    const whilePaging = {
      view: client.comments(POST),
      state: client.postState(POST),
      lastSeq: client.lastSeq(POST),
    };
    next.receive(page([comment('a2')]));

    expect(whilePaging).toEqual({ view: [], state: 'syncing', lastSeq: 5 });
    expect(post.snapshots.map((s) => [s.data.seq, s.data.reset, ids(s.data.comments)])).toEqual([
      [5, undefined, []],
      [42, true, ['a1', 'a2']],
    ]);
    expect(post.seqs()).toEqual([43]);
    expect(ids(client.comments(POST))).toEqual(['a1', 'a2', 'c43']);
    expect(client.postState(POST)).toBe('live');
  });

  it('does not touch a complete view while a reset is paged, and starts over if the connection drops', async () => {
    const { socket, latest, post, client } = await connected({}, 0);
    socket.receive(created(1));
    const complete = client.comments(POST);
    socket.drop();
    await settle(250);
    const second = latest();
    second.open();
    second.receive(subscribed());
    second.receive(snapshot(9, { comments: [comment('x1')], reset: true, cursor: 'p2' }));

    second.drop();
    await settle(500);
    const third = latest();
    third.open();
    third.receive(subscribed());
    third.receive(page([comment('stale')]));
    third.receive(snapshot(10, { comments: [comment('x1')], reset: true, cursor: 'q2' }));
    const beforeLastPage = client.comments(POST);
    third.receive(page([comment('x2')]));

    expect(beforeLastPage).toBe(complete);
    expect(third.subscribes()).toEqual([{ action: 'subscribe', postId: POST, lastSeq: 1 }]);
    expect(third.pageRequests()).toEqual([{ action: 'listComments', postId: POST, cursor: 'q2' }]);
    expect(post.snapshots.map((s) => [s.data.seq, ids(s.data.comments)])).toEqual([
      [0, []],
      [10, ['x1', 'x2']],
    ]);
  });
});

describe('a view for a subscription resumed from a saved lastSeq', () => {
  it('reads the whole list and applies the events delivered meanwhile on top', async () => {
    const { socket, post, client } = await subscribing({}, 10);

    socket.receive(created(11));
    const whileReading = { state: client.postState(POST), view: client.comments(POST) };
    socket.receive(page([comment('c1')], { cursor: 'p2' }));
    socket.receive(page([comment('c11')]));

    expect(whileReading).toEqual({ state: 'syncing', view: [] });
    expect(socket.pageRequests()).toEqual([
      { action: 'listComments', postId: POST },
      { action: 'listComments', postId: POST, cursor: 'p2' },
    ]);
    expect(post.snapshots).toEqual([]);
    expect(post.seqs()).toEqual([11]);
    expect(ids(client.comments(POST))).toEqual(['c1', 'c11']);
    expect(post.views.map(ids)).toEqual([['c1', 'c11']]);
    expect(client.postState(POST)).toBe('live');
  });

  it('drops the answer to a page of a list it no longer reads, and only then asks for the new list’s page', async () => {
    const { socket, post, client } = await subscribing({}, 10);
    const reading = socket.pageRequests().length;

    socket.receive(snapshot(50, { comments: [comment('x1')], reset: true, cursor: 'r2' }));
    const whileOldInFlight = socket.pageRequests().length;
    socket.receive(page([comment('old1')], { cursor: 'o2' }));
    socket.receive(page([comment('x2')]));

    expect([reading, whileOldInFlight]).toEqual([1, 1]);
    expect(socket.pageRequests()).toEqual([
      { action: 'listComments', postId: POST },
      { action: 'listComments', postId: POST, cursor: 'r2' },
    ]);
    expect(post.snapshots.map((s) => [s.data.seq, s.data.reset, ids(s.data.comments)])).toEqual([
      [50, true, ['x1', 'x2']],
    ]);
    expect(ids(client.comments(POST))).toEqual(['x1', 'x2']);
  });
});
