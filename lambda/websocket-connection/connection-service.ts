import type { ConnectionRepository, NewConnection } from '../shared/connection-repository';

/**
 * The connection lifecycle: a row per open connection (with its TTL) on $connect, and on $disconnect
 * that row plus every subscription the connection made.
 */
export class ConnectionService {
  constructor(private readonly connections: ConnectionRepository) {}

  async connect(connection: NewConnection): Promise<void> {
    await this.connections.addConnection(connection);
  }

  /** Returns how many rows (connection + subscriptions) were removed. */
  async disconnect(connectionId: string): Promise<number> {
    return this.connections.removeConnection(connectionId);
  }
}
