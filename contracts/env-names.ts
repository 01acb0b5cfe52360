/**
 * Every environment variable the functions read. The CDK constructs set them from these names and the
 * handlers read them with these names, so a rename cannot leave the two disagreeing. Most are set by the
 * stacks from the stage config (lib/config/stage-config.ts, the one place their values are chosen); the
 * few that Lambda or the local stack set instead say so.
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
  /** How many postToConnection calls one broadcast (or one fan-out worker batch) keeps in flight. */
  fanOutConcurrency: 'FAN_OUT_CONCURRENCY',
  /** Name of the fan-out worker function the broadcast invokes (asynchronously) for each batch. */
  fanOutWorkerFunctionName: 'FAN_OUT_WORKER_FUNCTION_NAME',
  /** Connection ids per worker batch; an audience of at most this many is delivered inline. */
  fanOutBatchSize: 'FAN_OUT_BATCH_SIZE',
  /** postToConnection attempts per connection (the first one included) before it counts as failed. */
  fanOutMaxAttempts: 'FAN_OUT_MAX_ATTEMPTS',
  /** Backoff before the n-th retry is a random delay in [0, min(max, base * 2^(n-1))] ms (full jitter). */
  fanOutRetryBaseMs: 'FAN_OUT_RETRY_BASE_MS',
  fanOutRetryMaxMs: 'FAN_OUT_RETRY_MAX_MS',
  /**
   * Generations of a worker batch that attempt delivery: the broadcast's batch is the first, each hand-on
   * of the ids that still failed the next. The failures of the last one are dead-lettered.
   */
  fanOutMaxGenerations: 'FAN_OUT_MAX_GENERATIONS',
  /**
   * Milliseconds a publishing path holds its claim on a stored event before another may take it over:
   * longer than any publishing function may run, so only a dead holder's claim is ever taken over.
   */
  publishClaimTtlMs: 'PUBLISH_CLAIM_TTL_MS',
  /** Set by Lambda itself (and by the local stack): the running function's own name. */
  lambdaFunctionName: 'AWS_LAMBDA_FUNCTION_NAME',
  /** Set by Lambda itself: the function's handler setting (`index.handler`), which names its trace subsegment. */
  lambdaHandler: '_HANDLER',
  /** Set by Lambda itself (and by the local stack): the region the function runs in, e.g. for SigV4. */
  region: 'AWS_REGION',
  /**
   * Set by the local stack only: DynamoDB Local's URL. Unset in Lambda, where the SDK uses the regional
   * endpoint.
   */
  dynamodbEndpoint: 'DYNAMODB_ENDPOINT',
  /**
   * Set by the local stack only: its emulation of Lambda's Invoke API, where fan-out batches are queued.
   * Unset in Lambda, where the SDK uses the regional endpoint.
   */
  lambdaEndpoint: 'LAMBDA_ENDPOINT',
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
  /** Seconds a comment change event is kept for clients resuming with `lastSeq` (the table's TTL). */
  eventRetentionSeconds: 'EVENT_RETENTION_SECONDS',
} as const;
