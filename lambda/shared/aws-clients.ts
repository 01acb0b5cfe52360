import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

type Env = Record<string, string | undefined>;

/**
 * SDK clients, built once per cold start by each handler module and passed into the adapters that use
 * them. `DYNAMODB_ENDPOINT` and `LAMBDA_ENDPOINT` are only set by the local stack (DynamoDB Local, its
 * Lambda Invoke emulation); in Lambda they are absent and the SDK uses the regional endpoints.
 */
export function createDocumentClient(env: Env = process.env): DynamoDBDocumentClient {
  const endpoint = env.DYNAMODB_ENDPOINT;
  const client = new DynamoDBClient(endpoint ? { endpoint } : {});
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
}

export function createManagementClient(
  endpoint: string,
  options: ManagementClientOptions = {},
): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint,
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
  });
}

export function createLambdaClient(env: Env = process.env): LambdaClient {
  const endpoint = env.LAMBDA_ENDPOINT;
  return new LambdaClient(endpoint ? { endpoint } : {});
}
