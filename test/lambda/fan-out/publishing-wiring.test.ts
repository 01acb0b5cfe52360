import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { BroadcastService } from '../../../lambda/fan-out/broadcast-service';
import { EventPublisher } from '../../../lambda/fan-out/event-publisher';
import { publishingWiringFromEnv } from '../../../lambda/fan-out/publishing-wiring';

const ddb = mockClient(DynamoDBDocumentClient);
const lambda = mockClient(LambdaClient);

/** What the stack sets on the broadcast function and the event publisher. */
const ENV = {
  COMMENTS_TABLE_NAME: 'comments-test',
  CONNECTIONS_TABLE_NAME: 'connections-test',
  WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://ws.execute-api.us-east-1.amazonaws.com/dev',
  FAN_OUT_WORKER_FUNCTION_NAME: 'worker-fn',
  FAN_OUT_CONCURRENCY: '4',
  FAN_OUT_BATCH_SIZE: '10',
  FAN_OUT_MAX_ATTEMPTS: '3',
  FAN_OUT_RETRY_BASE_MS: '1',
  FAN_OUT_RETRY_MAX_MS: '2',
  PUBLISH_CLAIM_TTL_MS: '30000',
};

const storedEvent = {
  pk: 'post#p1',
  sk: 'event#000000000001',
  eventId: 'e1',
  seq: 1,
  type: 'comment.updated',
  data: { postId: 'p1', commentId: 'c1', action: 'deleted' },
  createdAt: '2027-01-01T00:00:00.000Z',
  expiresAt: 1_900_000_000,
};

beforeEach(() => {
  ddb.reset();
  lambda.reset();
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

describe('publishingWiringFromEnv', () => {
  it('builds the fan-out and the publisher over it', () => {
    // Act
    const wiring = publishingWiringFromEnv(ENV);

    // Assess
    expect(wiring.broadcaster).toBeInstanceOf(BroadcastService);
    expect(wiring.publisher).toBeInstanceOf(EventPublisher);
  });

  it('reads the stored event and claims it in COMMENTS_TABLE_NAME, for PUBLISH_CLAIM_TTL_MS', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({ Item: storedEvent });
    ddb.on(UpdateCommand).resolves({});
    ddb.on(QueryCommand).resolves({ Items: [] });
    const before = Date.now();

    // Act
    const result = await publishingWiringFromEnv(ENV).publisher.publishNow({
      type: 'comment.updated',
      data: { postId: 'p1' },
      eventId: 'e1',
      seq: 1,
    });

    // Assess
    expect(result.published).toBe(true);
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: 'comments-test',
      Key: { pk: 'post#p1', sk: 'event#000000000001' },
      ConsistentRead: true,
    });
    const claim = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(claim).toMatchObject({ TableName: 'comments-test', Key: { pk: 'post#p1', sk: 'publish' } });
    const expires = Number(claim?.ExpressionAttributeValues?.[':expires']);
    expect(expires - Number(claim?.ExpressionAttributeValues?.[':now'])).toBe(30_000);
    expect(expires).toBeGreaterThanOrEqual(before + 30_000);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: 'connections-test',
      ExpressionAttributeValues: { ':pk': 'subscribers#p1' },
    });
  });

  it.each(['COMMENTS_TABLE_NAME', 'PUBLISH_CLAIM_TTL_MS', 'FAN_OUT_BATCH_SIZE', 'CONNECTIONS_TABLE_NAME'])(
    'fails naming %s when it is missing',
    (name) => {
      // Prepare
      const env: Record<string, string> = { ...ENV };
      delete env[name];

      // Act / Assess
      expect(() => publishingWiringFromEnv(env)).toThrow(name);
    },
  );
});
