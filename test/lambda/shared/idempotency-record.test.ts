import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  idempotencyPut,
  readStoredAnswer,
  toStoredAnswer,
  type IdempotentWrite,
} from '../../../lambda/shared/idempotency-record';

const TABLE = 'comments-test';
const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const NOW_SECONDS = 1_798_000_000;
const write: IdempotentWrite = {
  userId: 'bob',
  key: 'key-0001',
  requestHash: 'hash-1',
  result: '{"id":"C1"}',
  expiresAt: NOW_SECONDS + 86_400,
};
const recordKey = { pk: 'idem#bob#key-0001', sk: 'write' };

beforeEach(() => {
  ddb.reset();
});

afterEach(() => {
  jest.restoreAllMocks();
});

describe('idempotencyPut', () => {
  it('stores the answer under the user’s key, unless a live record holds it, returning that record if so', () => {
    // Prepare
    jest.spyOn(Date, 'now').mockReturnValue(NOW_SECONDS * 1000 + 999);

    // Act
    const item = idempotencyPut(TABLE, write);

    // Assess
    expect(item).toEqual({
      Put: {
        TableName: TABLE,
        Item: { ...recordKey, requestHash: 'hash-1', result: '{"id":"C1"}', expiresAt: write.expiresAt },
        ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now',
        ExpressionAttributeNames: { '#pk': 'pk', '#expiresAt': 'expiresAt' },
        ExpressionAttributeValues: { ':now': NOW_SECONDS },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });
  });

  it('keeps one user’s key apart from another’s', () => {
    // Act
    const alice = idempotencyPut(TABLE, { ...write, userId: 'alice' });
    const bob = idempotencyPut(TABLE, write);

    // Assess
    expect(alice.Put?.Item?.pk).toBe('idem#alice#key-0001');
    expect(bob.Put?.Item?.pk).toBe('idem#bob#key-0001');
  });
});

describe('toStoredAnswer', () => {
  it('keeps the request hash and the result, and nothing of the table’s own attributes', () => {
    // Act
    const answer = toStoredAnswer({ ...recordKey, requestHash: 'h', result: '{}', expiresAt: 1 });

    // Assess
    expect(answer).toEqual({ requestHash: 'h', result: '{}' });
  });
});

describe('readStoredAnswer', () => {
  it('reads the record consistently by its key', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({ Item: { ...recordKey, requestHash: 'h', result: '{}', expiresAt: 1 } });

    // Act
    const answer = await readStoredAnswer(client, TABLE, 'bob', 'key-0001');

    // Assess
    expect(answer).toEqual({ requestHash: 'h', result: '{}' });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: recordKey,
      ConsistentRead: true,
    });
  });

  it('answers undefined when no record holds the key', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});

    // Act
    const answer = await readStoredAnswer(client, TABLE, 'bob', 'key-0001');

    // Assess
    expect(answer).toBeUndefined();
  });
});
