import {
  BatchWriteCommand,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type BatchWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoConnectionRepository } from '../../../lambda/shared/connection-repository';

const TABLE = 'connections-test';
const TTL = 8100;
const ddb = mockClient(DynamoDBDocumentClient);
const repository = new DynamoConnectionRepository(
  DynamoDBDocumentClient.from(new DynamoDBClient({})),
  TABLE,
  TTL,
);

async function collect(pages: AsyncIterable<string[]>): Promise<string[][]> {
  const out: string[][] = [];
  for await (const page of pages) out.push(page);
  return out;
}

function deletedKeys(call: number): unknown[] {
  const input = ddb.commandCalls(BatchWriteCommand)[call]?.args[0].input as
    BatchWriteCommandInput | undefined;
  return (input?.RequestItems?.[TABLE] ?? []).map((request) => request.DeleteRequest?.Key);
}

beforeEach(() => {
  ddb.reset();
  jest.useRealTimers();
});

describe('DynamoConnectionRepository', () => {
  it('stores a connection with topic "all" and a TTL counted from connectedAt', async () => {
    // Prepare
    ddb.on(PutCommand).resolves({});

    // Act
    await repository.addConnection({ connectionId: 'c1', connectedAt: 1_700_000_000_999, userId: 'u1' });

    // Assess
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: {
        connectionId: 'c1',
        sk: 'connection',
        topic: 'all',
        connectedAt: 1_700_000_000_999,
        userId: 'u1',
        expiresAt: 1_700_000_000 + TTL,
      },
    });
  });

  it('stores a subscription that expires with its connection', async () => {
    // Prepare
    ddb.on(PutCommand).resolves({});

    // Act
    await repository.addSubscription({ connectionId: 'c1', postId: 'p1', connectedAt: 1_700_000_000_000 });

    // Assess
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: TABLE,
      Item: {
        connectionId: 'c1',
        sk: 'sub#p1',
        topic: 'post#p1',
        postId: 'p1',
        expiresAt: 1_700_000_000 + TTL,
      },
    });
  });

  it('deletes one subscription by its key', async () => {
    // Prepare
    ddb.on(DeleteCommand).resolves({});

    // Act
    await repository.removeSubscription('c1', 'p1');

    // Assess
    expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
      TableName: TABLE,
      Key: { connectionId: 'c1', sk: 'sub#p1' },
    });
  });

  describe('removeConnection', () => {
    it('deletes more than 25 rows in several BatchWrite calls of at most 25', async () => {
      // Prepare: 30 rows over two Query pages
      const sortKeys = ['connection', ...Array.from({ length: 29 }, (_, i) => `sub#p${i}`)];
      ddb
        .on(QueryCommand)
        .resolvesOnce({
          Items: sortKeys.slice(0, 20).map((sk) => ({ sk })),
          LastEvaluatedKey: { connectionId: 'c1', sk: 'x' },
        })
        .resolvesOnce({ Items: sortKeys.slice(20).map((sk) => ({ sk })) });
      ddb.on(BatchWriteCommand).resolves({});

      // Act
      const removed = await repository.removeConnection('c1');

      // Assess
      expect(removed).toBe(30);
      expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
        ExpressionAttributeValues: { ':pk': 'c1' },
        ExclusiveStartKey: { connectionId: 'c1', sk: 'x' },
      });
      expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 2);
      expect(deletedKeys(0)).toHaveLength(25);
      expect(deletedKeys(1)).toHaveLength(5);
      expect([...deletedKeys(0), ...deletedKeys(1)]).toEqual(
        sortKeys.map((sk) => ({ connectionId: 'c1', sk })),
      );
    });

    it('retries the UnprocessedItems of a batch', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [{ sk: 'connection' }, { sk: 'sub#p1' }] });
      ddb
        .on(BatchWriteCommand)
        .resolvesOnce({
          UnprocessedItems: { [TABLE]: [{ DeleteRequest: { Key: { connectionId: 'c1', sk: 'sub#p1' } } }] },
        })
        .resolvesOnce({ UnprocessedItems: {} });

      // Act
      const removed = await repository.removeConnection('c1');

      // Assess
      expect(removed).toBe(2);
      expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 2);
      expect(deletedKeys(1)).toEqual([{ connectionId: 'c1', sk: 'sub#p1' }]);
    });

    it('gives up with an error when items stay unprocessed', async () => {
      // Prepare
      jest.useFakeTimers();
      ddb.on(QueryCommand).resolves({ Items: [{ sk: 'connection' }] });
      ddb.on(BatchWriteCommand).resolves({
        UnprocessedItems: { [TABLE]: [{ DeleteRequest: { Key: { connectionId: 'c1', sk: 'connection' } } }] },
      });

      // Act
      const removal = repository.removeConnection('c1');
      const outcome = expect(removal).rejects.toThrow(/unprocessed/);
      await jest.runAllTimersAsync();

      // Assess
      await outcome;
      expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 6);
    });

    it('sends no BatchWrite when the connection has no rows', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [] });

      // Act
      const removed = await repository.removeConnection('c1');

      // Assess
      expect(removed).toBe(0);
      expect(ddb).not.toHaveReceivedCommand(BatchWriteCommand);
    });
  });

  describe('audiences', () => {
    it('pages a post’s subscribers from the byTopic index', async () => {
      // Prepare
      ddb
        .on(QueryCommand)
        .resolvesOnce({ Items: [{ connectionId: 'a' }, { connectionId: 'b' }], LastEvaluatedKey: { k: 1 } })
        .resolvesOnce({ Items: [], LastEvaluatedKey: { k: 2 } })
        .resolvesOnce({ Items: [{ connectionId: 'c' }] });

      // Act
      const pages = await collect(repository.postSubscribers('p1'));

      // Assess: the empty page in the middle is skipped, not yielded
      expect(pages).toEqual([['a', 'b'], ['c']]);
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
        TableName: TABLE,
        IndexName: 'byTopic',
        ExpressionAttributeValues: { ':topic': 'post#p1' },
      });
      expect(ddb).toHaveReceivedNthSpecificCommandWith(3, QueryCommand, { ExclusiveStartKey: { k: 2 } });
    });

    it('lists every connection through topic "all"', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [{ connectionId: 'a' }] });

      // Act
      const pages = await collect(repository.allConnections());

      // Assess
      expect(pages).toEqual([['a']]);
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
        IndexName: 'byTopic',
        ExpressionAttributeValues: { ':topic': 'all' },
      });
    });

    it('counts connections by paging COUNT queries and summing them', async () => {
      // Prepare
      ddb
        .on(QueryCommand)
        .resolvesOnce({ Count: 1000, LastEvaluatedKey: { k: 1 } })
        .resolvesOnce({ Count: 234 });

      // Act
      const count = await repository.countConnections();

      // Assess
      expect(count).toBe(1234);
      expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(1, QueryCommand, {
        IndexName: 'byTopic',
        Select: 'COUNT',
        ExpressionAttributeValues: { ':topic': 'all' },
      });
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, { ExclusiveStartKey: { k: 1 } });
    });
  });

  describe('subscriptions of one connection', () => {
    it('counts them with COUNT queries on the connection’s own partition, never the index', async () => {
      // Prepare
      ddb
        .on(QueryCommand)
        .resolvesOnce({ Count: 15, LastEvaluatedKey: { connectionId: 'c1', sk: 'sub#p15' } })
        .resolvesOnce({ Count: 3 });

      // Act
      const count = await repository.countSubscriptions('c1');

      // Assess
      expect(count).toBe(18);
      expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(1, QueryCommand, {
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': 'connectionId', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': 'c1', ':prefix': 'sub#' },
        Select: 'COUNT',
      });
      expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.IndexName).toBeUndefined();
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
        ExclusiveStartKey: { connectionId: 'c1', sk: 'sub#p15' },
      });
    });

    it('counts zero for a connection without subscriptions', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Count: 0 });

      // Act
      const count = await repository.countSubscriptions('c1');

      // Assess
      expect(count).toBe(0);
    });

    it.each([
      [true, { Item: { sk: 'sub#p1' } }],
      [false, {}],
    ])('answers %p for isSubscribed with one keyed read', async (expected, answer) => {
      // Prepare
      ddb.on(GetCommand).resolves(answer);

      // Act
      const subscribed = await repository.isSubscribed('c1', 'p1');

      // Assess
      expect(subscribed).toBe(expected);
      expect(ddb).toHaveReceivedCommandWith(GetCommand, {
        TableName: TABLE,
        Key: { connectionId: 'c1', sk: 'sub#p1' },
      });
    });
  });
});
