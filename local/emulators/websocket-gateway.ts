import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { RouteAuthorizers } from '../auth/authorizers';
import { LocalManagementApi } from './management-api';
import { LocalWebSocketApi, type WebSocketApiOptions } from './websocket-api';

export interface WebSocketGatewayOptions extends WebSocketApiOptions {
  /** SigV4 for the Management API; the WebSocket routes themselves use Lambda authorizers only. */
  authorizers: RouteAuthorizers;
}

/**
 * The local stand-in for one API Gateway WebSocket API as a deployed stage exposes it: the WebSocket API
 * clients connect to (websocket-api.ts) and the Management API (`@connections`, management-api.ts) the
 * functions push through, which acts on the same connections. The local stack's gateway server hands
 * upgrades and requests to it.
 */
export class LocalWebSocketGateway {
  private readonly webSocketApi: LocalWebSocketApi;
  private readonly managementApi: LocalManagementApi;

  constructor(options: WebSocketGatewayOptions) {
    this.webSocketApi = new LocalWebSocketApi(options);
    this.managementApi = new LocalManagementApi({
      stage: options.api.stageName,
      domainName: options.domainName,
      connections: this.webSocketApi,
      authorizers: options.authorizers,
      faults: options.faults,
    });
  }

  get stage(): string {
    return this.webSocketApi.stage;
  }

  get connectionCount(): number {
    return this.webSocketApi.connectionCount;
  }

  /** Handles an HTTP upgrade on `/<stage>`; returns false when the path is not this API's. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    return this.webSocketApi.handleUpgrade(req, socket, head);
  }

  /** Handles `/<stage>/@connections/{id}`; returns false when the path is not the Management API. */
  handleManagement(req: IncomingMessage, res: ServerResponse): boolean {
    return this.managementApi.handle(req, res);
  }

  /** Drops every connection without close frames or $disconnect, as when the gateway dies. Returns how many. */
  dropAllConnections(): number {
    return this.webSocketApi.dropAllConnections();
  }

  stop(): Promise<void> {
    return this.webSocketApi.stop();
  }
}
