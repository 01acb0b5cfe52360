import type { ConnectionRepository } from '../../../lambda/shared/connection-repository';
import { ConnectionService } from '../../../lambda/websocket-connection/connection-service';

function fakeConnections(): ConnectionRepository {
  return {
    addConnection: jest.fn(async () => undefined),
    removeConnection: jest.fn(async () => 3),
    addSubscription: jest.fn(),
    removeSubscription: jest.fn(),
    subscribedPosts: jest.fn(),
    postSubscribers: jest.fn(),
    allConnections: jest.fn(),
    countConnections: jest.fn(),
  };
}

describe('ConnectionService', () => {
  it('stores a new connection as given', async () => {
    // Prepare
    const connections = fakeConnections();
    const service = new ConnectionService(connections);

    // Act
    await service.connect({ connectionId: 'c1', connectedAt: 1_795_000_000_000, userId: 'u1' });

    // Assess
    expect(connections.addConnection).toHaveBeenCalledWith({
      connectionId: 'c1',
      connectedAt: 1_795_000_000_000,
      userId: 'u1',
    });
  });

  it('removes the connection with its subscriptions and reports how many rows went', async () => {
    // Prepare
    const connections = fakeConnections();
    const service = new ConnectionService(connections);

    // Act
    const removed = await service.disconnect('c1');

    // Assess
    expect(removed).toBe(3);
    expect(connections.removeConnection).toHaveBeenCalledWith('c1');
  });

  it('lets a repository failure reach the handler, which decides the response', async () => {
    // Prepare
    const connections = fakeConnections();
    jest.mocked(connections.addConnection).mockRejectedValueOnce(new Error('throttled'));
    const service = new ConnectionService(connections);

    // Act
    const connect = service.connect({ connectionId: 'c1', connectedAt: 0 });

    // Assess
    await expect(connect).rejects.toThrow('throttled');
  });
});
