import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EnvNames } from '../../contracts/env-names';
import { optionalEnv, type Env } from '../../contracts/env-reader';
import { tracer } from './telemetry';

/**
 * SDK clients, built once per cold start by each handler module and passed into the adapters that use
 * them. `DYNAMODB_ENDPOINT` and `LAMBDA_ENDPOINT` are only set by the local stack (DynamoDB Local, its
 * Lambda Invoke emulation); in Lambda they are absent and the SDK uses the regional endpoints.
 *
 * Each client is traced (tracer.captureAWSv3Client): in Lambda every call is an X-Ray subsegment with its
 * service, operation, status and retries; elsewhere tracing is off and the client is returned as built.
 */
export function createDocumentClient(
  env: Env = process.env,
  callTimeouts: CallTimeouts = CALL_TIMEOUTS.dynamodb,
): DynamoDBDocumentClient {
  // The document client shares the base client's middleware stack, so capturing the base client traces both.
  const client = tracer.captureAWSv3Client(
    new DynamoDBClient({
      ...localEndpoint(EnvNames.dynamodbEndpoint, env),
      requestHandler: timeouts(callTimeouts),
    }),
  );
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export interface ManagementClientOptions {
  /**
   * Attempts per call, the SDK's own retries included. The fan-out passes 1: it retries throttles and
   * 5xx itself, with its own backoff, so that every retry is counted and bounded in one place.
   * @default the SDK's standard retry strategy (3 attempts)
   */
  readonly maxAttempts?: number;
  /** @default CALL_TIMEOUTS.managementApi */
  readonly timeouts?: CallTimeouts;
}

export function createManagementClient(
  endpoint: string,
  options: ManagementClientOptions = {},
): ApiGatewayManagementApiClient {
  return tracer.captureAWSv3Client(
    new ApiGatewayManagementApiClient({
      endpoint,
      requestHandler: timeouts(options.timeouts ?? CALL_TIMEOUTS.managementApi),
      ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    }),
  );
}

export function createLambdaClient(
  env: Env = process.env,
  callTimeouts: CallTimeouts = CALL_TIMEOUTS.lambda,
): LambdaClient {
  return tracer.captureAWSv3Client(
    new LambdaClient({
      ...localEndpoint(EnvNames.lambdaEndpoint, env),
      requestHandler: timeouts(callTimeouts),
    }),
  );
}

/** Milliseconds one attempt of a call may take to connect, and in all. */
export interface CallTimeouts {
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
}

/**
 * How long one attempt of a call may take before it fails (and, where the SDK retries, is tried again):
 * to open its connection, and for the whole answer. Without them a call to an endpoint that accepted the
 * connection and went silent waits until the function times out. Each is far above the service's normal
 * latency (single-digit milliseconds for DynamoDB and PostToConnection, tens for an Event invoke).
 */
export const CALL_TIMEOUTS = {
  dynamodb: { connectionTimeoutMs: 1000, requestTimeoutMs: 5000 },
  managementApi: { connectionTimeoutMs: 1000, requestTimeoutMs: 3000 },
  lambda: { connectionTimeoutMs: 1000, requestTimeoutMs: 5000 },
} as const satisfies Record<string, CallTimeouts>;

/**
 * The SDK's Node HTTP handler options for these timeouts. `throwOnRequestTimeout` is what makes the
 * request timeout fail the call: without it, the pinned @smithy/node-http-handler only logs a warning
 * when the time is up and goes on waiting.
 */
function timeouts({ connectionTimeoutMs, requestTimeoutMs }: CallTimeouts) {
  return {
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: requestTimeoutMs,
    throwOnRequestTimeout: true,
  };
}

/** The local stack's endpoint for a client when it sets one; none (the regional endpoint) in Lambda. */
function localEndpoint(name: string, env: Env): { endpoint?: string } {
  const endpoint = optionalEnv(name, '', env);
  return endpoint === '' ? {} : { endpoint };
}
