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

function setup(replyOutcome: DeliveryResult = { outcome: 'delivered' }): {
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
    postSubscribers: jest.fn(),
    allConnections: jest.fn(),
    countConnections: jest.fn(),
  };
  const comments: CommentRepository = {
    createPost: jest.fn(),
    getPost: jest.fn(async (postId: string) => (postId === 'p1' ? post : undefined)),
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
    service: new SubscriptionService(connections, comments, notifier, 10),
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
    expect(log).toEqual(['subscribe p1', 'send conn-1 subscribed', 'list p1', 'send conn-1 comments.list']);
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
