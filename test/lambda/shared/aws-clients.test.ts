import { createLambdaClient, createManagementClient } from '../../../lambda/shared/aws-clients';

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
