import type {
  CommentRepository,
  EventRange,
  ListCommentsOptions,
} from '../../../lambda/shared/comment-repository';
import { decodeCursor, encodeCursor } from '../../../lambda/shared/comment-cursor';
import type { ConnectionNotifier, DeliveryResult } from '../../../lambda/shared/connection-notifier';
import type { ConnectionRepository, SubscribeOutcome } from '../../../lambda/shared/connection-repository';
import { ErrorCodes, type Comment, type SequencedChangeEvent } from '../../../contracts/protocol';
import { metrics } from '../../../lambda/shared/telemetry';
import { CommentService } from '../../../lambda/comments-api/comment-service';
import { pageEvent } from '../../../lambda/websocket-messages/comment-pages';
import {
  MAX_SNAPSHOT_BYTES,
  snapshotEvent,
  SubscriptionService,
  type ClientConnection,
} from '../../../lambda/websocket-messages/subscription-service';
import {
  fixedTimeDependencies,
  InMemoryCommentRepository,
  RecordingPublisher,
} from '../comments-api/fixtures';

const client: ClientConnection = { connectionId: 'conn-1', connectedAt: 1_795_000_000_000 };
const post = { id: 'p1', title: 'Hello', body: '', userId: 'u1', createdAt: '2026-11-26T06:00:00Z' };
const comment: Comment = {
  id: 'c1',
  postId: 'p1',
  userId: 'u2',
  content: 'hi',
  createdAt: '2026-11-26T06:01:00Z',
};

const MAX_SUBSCRIPTIONS = 3;
const REPLAY_LIMIT = 5;
/** The service's clock, in epoch seconds. */
const NOW = 1_800_000_000;

/** Change n of post p1: alternately created and updated, so replays show both kinds. */
function change(seq: number): SequencedChangeEvent {
  return seq % 2 === 1
    ? {
        type: 'comment.created',
        data: { postId: 'p1', comment: { ...comment, id: `c${seq}` } },
        eventId: `E${seq}`,
        seq,
      }
    : {
        type: 'comment.updated',
        data: { postId: 'p1', commentId: `c${seq - 1}`, action: 'updated' },
        eventId: `E${seq}`,
        seq,
      };
}

interface History {
  /** The post's lastSeq. @default 0 */
  lastSeq?: number;
  /** Seqs whose events are still stored; each expires at NOW + 60 unless listed in `expired`. */
  stored?: number[];
  /** Seqs stored but past their expiresAt (TTL has not deleted them yet). */
  expired?: number[];
  /** The post's comments, oldest first. @default [comment] */
  comments?: Comment[];
  /**
   * What successive reads of the post's lastSeq return, when it moves while the snapshot is read; the
   * last one repeats. @default [lastSeq]
   */
  seqReads?: number[];
  /** The store's answer to the subscribe, whatever `subscribed` holds. @default judged from `subscribed` */
  subscribeOutcome?: SubscribeOutcome;
  /** The lastSeq of other posts, for the heartbeat. */
  otherSeqs?: Record<string, number>;
}

function setup(
  replyOutcome: DeliveryResult = { outcome: 'delivered' },
  subscribed: string[] = [],
  history: History = {},
): {
  service: SubscriptionService;
  log: string[];
  sent: string[];
  connections: ConnectionRepository;
  comments: CommentRepository;
} {
  const log: string[] = [];
  const sent: string[] = [];
  const {
    lastSeq = 0,
    stored = [],
    expired = [],
    comments: postComments = [comment],
    seqReads = [lastSeq],
    subscribeOutcome,
    otherSeqs = {},
  } = history;
  const following = [...subscribed];
  const connections: ConnectionRepository = {
    addConnection: jest.fn(),
    removeConnection: jest.fn(),
    // As the adapter's transaction: the limit and the subscription are judged together, atomically.
    addSubscription: jest.fn(async ({ postId }, maxSubscriptions: number): Promise<SubscribeOutcome> => {
      log.push(`subscribe ${postId}`);
      if (subscribeOutcome) return subscribeOutcome;
      if (following.includes(postId)) return 'alreadySubscribed';
      if (following.length >= maxSubscriptions) return 'limitReached';
      following.push(postId);
      return 'added';
    }),
    removeSubscription: jest.fn(async (_connectionId: string, postId: string) => {
      log.push(`unsubscribe ${postId}`);
    }),
    subscribedPosts: jest.fn(async () => {
      log.push('subscriptions');
      return [...following];
    }),
    postSubscribers: jest.fn(),
    allConnections: jest.fn(),
    countConnections: jest.fn(),
  };
  const exists = (postId: string): boolean => postId !== 'missing' && postId !== 'gone';
  let seqRead = 0;
  const comments: CommentRepository = {
    createPost: jest.fn(),
    getPost: jest.fn(async (postId: string) => (postId === 'missing' ? undefined : { ...post, id: postId })),
    createComment: jest.fn(),
    getComment: jest.fn(),
    // As the adapter: a page after the cursor's comment, with a cursor when more follow.
    listComments: jest.fn(async (postId: string, { limit, cursor }: ListCommentsOptions) => {
      log.push(`list ${postId}${cursor === undefined ? '' : ` after ${cursor}`}`);
      const start =
        cursor === undefined ? 0 : postComments.findIndex((c) => c.id === decodeCursor(cursor)) + 1;
      const page = postComments.slice(start, start + limit);
      const last = page[page.length - 1];
      return start + limit < postComments.length && last
        ? { comments: page, nextCursor: encodeCursor(last.id) }
        : { comments: page };
    }),
    updateComment: jest.fn(),
    deleteComment: jest.fn(),
    getLastSeq: jest.fn(async (postId: string) => {
      log.push(`seq ${postId}`);
      const seq = seqReads[Math.min(seqRead, seqReads.length - 1)];
      seqRead += 1;
      return postId === 'gone' ? undefined : seq;
    }),
    getLastSeqs: jest.fn(async (postIds: readonly string[]) => {
      log.push(`seqs ${postIds.join(',')}`);
      return new Map(postIds.filter(exists).map((postId) => [postId, otherSeqs[postId] ?? lastSeq]));
    }),
    getEvent: jest.fn(),
    listEvents: jest.fn(async (postId: string, { afterSeq, throughSeq, now }: EventRange) => {
      log.push(`events ${postId} ${afterSeq + 1}..${throughSeq}`);
      return (
        stored
          .filter((seq) => seq > afterSeq && seq <= throughSeq)
          // As the adapter does: an event past its expiresAt at `now` is not returned.
          .filter((seq) => now !== NOW || !expired.includes(seq))
          .map(change)
      );
    }),
  };
  const notifier: ConnectionNotifier = {
    send: async (connectionId: string, payload: string) => {
      sent.push(payload);
      log.push(`send ${connectionId} ${(JSON.parse(payload) as { type: string }).type}`);
      return replyOutcome;
    },
  };
  return {
    service: new SubscriptionService(connections, comments, notifier, {
      snapshotLimit: 10,
      maxSubscriptions: MAX_SUBSCRIPTIONS,
      replayLimit: REPLAY_LIMIT,
      clock: () => new Date(NOW * 1000),
    }),
    log,
    sent,
    connections,
    comments,
  };
}

/** Parsed frames, for assertions on their content. */
const frames = (sent: string[]): unknown[] => sent.map((payload) => JSON.parse(payload) as unknown);

afterEach(() => jest.restoreAllMocks());

describe('SubscriptionService', () => {
  it('subscribes, then reads the seq, then the snapshot, so no change falls between them', async () => {
    // Prepare
    const { service, log, sent, comments } = setup(undefined, [], { lastSeq: 7 });

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(log).toEqual([
      'subscribe p1',
      'send conn-1 subscribed',
      'seq p1',
      'list p1',
      // The seq is read again after the page: unchanged, so the snapshot stands exactly at it.
      'seq p1',
      'send conn-1 comments.list',
    ]);
    expect(comments.listComments).toHaveBeenCalledWith('p1', { limit: 10, consistent: true });
    expect(frames(sent)[1]).toEqual({
      type: 'comments.list',
      data: { postId: 'p1', comments: [comment], count: 1, seq: 7 },
    });
  });

  it('sends seq 0 in the snapshot of a post that has not changed yet', async () => {
    // Prepare
    const { service, sent } = setup();

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(frames(sent)[1]).toMatchObject({ type: 'comments.list', data: { seq: 0 } });
    expect(frames(sent)[1]).not.toHaveProperty('data.reset');
  });

  describe('resubscribe with lastSeq', () => {
    it('replays exactly the missed events, in order, and nothing else', async () => {
      // Prepare
      const { service, log, sent, comments } = setup(undefined, [], { lastSeq: 5, stored: [1, 2, 3, 4, 5] });

      // Act
      await service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq: 2 });

      // Assess
      expect(log).toEqual([
        'subscribe p1',
        'send conn-1 subscribed',
        'seq p1',
        'events p1 3..5',
        'send conn-1 comment.created',
        'send conn-1 comment.updated',
        'send conn-1 comment.created',
      ]);
      // Byte for byte what the comments API broadcast: the stored envelope, serialised as is.
      expect(sent.slice(1)).toEqual([3, 4, 5].map((seq) => JSON.stringify(change(seq))));
      expect(comments.listEvents).toHaveBeenCalledWith('p1', { afterSeq: 2, throughSeq: 5, now: NOW });
      expect(comments.listComments).not.toHaveBeenCalled();
    });

    it('sends nothing after subscribed when the client is up to date', async () => {
      // Prepare
      const { service, log } = setup(undefined, [], { lastSeq: 4, stored: [1, 2, 3, 4] });

      // Act
      await service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq: 4 });

      // Assess
      expect(log).toEqual(['subscribe p1', 'send conn-1 subscribed', 'seq p1']);
    });

    it('replays from the first event for lastSeq 0', async () => {
      // Prepare
      const { service, sent } = setup(undefined, [], { lastSeq: 2, stored: [1, 2] });

      // Act
      await service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq: 0 });

      // Assess
      expect(frames(sent).slice(1)).toEqual([change(1), change(2)]);
    });

    it.each<[string, History, number]>([
      ['the oldest missed event was deleted by TTL', { lastSeq: 5, stored: [4, 5] }, 2],
      [
        'the oldest missed event expired but is not deleted yet',
        { lastSeq: 5, stored: [3, 4, 5], expired: [3] },
        2,
      ],
      ['an event in the middle of the range is missing', { lastSeq: 5, stored: [3, 5] }, 2],
      ['lastSeq is ahead of the post (another history)', { lastSeq: 5, stored: [1, 2, 3, 4, 5] }, 9],
      [
        'more events were missed than the replay limit',
        { lastSeq: 9, stored: [1, 2, 3, 4, 5, 6, 7, 8, 9] },
        3,
      ],
    ])('sends a reset snapshot with the current seq when %s', async (_case, history, lastSeq) => {
      // Prepare
      const { service, sent } = setup(undefined, [], history);
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      await service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq });

      // Assess
      expect(frames(sent)).toEqual([
        { type: 'subscribed', data: { postId: 'p1' } },
        {
          type: 'comments.list',
          data: { postId: 'p1', comments: [comment], count: 1, seq: history.lastSeq, reset: true },
        },
      ]);
      expect(addMetric).toHaveBeenCalledWith('ReplayResets', 'Count', 1);
    });

    it('replays exactly the replay limit, but not one more', async () => {
      // Prepare
      const stored = [1, 2, 3, 4, 5, 6];
      const atLimit = setup(undefined, [], { lastSeq: 6, stored });
      const overLimit = setup(undefined, [], { lastSeq: 6, stored });

      // Act
      await atLimit.service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq: 6 - REPLAY_LIMIT });
      await overLimit.service.handle(client, {
        action: 'subscribe',
        postId: 'p1',
        lastSeq: 6 - REPLAY_LIMIT - 1,
      });

      // Assess
      expect(frames(atLimit.sent).slice(1)).toEqual([2, 3, 4, 5, 6].map(change));
      expect(frames(overLimit.sent).slice(1)).toEqual([
        expect.objectContaining({ type: 'comments.list', data: expect.objectContaining({ reset: true }) }),
      ]);
      expect(overLimit.comments.listEvents).not.toHaveBeenCalled();
    });

    it('stops replaying when the client has left', async () => {
      // Prepare
      const { service, log } = setup({ outcome: 'gone' }, [], { lastSeq: 3, stored: [1, 2, 3] });

      // Act
      await service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq: 0 });

      // Assess
      expect(log.filter((line) => line.startsWith('send'))).toEqual(['send conn-1 subscribed']);
    });

    it('keeps replaying past a failed push, so the client sees the hole and resubscribes', async () => {
      // Prepare
      const { service, sent } = setup({ outcome: 'failed', error: new Error('throttled') }, [], {
        lastSeq: 2,
        stored: [1, 2],
      });

      // Act
      await service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq: 0 });

      // Assess
      expect(sent).toHaveLength(3);
    });

    it('counts the replayed events', async () => {
      // Prepare
      const { service } = setup(undefined, [], { lastSeq: 3, stored: [1, 2, 3] });
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      await service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq: 1 });

      // Assess
      expect(addMetric).toHaveBeenCalledWith('EventsReplayed', 'Count', 2);
    });
  });

  it('answers POST_NOT_FOUND when the post is gone by the time its seq is read', async () => {
    // Prepare
    const { service, sent } = setup();

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'gone' });

    // Assess
    expect(frames(sent)).toEqual([
      { type: 'subscribed', data: { postId: 'gone' } },
      {
        type: 'error',
        data: { code: ErrorCodes.postNotFound, message: 'Post gone does not exist', postId: 'gone' },
      },
    ]);
  });

  it.each([-1, 1.5])('refuses a replay limit of %p at construction', (replayLimit) => {
    // Prepare
    const { connections, comments } = setup();
    const notifier: ConnectionNotifier = { send: async () => ({ outcome: 'delivered' }) };

    // Act
    const build = (): unknown =>
      new SubscriptionService(connections, comments, notifier, {
        maxSubscriptions: MAX_SUBSCRIPTIONS,
        replayLimit,
      });

    // Assess
    expect(build).toThrow(RangeError);
  });

  it('stores the subscription with the connection’s connectedAt', async () => {
    // Prepare
    const { service, connections } = setup();

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(connections.addSubscription).toHaveBeenCalledWith(
      { connectionId: 'conn-1', postId: 'p1', connectedAt: client.connectedAt },
      MAX_SUBSCRIPTIONS,
    );
  });

  it('rejects a subscribe to an unknown post without storing anything, naming the post', async () => {
    // Prepare
    const { service, log, connections, sent } = setup();

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'missing' });

    // Assess
    expect(log).toEqual(['send conn-1 error']);
    expect(connections.addSubscription).not.toHaveBeenCalled();
    expect(frames(sent)).toEqual([
      {
        type: 'error',
        data: { code: ErrorCodes.postNotFound, message: 'Post missing does not exist', postId: 'missing' },
      },
    ]);
  });

  it('subscribes while the connection is below its limit, leaving the limit to the store', async () => {
    // Prepare
    const { service, connections, sent } = setup(undefined, ['p2', 'p3']);

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p4' });

    // Assess
    expect(connections.addSubscription).toHaveBeenCalledWith(
      expect.objectContaining({ postId: 'p4' }),
      MAX_SUBSCRIPTIONS,
    );
    expect(frames(sent)[0]).toEqual({ type: 'subscribed', data: { postId: 'p4' } });
  });

  it('refuses a subscribe the store finds beyond the limit with TOO_MANY_SUBSCRIPTIONS, naming the post', async () => {
    // Prepare
    const { service, log, sent } = setup(undefined, ['p2', 'p3', 'p4']);
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p5' });

    // Assess
    expect(log).toEqual(['subscribe p5', 'send conn-1 error']);
    expect(frames(sent)).toEqual([
      {
        type: 'error',
        data: {
          code: ErrorCodes.tooManySubscriptions,
          message: 'A connection may subscribe to at most 3 posts; unsubscribe from one first',
          postId: 'p5',
        },
      },
    ]);
    expect(addMetric).toHaveBeenCalledWith('SubscriptionLimitReached', 'Count', 1);
  });

  it('refuses the second of two subscribes racing for the last slot: the store judges both, atomically', async () => {
    // Prepare
    const { service, sent } = setup(undefined, ['p2', 'p3']);

    // Act
    await Promise.all([
      service.handle(client, { action: 'subscribe', postId: 'p4' }),
      service.handle(client, { action: 'subscribe', postId: 'p5' }),
    ]);

    // Assess
    const answers = frames(sent).filter((frame) => (frame as { type: string }).type !== 'comments.list');
    expect(answers).toEqual(
      expect.arrayContaining([
        { type: 'subscribed', data: { postId: 'p4' } },
        expect.objectContaining({
          type: 'error',
          data: expect.objectContaining({ code: ErrorCodes.tooManySubscriptions, postId: 'p5' }),
        }),
      ]),
    );
    expect(answers).toHaveLength(2);
  });

  it('lets a connection at its limit subscribe again to a post it already follows', async () => {
    // Prepare
    const { service, log } = setup(undefined, ['p2', 'p3', 'p4']);

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p3' });

    // Assess
    expect(log).toEqual([
      'subscribe p3',
      'send conn-1 subscribed',
      'seq p3',
      'list p3',
      // The seq is read again after the page: unchanged, so the snapshot stands exactly at it.
      'seq p3',
      'send conn-1 comments.list',
    ]);
  });

  it('answers nothing when the connection is gone by the time it subscribes', async () => {
    // Prepare
    const { service, log } = setup(undefined, [], { subscribeOutcome: 'connectionGone' });

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(log).toEqual(['subscribe p1']);
  });

  it('stops after subscribed when the client left in the meantime', async () => {
    // Prepare
    const { service, log } = setup({ outcome: 'gone' });

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(log).toEqual(['subscribe p1', 'send conn-1 subscribed']);
  });

  it.each([0, -1, 1.5])('refuses a limit of %p at construction', (maxSubscriptions) => {
    // Prepare
    const { connections, comments } = setup();
    const notifier: ConnectionNotifier = { send: async () => ({ outcome: 'delivered' }) };

    // Act
    const build = (): unknown =>
      new SubscriptionService(connections, comments, notifier, { maxSubscriptions });

    // Assess
    expect(build).toThrow(RangeError);
  });

  it('removes the subscription and confirms it', async () => {
    // Prepare
    const { service, log } = setup();

    // Act
    await service.handle(client, { action: 'unsubscribe', postId: 'p1' });

    // Assess
    expect(log).toEqual(['unsubscribe p1', 'send conn-1 unsubscribed']);
  });

  it('counts a reply that could not be delivered', async () => {
    // Prepare
    const { service } = setup({ outcome: 'failed', error: new Error('throttled') });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await service.reject(client, { code: ErrorCodes.invalidJson, message: 'bad' });

    // Assess
    expect(addMetric).toHaveBeenCalledWith('ReplyFailures', 'Count', 1);
  });

  it('does not count a reply to a client that already left', async () => {
    // Prepare
    const { service } = setup({ outcome: 'gone' });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await service.handle(client, { action: 'ping' });

    // Assess
    expect(addMetric).not.toHaveBeenCalled();
  });
});

/** Comments c1…cN of post p1 of `size` characters each, oldest first. */
const commentsOf = (count: number, size = 10): Comment[] =>
  Array.from({ length: count }, (_, i) => ({
    id: `c${String(i + 1).padStart(3, '0')}`,
    postId: 'p1',
    userId: 'u1',
    content: 'x'.repeat(size),
    createdAt: '2026-11-26T00:00:00.000Z',
  }));

describe('SubscriptionService snapshots, a page at a time', () => {
  it('sends the first page with hasMore and a cursor when more comments follow it', async () => {
    // Prepare: the page size is 10.
    const all = commentsOf(25);
    const { service, sent } = setup(undefined, [], { lastSeq: 3, comments: all });

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(frames(sent)[1]).toEqual({
      type: 'comments.list',
      data: {
        postId: 'p1',
        comments: all.slice(0, 10),
        count: 10,
        seq: 3,
        hasMore: true,
        cursor: encodeCursor('c010'),
      },
    });
  });

  it('sends a post whose comments fit one page without hasMore, cursor or truncated', async () => {
    // Prepare
    const { service, sent } = setup(undefined, [], { comments: commentsOf(10) });

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    const { data } = frames(sent)[1] as { data: Record<string, unknown> };
    expect(Object.keys(data)).toEqual(['postId', 'comments', 'count', 'seq']);
  });

  it('marks a reset snapshot that has more pages with both reset and hasMore', async () => {
    // Prepare
    const { service, sent } = setup(undefined, [], { lastSeq: 9, stored: [9], comments: commentsOf(12) });

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1', lastSeq: 2 });

    // Assess
    expect(frames(sent)[1]).toMatchObject({
      type: 'comments.list',
      data: { seq: 9, reset: true, hasMore: true, cursor: encodeCursor('c010'), count: 10 },
    });
  });

  it('reads the page again, at the new seq, when the post changed while it was read', async () => {
    // Prepare: the seq read before the page is 4; a change lands during the read, then none.
    const { service, log, sent } = setup(undefined, [], { seqReads: [4, 5, 5] });

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(log).toEqual([
      'subscribe p1',
      'send conn-1 subscribed',
      'seq p1',
      'list p1',
      'seq p1',
      'list p1',
      'seq p1',
      'send conn-1 comments.list',
    ]);
    expect(frames(sent)[1]).toMatchObject({ data: { seq: 5 } });
  });

  it('stops re-reading after a few attempts under constant writes, and sends the last pair read', async () => {
    // Prepare
    const { service, log, sent } = setup(undefined, [], { seqReads: [1, 2, 3, 4, 5, 6, 7] });

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(log.filter((line) => line === 'list p1')).toHaveLength(4);
    expect(frames(sent)[1]).toMatchObject({ data: { seq: 4 } });
  });
});

describe('SubscriptionService listComments', () => {
  it('answers the page after the cursor with comments.page, hasMore and the next cursor', async () => {
    // Prepare
    const all = commentsOf(25);
    const { service, sent, comments } = setup(undefined, [], { comments: all });

    // Act
    await service.handle(client, { action: 'listComments', postId: 'p1', cursor: encodeCursor('c010') });

    // Assess
    expect(comments.listComments).toHaveBeenCalledWith('p1', {
      limit: 10,
      consistent: true,
      cursor: encodeCursor('c010'),
    });
    expect(frames(sent)).toEqual([
      {
        type: 'comments.page',
        data: {
          postId: 'p1',
          comments: all.slice(10, 20),
          count: 10,
          hasMore: true,
          cursor: encodeCursor('c020'),
        },
      },
    ]);
  });

  it('answers the last page with hasMore false and no cursor', async () => {
    // Prepare
    const all = commentsOf(25);
    const { service, sent } = setup(undefined, [], { comments: all });

    // Act
    await service.handle(client, { action: 'listComments', postId: 'p1', cursor: encodeCursor('c020') });

    // Assess
    expect(frames(sent)).toEqual([
      { type: 'comments.page', data: { postId: 'p1', comments: all.slice(20), count: 5, hasMore: false } },
    ]);
  });

  it('answers the first page without a cursor, and stores nothing', async () => {
    // Prepare
    const { service, sent, comments, connections } = setup(undefined, [], { comments: commentsOf(3) });

    // Act
    await service.handle(client, { action: 'listComments', postId: 'p1' });

    // Assess
    expect(comments.listComments).toHaveBeenCalledWith('p1', { limit: 10, consistent: true });
    expect(frames(sent)).toEqual([
      { type: 'comments.page', data: { postId: 'p1', comments: commentsOf(3), count: 3, hasMore: false } },
    ]);
    expect(connections.addSubscription).not.toHaveBeenCalled();
  });

  it('answers INVALID_CURSOR, naming the post, for a cursor the server never handed out', async () => {
    // Prepare: well formed on the wire, but not the encoding of any comment id.
    const { service, sent } = setup(undefined, [], { comments: commentsOf(3) });
    const forged = Buffer.from('../etc', 'utf8').toString('base64url');

    // Act
    await service.handle(client, { action: 'listComments', postId: 'p1', cursor: forged });

    // Assess
    expect(frames(sent)).toEqual([
      {
        type: 'error',
        data: {
          code: ErrorCodes.invalidCursor,
          message: '"cursor" must be a cursor the server sent',
          postId: 'p1',
        },
      },
    ]);
  });

  it('answers POST_NOT_FOUND, naming the post, without reading its comments', async () => {
    // Prepare
    const { service, sent, comments } = setup();

    // Act
    await service.handle(client, { action: 'listComments', postId: 'missing' });

    // Assess
    expect(comments.listComments).not.toHaveBeenCalled();
    expect(frames(sent)).toEqual([
      {
        type: 'error',
        data: { code: ErrorCodes.postNotFound, message: 'Post missing does not exist', postId: 'missing' },
      },
    ]);
  });

  it('lets any other failure of the store reach the handler', async () => {
    // Prepare
    const { service, comments } = setup();
    jest.mocked(comments.listComments).mockRejectedValueOnce(new Error('table unavailable'));

    // Act
    const listing = service.handle(client, { action: 'listComments', postId: 'p1' });

    // Assess
    await expect(listing).rejects.toThrow('table unavailable');
  });
});

describe('SubscriptionService heartbeat', () => {
  it('answers a ping with the current seq of every post the connection follows', async () => {
    // Prepare
    const { service, log, sent, comments } = setup(undefined, ['p1', 'p2'], {
      lastSeq: 4,
      otherSeqs: { p2: 0 },
    });

    // Act
    await service.handle(client, { action: 'ping' });

    // Assess
    expect(log).toEqual(['subscriptions', 'seqs p1,p2', 'send conn-1 pong']);
    expect(comments.getLastSeqs).toHaveBeenCalledWith(['p1', 'p2']);
    expect(frames(sent)).toEqual([{ type: 'pong', data: { seqs: { p1: 4, p2: 0 } } }]);
  });

  it('answers a connection that follows nothing with empty seqs, reading no counter', async () => {
    // Prepare
    const { service, sent, comments } = setup();

    // Act
    await service.handle(client, { action: 'ping' });

    // Assess
    expect(comments.getLastSeqs).not.toHaveBeenCalled();
    expect(frames(sent)).toEqual([{ type: 'pong', data: { seqs: {} } }]);
  });

  it('leaves out a followed post that no longer exists', async () => {
    // Prepare
    const { service, sent } = setup(undefined, ['p1', 'gone'], { lastSeq: 2 });

    // Act
    await service.handle(client, { action: 'ping' });

    // Assess
    expect(frames(sent)).toEqual([{ type: 'pong', data: { seqs: { p1: 2 } } }]);
  });
  it('reports the seq the comment service’s changes left on each followed post', async () => {
    // Prepare
    const repository = new InMemoryCommentRepository();
    const comments = new CommentService({
      comments: repository,
      broadcaster: new RecordingPublisher(),
      ...fixedTimeDependencies(),
      websocketEndpoint: '',
      eventRetentionSeconds: 3600,
    });
    const busy = await comments.createPost({ userId: 'alice' }, { title: 'Busy' });
    const quiet = await comments.createPost({ userId: 'alice' }, { title: 'Quiet' });
    const comment = await comments.createComment({ userId: 'bob' }, busy.id, 'one');
    await comments.updateComment({ userId: 'bob' }, busy.id, comment.id, 'two');
    const { connections } = setup(undefined, [busy.id, quiet.id, 'deleted-post']);
    const sent: string[] = [];
    const service = new SubscriptionService(
      connections,
      repository,
      {
        send: async (_connectionId, payload) => {
          sent.push(payload);
          return { outcome: 'delivered' };
        },
      },
      { maxSubscriptions: MAX_SUBSCRIPTIONS },
    );

    // Act
    await service.handle(client, { action: 'ping' });

    // Assess
    expect(frames(sent)).toEqual([{ type: 'pong', data: { seqs: { [busy.id]: 2, [quiet.id]: 0 } } }]);
  });
});

describe('SubscriptionService.reject', () => {
  it('sends the error as it is when no post was named', async () => {
    // Prepare
    const { service, sent } = setup();

    // Act
    await service.reject(client, { code: ErrorCodes.invalidJson, message: 'Message is not valid JSON' });

    // Assess
    expect(frames(sent)).toEqual([
      { type: 'error', data: { code: ErrorCodes.invalidJson, message: 'Message is not valid JSON' } },
    ]);
  });

  it('adds the post the refused message named', async () => {
    // Prepare
    const { service, sent } = setup();

    // Act
    await service.reject(client, { code: ErrorCodes.internalError, message: 'Internal error' }, 'p7');

    // Assess
    expect(frames(sent)).toEqual([
      { type: 'error', data: { code: ErrorCodes.internalError, message: 'Internal error', postId: 'p7' } },
    ]);
  });
});

describe('snapshotEvent', () => {
  const comment = (i: number, content: string) => ({
    id: `c${i}`,
    postId: 'p1',
    userId: 'u1',
    content,
    createdAt: '2026-11-26T00:00:00.000Z',
  });

  it('keeps a snapshot that fits whole, without a truncated mark', () => {
    // Prepare
    const comments = [comment(1, 'short'), comment(2, 'also short')];

    // Act
    const event = snapshotEvent('p1', comments, 7, false);

    // Assess
    expect(event).toEqual({ type: 'comments.list', data: { postId: 'p1', comments, count: 2, seq: 7 } });
  });

  it('leaves out the newest comments past API Gateway’s message limit and says so', () => {
    // Prepare: 100 comments of 2,000 characters are ~210 KB encoded, well over 128 KB.
    const comments = Array.from({ length: 100 }, (_, i) => comment(i, 'x'.repeat(2000)));

    // Act
    const event = snapshotEvent('p1', comments, 100, true);

    // Assess
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThanOrEqual(MAX_SNAPSHOT_BYTES);
    expect(event.data.truncated).toBe(true);
    expect(event.data.reset).toBe(true);
    expect(event.data.count).toBe(event.data.comments.length);
    expect(event.data.comments).toEqual(comments.slice(0, event.data.comments.length));
    expect(event.data.comments.length).toBeGreaterThan(50);
  });

  it('points the cursor of a cut page past the last comment kept, so the rest is one listComments away', () => {
    // Prepare: the store said nothing follows the page; the cut alone leaves comments out.
    const comments = Array.from({ length: 100 }, (_, i) => comment(i, 'x'.repeat(2000)));

    // Act
    const event = snapshotEvent('p1', comments, 100, false);

    // Assess
    const kept = event.data.comments.length;
    expect(event.data.hasMore).toBe(true);
    expect(event.data.cursor).toBe(encodeCursor(`c${kept - 1}`));
    // One more comment would not have fitted: the cut keeps as many as it can.
    const oneMore = { ...event, data: { ...event.data, comments: comments.slice(0, kept + 1) } };
    expect(Buffer.byteLength(JSON.stringify(oneMore))).toBeGreaterThan(MAX_SNAPSHOT_BYTES);
  });

  it('passes on the store’s cursor when the page fits, with hasMore', () => {
    // Prepare
    const comments = [comment(1, 'short')];

    // Act
    const event = snapshotEvent('p1', comments, 7, false, 'next-page');

    // Assess
    expect(event.data).toEqual({
      postId: 'p1',
      comments,
      count: 1,
      seq: 7,
      hasMore: true,
      cursor: 'next-page',
    });
  });
});

describe('pageEvent', () => {
  const comment = (i: number, content: string) => ({
    id: `c${i}`,
    postId: 'p1',
    userId: 'u1',
    content,
    createdAt: '2026-11-26T00:00:00.000Z',
  });

  it('cuts a page past the limit and points its cursor past the last comment kept', () => {
    // Prepare
    const comments = Array.from({ length: 100 }, (_, i) => comment(i, 'x'.repeat(2000)));

    // Act
    const event = pageEvent('p1', comments, 'start-cursor', undefined);

    // Assess
    const kept = event.data.comments.length;
    expect(Buffer.byteLength(JSON.stringify(event))).toBeLessThanOrEqual(MAX_SNAPSHOT_BYTES);
    expect(event.data).toMatchObject({
      truncated: true,
      hasMore: true,
      cursor: encodeCursor(`c${kept - 1}`),
    });
    expect(event.data.comments).toEqual(comments.slice(0, kept));
  });

  it('keeps the store’s cursor for a page that fits', () => {
    // Act
    const event = pageEvent('p1', [comment(1, 'a')], 'start-cursor', 'next-cursor');

    // Assess
    expect(event).toEqual({
      type: 'comments.page',
      data: { postId: 'p1', comments: [comment(1, 'a')], count: 1, hasMore: true, cursor: 'next-cursor' },
    });
  });
});
