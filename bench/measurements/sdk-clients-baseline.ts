/**
 * The cold-start baseline (bench/measurements/cold-start.ts): a function that does nothing but build the
 * AWS SDK clients our functions build (the DynamoDB document client, the Management API client, the Lambda
 * client), with the same request handler options, bundled exactly as they are. What a function's module
 * initialisation costs above this is our code and Powertools; this much is the SDK's.
 */
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

const requestHandler = { connectionTimeout: 1000, requestTimeout: 5000, throwOnRequestTimeout: true };

export const clients = {
  documents: DynamoDBDocumentClient.from(new DynamoDBClient({ requestHandler }), {
    marshallOptions: { removeUndefinedValues: true },
  }),
  management: new ApiGatewayManagementApiClient({
    endpoint: 'https://abcdef1234.execute-api.us-east-1.amazonaws.com/dev',
    requestHandler,
  }),
  lambda: new LambdaClient({ requestHandler }),
};

export const handler = async (): Promise<void> => undefined;
