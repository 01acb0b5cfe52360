import { BroadcastService } from '../../../lambda/broadcast/broadcast-service';
import type { ConnectionNotifier, DeliveryResult } from '../../../lambda/shared/connection-notifier';
import type { ConnectionRepository } from '../../../lambda/shared/connection-repository';

/** A connection repository whose audiences are fixed pages, recording the order of reads and deletes. */
function fakeConnections(pages: string[][], log: string[]): ConnectionRepository {
  async function* audience(name: string): AsyncIterable<string[]> {
    for (const [index, page] of pages.entries()) {
      log.push(`read ${name} page ${index + 1}`);
      yield page;
    }
  }
  return {
    addConnection: jest.fn(),
    removeConnection: jest.fn(async (connectionId: string) => {
      log.push(`remove ${connectionId}`);
      return 1;
    }),
    addSubscription: jest.fn(),
    removeSubscription: jest.fn(),
    countSubscriptions: jest.fn(),
    isSubscribed: jest.fn(),
    postSubscribers: (postId: string) => audience(`post ${postId}`),
    allConnections: () => audience('all'),
    countConnections: jest.fn(async () => 42),
  };
}

function fakeNotifier(
  log: string[],
  outcomes: Record<string, DeliveryResult | Error> = {},
): ConnectionNotifier {
  return {
    send: async (connectionId: string) => {
      log.push(`send ${connectionId}`);
      const outcome = outcomes[connectionId] ?? { outcome: 'delivered' };
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
  };
}

describe('BroadcastService', () => {
  it('starts delivering before it reads the next page of the audience', async () => {
    // Prepare
    const log: string[] = [];
    const service = new BroadcastService(fakeConnections([['a', 'b'], ['c']], log), fakeNotifier(log), 1);

    // Act
    await service.broadcast({ type: 'comment.created', data: { postId: 'p1' } });

    // Assess
    expect(log).toEqual(['read post p1 page 1', 'send a', 'send b', 'read post p1 page 2', 'send c']);
  });

  it('addresses every connection when the envelope names no post', async () => {
    // Prepare
    const log: string[] = [];
    const service = new BroadcastService(fakeConnections([['a']], log), fakeNotifier(log), 5);

    // Act
    await service.broadcast({ type: 'system.notice' });

    // Assess
    expect(log).toEqual(['read all page 1', 'send a']);
  });

  it('tallies each outcome and removes only gone connections', async () => {
    // Prepare
    const log: string[] = [];
    const connections = fakeConnections([['a', 'b', 'c', 'd']], log);
    const notifier = fakeNotifier(log, {
      b: { outcome: 'gone' },
      c: { outcome: 'failed', error: new Error('throttled') },
      d: new Error('notifier broke its contract'),
    });
    const service = new BroadcastService(connections, notifier, 2);

    // Act
    const summary = await service.broadcast({ type: 'system.notice' });

    // Assess
    expect(summary).toEqual({ connectionCount: 4, delivered: 1, stale: 1, failed: 2 });
    expect(connections.removeConnection).toHaveBeenCalledTimes(1);
    expect(connections.removeConnection).toHaveBeenCalledWith('b');
  });

  it('counts connections through the repository', async () => {
    // Prepare
    const service = new BroadcastService(fakeConnections([], []), fakeNotifier([]), 1);

    // Act
    const count = await service.countConnections();

    // Assess
    expect(count).toBe(42);
  });
});
