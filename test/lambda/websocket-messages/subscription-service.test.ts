import type { CommentRepository, EventRange } from '../../../lambda/shared/comment-repository';
import type { ConnectionNotifier, DeliveryResult } from '../../../lambda/shared/connection-notifier';
import type { ConnectionRepository } from '../../../lambda/shared/connection-repository';
import { ErrorCodes, type Comment, type SequencedChangeEvent } from '../../../contracts/protocol';
import { metrics } from '../../../lambda/shared/telemetry';
import {
  MAX_SNAPSHOT_BYTES,
  snapshotEvent,
  SubscriptionService,
  type ClientConnection,
} from '../../../lambda/websocket-messages/subscription-service';

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
  const { lastSeq = 0, stored = [], expired = [] } = history;
  const connections: ConnectionRepository = {
    addConnection: jest.fn(),
    removeConnection: jest.fn(),
    addSubscription: jest.fn(async ({ postId }) => {
      log.push(`subscribe ${postId}`);
    }),
    removeSubscription: jest.fn(async (_connectionId: string, postId: string) => {
      log.push(`unsubscribe ${postId}`);
    }),
    countSubscriptions: jest.fn(async () => {
      log.push('count');
      return subscribed.length;
    }),
    isSubscribed: jest.fn(async (_connectionId: string, postId: string) => subscribed.includes(postId)),
    postSubscribers: jest.fn(),
    allConnections: jest.fn(),
    countConnections: jest.fn(),
  };
  const comments: CommentRepository = {
    createPost: jest.fn(),
    getPost: jest.fn(async (postId: string) => (postId === 'missing' ? undefined : { ...post, id: postId })),
    createComment: jest.fn(),
    getComment: jest.fn(),
    listComments: jest.fn(async (postId: string) => {
      log.push(`list ${postId}`);
      return { comments: [comment] };
    }),
    updateComment: jest.fn(),
    deleteComment: jest.fn(),
    getLastSeq: jest.fn(async (postId: string) => {
      log.push(`seq ${postId}`);
      return postId === 'gone' ? undefined : lastSeq;
    }),
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
      'count',
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
        'count',
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
      expect(log).toEqual(['count', 'subscribe p1', 'send conn-1 subscribed', 'seq p1']);
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
      { type: 'error', data: { code: ErrorCodes.postNotFound, message: 'Post gone does not exist' } },
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
    expect(connections.addSubscription).toHaveBeenCalledWith({
      connectionId: 'conn-1',
      postId: 'p1',
      connectedAt: client.connectedAt,
    });
  });

  it('rejects a subscribe to an unknown post without storing anything', async () => {
    // Prepare
    const { service, log, connections } = setup();

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'missing' });

    // Assess
    expect(log).toEqual(['send conn-1 error']);
    expect(connections.addSubscription).not.toHaveBeenCalled();
  });

  it('subscribes while the connection is below its limit', async () => {
    // Prepare
    const { service, connections } = setup(undefined, ['p2', 'p3']);

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p4' });

    // Assess
    expect(connections.countSubscriptions).toHaveBeenCalledWith('conn-1');
    expect(connections.addSubscription).toHaveBeenCalledWith(expect.objectContaining({ postId: 'p4' }));
  });

  it('refuses a subscribe beyond the limit with TOO_MANY_SUBSCRIPTIONS, storing nothing', async () => {
    // Prepare
    const { service, log, connections } = setup(undefined, ['p2', 'p3', 'p4']);
    const sent: unknown[] = [];
    jest.spyOn(service, 'reject').mockImplementation(async (_client, error) => {
      sent.push(error);
    });
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p5' });

    // Assess
    expect(connections.addSubscription).not.toHaveBeenCalled();
    expect(log).toEqual(['count']);
    expect(sent).toEqual([
      {
        code: ErrorCodes.tooManySubscriptions,
        message: 'A connection may subscribe to at most 3 posts; unsubscribe from one first',
      },
    ]);
    expect(addMetric).toHaveBeenCalledWith('SubscriptionLimitReached', 'Count', 1);
  });

  it('lets a connection at its limit subscribe again to a post it already follows', async () => {
    // Prepare
    const { service, log, connections } = setup(undefined, ['p2', 'p3', 'p4']);

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p3' });

    // Assess
    expect(connections.isSubscribed).toHaveBeenCalledWith('conn-1', 'p3');
    expect(log).toEqual([
      'count',
      'subscribe p3',
      'send conn-1 subscribed',
      'seq p3',
      'list p3',
      // The seq is read again after the page: unchanged, so the snapshot stands exactly at it.
      'seq p3',
      'send conn-1 comments.list',
    ]);
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
});
