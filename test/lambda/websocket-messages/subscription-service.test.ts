import type { CommentRepository } from '../../../lambda/shared/comment-repository';
import type { ConnectionNotifier, DeliveryResult } from '../../../lambda/shared/connection-notifier';
import type { ConnectionRepository } from '../../../lambda/shared/connection-repository';
import { ErrorCodes, type Comment } from '../../../lambda/shared/protocol';
import { metrics } from '../../../lambda/shared/telemetry';
import {
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

function setup(
  replyOutcome: DeliveryResult = { outcome: 'delivered' },
  subscribed: string[] = [],
): {
  service: SubscriptionService;
  log: string[];
  connections: ConnectionRepository;
  comments: CommentRepository;
} {
  const log: string[] = [];
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
  };
  const notifier: ConnectionNotifier = {
    send: async (connectionId: string, payload: string) => {
      log.push(`send ${connectionId} ${(JSON.parse(payload) as { type: string }).type}`);
      return replyOutcome;
    },
  };
  return {
    service: new SubscriptionService(connections, comments, notifier, {
      snapshotLimit: 10,
      maxSubscriptions: MAX_SUBSCRIPTIONS,
    }),
    log,
    connections,
    comments,
  };
}

afterEach(() => jest.restoreAllMocks());

describe('SubscriptionService', () => {
  it('subscribes before reading the snapshot, so no comment falls between the two', async () => {
    // Prepare
    const { service, log, comments } = setup();

    // Act
    await service.handle(client, { action: 'subscribe', postId: 'p1' });

    // Assess
    expect(log).toEqual([
      'count',
      'subscribe p1',
      'send conn-1 subscribed',
      'list p1',
      'send conn-1 comments.list',
    ]);
    expect(comments.listComments).toHaveBeenCalledWith('p1', { limit: 10 });
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
      'list p3',
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
