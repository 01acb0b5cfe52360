/**
 * The names the functions' logs and metrics go out under, shared by the handlers that emit them and the
 * CDK code that sets POWERTOOLS_SERVICE_NAME and graphs and alarms on the metrics
 * (lib/constructs/operations.ts). A metric renamed on one side only would leave a dashboard graph empty
 * or an alarm that can never fire, without any error; with one catalogue it does not compile.
 *
 * No imports: the CDK app imports this module, and must not load Powertools to do so.
 */

/** The CloudWatch namespace of every custom metric (Powertools Metrics, as Embedded Metric Format). */
export const METRICS_NAMESPACE = 'RealtimeComments';

/**
 * Each function's POWERTOOLS_SERVICE_NAME: the `service` key of its log lines and the `service` dimension
 * of its metrics.
 */
export const ServiceNames = {
  websocketAuthorizer: 'websocket-authorizer',
  websocketConnection: 'websocket-connection',
  websocketMessages: 'websocket-messages',
  broadcast: 'broadcast',
  fanOutWorker: 'fan-out-worker',
  commentsApi: 'comments-api',
} as const;
export type ServiceName = (typeof ServiceNames)[keyof typeof ServiceNames];

/** Every custom metric a function emits. Counts unless the name says otherwise. */
export const MetricNames = {
  // websocket-authorizer
  authorizerAllowed: 'AuthorizerAllowed',
  authorizerDenied: 'AuthorizerDenied',
  /** The authorizer could not decide (the issuer's keys could not be fetched): API Gateway answers 500. */
  authorizerErrors: 'AuthorizerErrors',
  // websocket-connection
  connectionsOpened: 'ConnectionsOpened',
  connectionsClosed: 'ConnectionsClosed',
  connectFailures: 'ConnectFailures',
  disconnectCleanupFailures: 'DisconnectCleanupFailures',
  // websocket-messages
  invalidClientMessages: 'InvalidClientMessages',
  clientMessageFailures: 'ClientMessageFailures',
  subscriptionLimitReached: 'SubscriptionLimitReached',
  eventsReplayed: 'EventsReplayed',
  replayResets: 'ReplayResets',
  replyFailures: 'ReplyFailures',
  // broadcast and fan-out-worker: one delivery outcome per connection (docs/fan-out.md)
  delivered: 'Delivered',
  staleConnections: 'StaleConnections',
  deliveryRetries: 'DeliveryRetries',
  deliveryFailures: 'DeliveryFailures',
  staleConnectionCleanupFailures: 'StaleConnectionCleanupFailures',
  /** Milliseconds one fan-out took: an inline delivery (broadcast) or one batch (fan-out-worker). */
  fanOutDuration: 'FanOutDuration',
  // broadcast
  fanOutDispatchFailures: 'FanOutDispatchFailures',
  fanOutBatchesQueued: 'FanOutBatchesQueued',
  fanOutConnectionsQueued: 'FanOutConnectionsQueued',
  // fan-out-worker
  fanOutBatchFailures: 'FanOutBatchFailures',
  fanOutHandOnFailures: 'FanOutHandOnFailures',
  fanOutBatchesHandedOn: 'FanOutBatchesHandedOn',
  // comments-api
  broadcastFailures: 'BroadcastFailures',
  broadcastTimeouts: 'BroadcastTimeouts',
  requestSigningFailures: 'RequestSigningFailures',
  // any HTTP handler
  unhandledErrors: 'UnhandledErrors',
} as const;
export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];
