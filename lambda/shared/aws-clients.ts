import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * SDK clients, built once per cold start by each handler module and passed into the adapters that use
 * them. `DYNAMODB_ENDPOINT` is only set by the local stack (DynamoDB Local); in Lambda it is absent.
 */
export function createDocumentClient(
  env: Record<string, string | undefined> = process.env,
): DynamoDBDocumentClient {
  const endpoint = env.DYNAMODB_ENDPOINT;
  const client = new DynamoDBClient(endpoint ? { endpoint } : {});
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { removeUndefinedValues: true },
  });
}

export function createManagementClient(endpoint: string): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({ endpoint });
}
