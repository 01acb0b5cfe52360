import { DynamoDBClient, InternalServerError, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  DynamoConnectionAudience,
  DynamoConnectionRepository,
} from '../../../lambda/shared/connection-repository';

const TABLE = 'connections-test';
const TTL = 8100;
const ddb = mockClient(DynamoDBDocumentClient);
const repository = new DynamoConnectionRepository(
  DynamoDBDocumentClient.from(new DynamoDBClient({})),
  TABLE,
  TTL,
);

/** "foobar" hashes (FNV-1a) to 0xbf9cf968: shard 8 of 16, worked out by hand, not by the code under test. */
const CONNECTION = 'foobar';
const OWN = 'conn#foobar';
const CONNECTED_AT = 1_700_000_000_999;
const EXPIRES_AT = 1_700_000_000 + TTL;
const subscription = { connectionId: CONNECTION, postId: 'p1', connectedAt: CONNECTED_AT };
const MAX = 20;

/** The subscribe and unsubscribe transactions: [connection row, subscription row, subscriber row]. */
const cancelled = (...codes: string[]): TransactionCanceledException =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

beforeEach(() => {
  ddb.reset();
});

describe('DynamoConnectionRepository', () => {
  it('is also the audience: the broadcast side reads and deletes the same rows', () => {
    // Act / Assess
    expect(repository).toBeInstanceOf(DynamoConnectionAudience);
  });

  describe('addConnection', () => {
    it('writes the connection row and its index row in one transaction, both expiring with the connection', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await repository.addConnection({ connectionId: CONNECTION, connectedAt: CONNECTED_AT, userId: 'u1' });

      // Assess
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          {
            Put: {
              TableName: TABLE,
              Item: {
                pk: OWN,
                sk: 'connection',
                connectionId: CONNECTION,
                connectedAt: CONNECTED_AT,
                userId: 'u1',
                subscriptionCount: 0,
                expiresAt: EXPIRES_AT,
              },
            },
          },
          { Put: { TableName: TABLE, Item: { pk: 'connections#8', sk: CONNECTION, expiresAt: EXPIRES_AT } } },
        ],
      });
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
    });

    it('lets a failed write through', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(new InternalServerError({ message: 'boom', $metadata: {} }));

      // Act
      const adding = repository.addConnection({ connectionId: CONNECTION, connectedAt: CONNECTED_AT });

      // Assess
      await expect(adding).rejects.toThrow('boom');
    });
  });

  describe('addSubscription', () => {
    it('counts the subscription on the connection row, below the limit, with both rows in one transaction', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.addSubscription(subscription, MAX);

      // Assess
      expect(outcome).toBe('added');
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          {
            Update: {
              TableName: TABLE,
              Key: { pk: OWN, sk: 'connection' },
              UpdateExpression: 'SET #count = #count + :one',
              ConditionExpression: 'attribute_exists(#pk) AND #count < :max',
              ExpressionAttributeNames: { '#pk': 'pk', '#count': 'subscriptionCount' },
              ExpressionAttributeValues: { ':one': 1, ':max': MAX },
            },
          },
          {
            Put: {
              TableName: TABLE,
              Item: { pk: OWN, sk: 'sub#p1', postId: 'p1', expiresAt: EXPIRES_AT },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
            },
          },
          {
            Put: { TableName: TABLE, Item: { pk: 'subscribers#p1', sk: CONNECTION, expiresAt: EXPIRES_AT } },
          },
        ],
      });
      expect(ddb).not.toHaveReceivedCommand(GetCommand);
    });

    it('passes the caller’s limit into the condition', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await repository.addSubscription(subscription, 3);

      // Assess
      const [count] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
      expect(count?.Update?.ExpressionAttributeValues).toEqual({ ':one': 1, ':max': 3 });
    });

    it('answers alreadySubscribed when the subscription row exists, and rewrites the subscriber row', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(cancelled('None', 'ConditionalCheckFailed', 'None'));
      ddb.on(PutCommand).resolves({});

      // Act
      const outcome = await repository.addSubscription(subscription, MAX);

      // Assess
      expect(outcome).toBe('alreadySubscribed');
      expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE,
        Item: { pk: 'subscribers#p1', sk: CONNECTION, expiresAt: EXPIRES_AT },
      });
      expect(ddb).not.toHaveReceivedCommand(GetCommand);
    });

    it('answers alreadySubscribed, not limitReached, for a post it holds when at the limit', async () => {
      // Prepare: both conditions fail: the count is at the limit and the subscription row exists
      ddb
        .on(TransactWriteCommand)
        .rejects(cancelled('ConditionalCheckFailed', 'ConditionalCheckFailed', 'None'));
      ddb.on(PutCommand).resolves({});

      // Act
      const outcome = await repository.addSubscription(subscription, MAX);

      // Assess
      expect(outcome).toBe('alreadySubscribed');
      expect(ddb).not.toHaveReceivedCommand(GetCommand);
    });

    it('answers limitReached when only the count’s condition fails and the connection exists', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None', 'None'));
      ddb.on(GetCommand).resolves({ Item: { pk: OWN } });

      // Act
      const outcome = await repository.addSubscription(subscription, MAX);

      // Assess
      expect(outcome).toBe('limitReached');
      expect(ddb).toHaveReceivedCommandWith(GetCommand, {
        TableName: TABLE,
        Key: { pk: OWN, sk: 'connection' },
        ConsistentRead: true,
      });
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
    });

    it('answers connectionGone when the count’s condition fails because the connection row is gone', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(cancelled('ConditionalCheckFailed', 'None', 'None'));
      ddb.on(GetCommand).resolves({});

      // Act
      const outcome = await repository.addSubscription(subscription, MAX);

      // Assess
      expect(outcome).toBe('connectionGone');
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
    });

    it.each([
      ['a conflict with another transaction', cancelled('TransactionConflict', 'None', 'None')],
      ['a throttled item', cancelled('None', 'ThrottlingError', 'None')],
      ['an error that is not a cancellation', new InternalServerError({ message: 'boom', $metadata: {} })],
    ])('lets %s through rather than guess an outcome', async (_name, error) => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(error);

      // Act
      const adding = repository.addSubscription(subscription, MAX);

      // Assess
      await expect(adding).rejects.toBe(error);
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
      expect(ddb).not.toHaveReceivedCommand(GetCommand);
    });
  });

  describe('removeSubscription', () => {
    it('counts down and deletes both subscription rows in one transaction', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      await repository.removeSubscription(CONNECTION, 'p1');

      // Assess
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          {
            Update: {
              TableName: TABLE,
              Key: { pk: OWN, sk: 'connection' },
              UpdateExpression: 'SET #count = #count - :one',
              ConditionExpression: 'attribute_exists(#pk) AND #count > :zero',
              ExpressionAttributeNames: { '#pk': 'pk', '#count': 'subscriptionCount' },
              ExpressionAttributeValues: { ':one': 1, ':zero': 0 },
            },
          },
          {
            Delete: {
              TableName: TABLE,
              Key: { pk: OWN, sk: 'sub#p1' },
              ConditionExpression: 'attribute_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
            },
          },
          { Delete: { TableName: TABLE, Key: { pk: 'subscribers#p1', sk: CONNECTION } } },
        ],
      });
      expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
    });

    it.each([
      ['not subscribed', cancelled('None', 'ConditionalCheckFailed', 'None')],
      ['the connection is gone', cancelled('ConditionalCheckFailed', 'ConditionalCheckFailed', 'None')],
    ])('counts nothing down when %s, but still deletes a stray subscriber row', async (_name, error) => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(error);
      ddb.on(DeleteCommand).resolves({});

      // Act
      await repository.removeSubscription(CONNECTION, 'p1');

      // Assess
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
      expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
        TableName: TABLE,
        Key: { pk: 'subscribers#p1', sk: CONNECTION },
      });
    });

    it('lets an error that is not a cancellation through', async () => {
      // Prepare
      const error = new InternalServerError({ message: 'boom', $metadata: {} });
      ddb.on(TransactWriteCommand).rejects(error);

      // Act
      const removing = repository.removeSubscription(CONNECTION, 'p1');

      // Assess
      await expect(removing).rejects.toBe(error);
      expect(ddb).not.toHaveReceivedCommand(DeleteCommand);
    });

    // A conflict (a subscribe to another post on the same connection in flight) or a throttle says nothing
    // about whether the connection subscribes: treating it as "not subscribed" would report success while
    // the subscription row and its count stay, as addSubscription's own handling of them refuses to do.
    it.each([
      ['a conflict with another transaction', cancelled('TransactionConflict', 'None', 'None')],
      ['a throttled item', cancelled('None', 'ThrottlingError', 'None')],
    ])('does not report success after %s left the subscription in place', async (_name, error) => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(error);
      ddb.on(DeleteCommand).resolves({});

      // Act
      const removing = repository.removeSubscription(CONNECTION, 'p1');

      // Assess
      await expect(removing).rejects.toBe(error);
    });
  });

  describe('subscribedPosts', () => {
    it('reads the connection’s subscription rows consistently, page by page, as post ids', async () => {
      // Prepare
      ddb
        .on(QueryCommand)
        .resolvesOnce({
          Items: [{ sk: 'sub#p1' }, { sk: 'sub#p2' }],
          LastEvaluatedKey: { pk: OWN, sk: 'sub#p2' },
        })
        .resolvesOnce({ Items: [{ sk: 'sub#p3' }] });

      // Act
      const posts = await repository.subscribedPosts(CONNECTION);

      // Assess
      expect(posts).toEqual(['p1', 'p2', 'p3']);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(1, QueryCommand, {
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': OWN, ':prefix': 'sub#' },
        ProjectionExpression: '#sk',
        ConsistentRead: true,
      });
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
        ExclusiveStartKey: { pk: OWN, sk: 'sub#p2' },
      });
    });

    it('answers no posts for a connection without subscriptions', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [] });

      // Act
      const posts = await repository.subscribedPosts(CONNECTION);

      // Assess
      expect(posts).toEqual([]);
    });
  });
});
