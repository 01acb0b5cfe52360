import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  createDocumentClient,
  createLambdaClient,
  createManagementClient,
} from '../../../lambda/shared/aws-clients';
import { tracer } from '../../../lambda/shared/telemetry';

afterEach(() => {
  jest.restoreAllMocks();
});

describe('tracing', () => {
  it('hands every client to the tracer, the document client through its base client', () => {
    // Prepare
    const capture = jest.spyOn(tracer, 'captureAWSv3Client');

    // Act
    const documentClient = createDocumentClient({});
    const management = createManagementClient('https://ws.example.com/dev');
    const lambda = createLambdaClient({});

    // Assess
    const captured = capture.mock.calls.map(([client]) => client);
    expect(captured).toHaveLength(3);
    expect(captured[0]).toBeInstanceOf(DynamoDBClient);
    expect(documentClient.middlewareStack).toBe((captured[0] as DynamoDBClient).middlewareStack);
    expect(captured[1]).toBe(management);
    expect(captured[1]).toBeInstanceOf(ApiGatewayManagementApiClient);
    expect(captured[2]).toBe(lambda);
    expect(captured[2]).toBeInstanceOf(LambdaClient);
  });

  it('returns the clients untouched while tracing is off (tests, the local stack)', () => {
    // Act
    const lambda = createLambdaClient({});

    // Assess
    expect(tracer.isTracingEnabled()).toBe(false);
    expect(lambda.middlewareStack.identify().join(',')).not.toMatch(/xray/i);
  });
});

describe('createManagementClient', () => {
  it('turns the SDK retries off when asked, so the fan-out counts every retry itself', async () => {
    // Act
    const fanOutClient = createManagementClient('https://ws.example.com/dev', { maxAttempts: 1 });
    const standard = createManagementClient('https://ws.example.com/dev');

    // Assess
    expect(await fanOutClient.config.maxAttempts()).toBe(1);
    expect(await standard.config.maxAttempts()).toBe(3);
  });
});

describe('createLambdaClient', () => {
  it('sends to LAMBDA_ENDPOINT when the local stack sets it', async () => {
    // Act
    const client = createLambdaClient({ LAMBDA_ENDPOINT: 'http://127.0.0.1:3001' });
    const endpoint = await client.config.endpoint?.();

    // Assess
    expect(endpoint).toMatchObject({ protocol: 'http:', hostname: '127.0.0.1', port: 3001 });
  });

  it("uses the region's endpoint otherwise", () => {
    // Act
    const client = createLambdaClient({});

    // Assess
    expect(client.config.endpoint).toBeUndefined();
  });
});
