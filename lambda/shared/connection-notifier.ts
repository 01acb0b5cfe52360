import {
  GoneException,
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import type { ServerEvent } from '../../contracts/protocol';

/** What happened to one push: the fan-out counts each outcome. */
export type DeliveryOutcome = 'delivered' | 'gone' | 'failed';

export interface DeliveryResult {
  outcome: DeliveryOutcome;
  error?: Error;
  /**
   * For a failure: whether the same push may succeed if tried again (throttled, a 5xx, the network).
   * Absent means no: a retry would fail the same way (413 too large, 403 forbidden, a bad request).
   */
  retryable?: boolean;
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
      if (error instanceof GoneException || httpStatusOf(error) === 410) {
        return { outcome: 'gone' };
      }
      return {
        outcome: 'failed',
        error: error instanceof Error ? error : new Error(String(error)),
        retryable: isRetryableDeliveryError(error),
      };
    }
  }
}

const THROTTLING_ERROR_NAMES = new Set([
  'LimitExceededException',
  'ThrottlingException',
  'TooManyRequestsException',
]);

function httpStatusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

/**
 * Whether a failed postToConnection is worth trying again: API Gateway throttled it (429
 * LimitExceededException: the account's Management API quota is shared by every fan-out), the service
 * failed (5xx), or no HTTP answer arrived at all (a reset connection, a timeout). Never for 410 (gone:
 * handled apart), 413 (the payload will not shrink), 403 (the grant will not appear) or other 4xx.
 */
export function isRetryableDeliveryError(error: unknown): boolean {
  if (typeof error === 'object' && error !== null && THROTTLING_ERROR_NAMES.has((error as Error).name)) {
    return true;
  }
  const status = httpStatusOf(error);
  if (status === undefined) return true;
  return status === 429 || status >= 500;
}
