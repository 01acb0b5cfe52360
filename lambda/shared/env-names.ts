/**
 * The environment variables the functions read. The CDK constructs set them from these names and the
 * handlers read them with these names, so a rename cannot leave the two disagreeing.
 */
export const EnvNames = {
  stage: 'STAGE',
  connectionsTable: 'CONNECTIONS_TABLE_NAME',
  commentsTable: 'COMMENTS_TABLE_NAME',
  /** https://{apiId}.execute-api.{region}.amazonaws.com/{stage}: where postToConnection is sent. */
  managementEndpoint: 'WEBSOCKET_MANAGEMENT_ENDPOINT',
  /** wss:// URL clients connect to; reported by the comments API's status endpoint. */
  websocketUrl: 'WEBSOCKET_URL',
  /** Base URL of the broadcast HTTP API stage, e.g. https://{apiId}.execute-api.{region}.amazonaws.com/dev */
  broadcastUrl: 'BROADCAST_URL',
  broadcastTimeoutMs: 'BROADCAST_TIMEOUT_MS',
  /** Seconds a connection row lives after connect: API Gateway's 2-hour cap plus a margin. */
  connectionTtlSeconds: 'CONNECTION_TTL_SECONDS',
  /** How many postToConnection calls one broadcast keeps in flight. */
  fanOutConcurrency: 'FAN_OUT_CONCURRENCY',
  /** The token issuer (`iss`), e.g. https://cognito-idp.{region}.amazonaws.com/{userPoolId}. */
  authIssuer: 'AUTH_ISSUER',
  /** Accepted audience: the `aud` claim, or `client_id` for Cognito access tokens. */
  authAudience: 'AUTH_AUDIENCE',
  /** Where the issuer publishes its signing keys (JWKS). */
  authJwksUrl: 'AUTH_JWKS_URL',
  /** "true" lets $connect accept connections without a token, as read-only subscribers. */
  allowAnonymous: 'ALLOW_ANONYMOUS_SUBSCRIBERS',
  /** How many posts one connection may subscribe to at once. */
  maxSubscriptions: 'MAX_SUBSCRIPTIONS_PER_CONNECTION',
} as const;
