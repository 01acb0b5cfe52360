import {
  GoneException,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { ServerEvent } from './protocol';

/** What happened to one push: the fan-out counts each outcome. */
export type DeliveryOutcome = 'delivered' | 'gone' | 'failed';

export interface DeliveryResult {
  outcome: DeliveryOutcome;
  error?: Error;
}

/** Pushes a message to one WebSocket connection. */
export interface ConnectionNotifier {
  send(connectionId: string, payload: string): Promise<DeliveryResult>;
}

/** Serialises once: a broadcast sends the same bytes to every connection. */
export function encodeEvent(event: ServerEvent | { type: string; data?: unknown }): string {
  return JSON.stringify(event);
}

/** The API Gateway Management API adapter (postToConnection). Never throws: failures are outcomes. */
export class ManagementApiNotifier implements ConnectionNotifier {
  private readonly encoder = new TextEncoder();

  constructor(private readonly client: ApiGatewayManagementApiClient) {}

  async send(connectionId: string, payload: string): Promise<DeliveryResult> {
    try {
      await this.client.send(
        new PostToConnectionCommand({ ConnectionId: connectionId, Data: this.encoder.encode(payload) }),
      );
      return { outcome: 'delivered' };
    } catch (error) {
      if (
        error instanceof GoneException ||
        (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 410
      ) {
        return { outcome: 'gone' };
      }
      return { outcome: 'failed', error: error instanceof Error ? error : new Error(String(error)) };
    }
  }
}
