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
  eventPublisher: 'event-publisher',
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
  // publishing: the broadcast's fast path and the stream publisher (docs/fan-out.md, "Publishing")
  /** Stored events this path claimed and fanned out. */
  eventsPublished: 'EventsPublished',
  /** Stored events this path left to the other, which had claimed or published them. */
  eventsSkipped: 'EventsSkipped',
  /** Stream records that could not be published in this invocation: Lambda retries them. */
  publishFailures: 'PublishFailures',
  /** Milliseconds from an event's commit to the end of its fan-out hand-off, per path. */
  publishLag: 'PublishLag',
  /** Claims that ran out before their fan-out finished and were taken over. */
  claimsTakenOver: 'ClaimsTakenOver',
  // comments-api
  /** Writes answered from an idempotency record instead of being written again. */
  idempotentReplays: 'IdempotentReplays',
  broadcastFailures: 'BroadcastFailures',
  broadcastTimeouts: 'BroadcastTimeouts',
  requestSigningFailures: 'RequestSigningFailures',
  // any HTTP handler
  unhandledErrors: 'UnhandledErrors',
  /** Requests answered 503 because DynamoDB (or a post's writers) refused for capacity; never a 500. */
  capacityRefusals: 'CapacityRefusals',
} as const;
export type MetricName = (typeof MetricNames)[keyof typeof MetricNames];
