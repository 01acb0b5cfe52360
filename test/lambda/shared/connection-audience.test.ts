import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchWriteCommand,
  DynamoDBDocumentClient,
  QueryCommand,
  type BatchWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import {
  connectionRowKeys,
  DynamoConnectionAudience,
  rowKey,
} from '../../../lambda/shared/connection-audience';

const TABLE = 'connections-test';
const ddb = mockClient(DynamoDBDocumentClient);
const audience = new DynamoConnectionAudience(DynamoDBDocumentClient.from(new DynamoDBClient({})), TABLE);

/** "foobar" hashes (FNV-1a) to 0xbf9cf968: shard 8 of 16, worked out by hand, not by the code under test. */
const CONNECTION = 'foobar';
const OWN = 'conn#foobar';
const INDEX_ROW = { pk: 'connections#8', sk: 'foobar' };

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

describe('connectionRowKeys', () => {
  it('lists the connection row, its subscriptions, its subscriber rows and its index row', () => {
    // Act
    const keys = connectionRowKeys(CONNECTION, ['sub#p1', 'sub#p2']);

    // Assess
    expect(keys).toEqual([
      { pk: OWN, sk: 'connection' },
      { pk: OWN, sk: 'sub#p1' },
      { pk: OWN, sk: 'sub#p2' },
      { pk: 'subscribers#p1', sk: CONNECTION },
      { pk: 'subscribers#p2', sk: CONNECTION },
      INDEX_ROW,
    ]);
    expect(rowKey('a', 'b')).toEqual({ pk: 'a', sk: 'b' });
  });
});

describe('DynamoConnectionAudience', () => {
  describe('removeConnection', () => {
    it('reads the connection’s subscriptions consistently, then deletes all four kinds of rows', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [{ sk: 'sub#p1' }, { sk: 'sub#p2' }] });
      ddb.on(BatchWriteCommand).resolves({});

      // Act
      const removed = await audience.removeConnection(CONNECTION);

      // Assess
      expect(removed).toBe(3);
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': OWN, ':prefix': 'sub#' },
        ProjectionExpression: '#sk',
        ConsistentRead: true,
      });
      expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 1);
      expect(deletedKeys(0)).toEqual([
        { pk: OWN, sk: 'connection' },
        { pk: OWN, sk: 'sub#p1' },
        { pk: OWN, sk: 'sub#p2' },
        { pk: 'subscribers#p1', sk: CONNECTION },
        { pk: 'subscribers#p2', sk: CONNECTION },
        INDEX_ROW,
      ]);
    });

    it('deletes the connection row and its index row even when it subscribes to nothing', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [] });
      ddb.on(BatchWriteCommand).resolves({});

      // Act
      const removed = await audience.removeConnection(CONNECTION);

      // Assess
      expect(removed).toBe(1);
      expect(deletedKeys(0)).toEqual([{ pk: OWN, sk: 'connection' }, INDEX_ROW]);
    });

    it('follows every page of subscriptions and deletes in BatchWrite calls of at most 25', async () => {
      // Prepare: 15 subscriptions over two pages: 1 + 15 + 15 + 1 = 32 rows
      const subscriptions = Array.from({ length: 15 }, (_, i) => `sub#p${i}`);
      ddb
        .on(QueryCommand)
        .resolvesOnce({
          Items: subscriptions.slice(0, 10).map((sk) => ({ sk })),
          LastEvaluatedKey: { pk: OWN, sk: 'sub#p9' },
        })
        .resolvesOnce({ Items: subscriptions.slice(10).map((sk) => ({ sk })) });
      ddb.on(BatchWriteCommand).resolves({});

      // Act
      const removed = await audience.removeConnection(CONNECTION);

      // Assess
      expect(removed).toBe(16);
      expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
        ExpressionAttributeValues: { ':pk': OWN, ':prefix': 'sub#' },
        ExclusiveStartKey: { pk: OWN, sk: 'sub#p9' },
      });
      expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 2);
      expect(deletedKeys(0)).toHaveLength(25);
      expect(deletedKeys(1)).toHaveLength(7);
      expect([...deletedKeys(0), ...deletedKeys(1)]).toEqual([
        { pk: OWN, sk: 'connection' },
        ...subscriptions.map((sk) => ({ pk: OWN, sk })),
        ...subscriptions.map((sk) => ({ pk: `subscribers#${sk.slice(4)}`, sk: CONNECTION })),
        INDEX_ROW,
      ]);
    });

    it('resends only the UnprocessedItems of a batch', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [{ sk: 'sub#p1' }] });
      ddb
        .on(BatchWriteCommand)
        .resolvesOnce({
          UnprocessedItems: {
            [TABLE]: [
              { DeleteRequest: { Key: { pk: 'subscribers#p1', sk: CONNECTION } } },
              { DeleteRequest: { Key: INDEX_ROW } },
            ],
          },
        })
        .resolvesOnce({ UnprocessedItems: {} });

      // Act
      const removed = await audience.removeConnection(CONNECTION);

      // Assess
      expect(removed).toBe(2);
      expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 2);
      expect(deletedKeys(1)).toEqual([{ pk: 'subscribers#p1', sk: CONNECTION }, INDEX_ROW]);
    });

    it('gives up with an error after five resends of deletes that stay unprocessed, backing off between', async () => {
      // Prepare
      jest.useFakeTimers();
      ddb.on(QueryCommand).resolves({ Items: [] });
      ddb.on(BatchWriteCommand).resolves({
        UnprocessedItems: { [TABLE]: [{ DeleteRequest: { Key: INDEX_ROW } }] },
      });

      // Act
      const removal = audience.removeConnection(CONNECTION);
      const outcome = expect(removal).rejects.toThrow(/1 deletes unprocessed/);
      await jest.advanceTimersByTimeAsync(50 + 100 + 200 + 400 - 1);
      const sentBeforeLastWait = ddb.commandCalls(BatchWriteCommand).length;
      await jest.runAllTimersAsync();

      // Assess
      await outcome;
      expect(sentBeforeLastWait).toBe(4);
      expect(ddb).toHaveReceivedCommandTimes(BatchWriteCommand, 6);
    });

    it('lets a failed read of the subscriptions through, deleting nothing', async () => {
      // Prepare
      ddb.on(QueryCommand).rejects(new Error('read failed'));

      // Act
      const removal = audience.removeConnection(CONNECTION);

      // Assess
      await expect(removal).rejects.toThrow('read failed');
      expect(ddb).not.toHaveReceivedCommand(BatchWriteCommand);
    });
  });

  describe('postSubscribers', () => {
    it('pages the post’s subscriber rows with a consistent Query on the base table', async () => {
      // Prepare
      ddb
        .on(QueryCommand)
        .resolvesOnce({
          Items: [{ sk: 'a' }, { sk: 'b' }],
          LastEvaluatedKey: { pk: 'subscribers#p1', sk: 'b' },
        })
        .resolvesOnce({ Items: [], LastEvaluatedKey: { pk: 'subscribers#p1', sk: 'b2' } })
        .resolvesOnce({ Items: [{ sk: 'c' }] });

      // Act
      const pages = await collect(audience.postSubscribers('p1'));

      // Assess: the empty page in the middle is skipped, not yielded
      expect(pages).toEqual([['a', 'b'], ['c']]);
      expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(1, QueryCommand, {
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': 'pk', '#sk': 'sk' },
        ExpressionAttributeValues: { ':pk': 'subscribers#p1' },
        ProjectionExpression: '#sk',
        ConsistentRead: true,
      });
      expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.IndexName).toBeUndefined();
      expect(ddb).toHaveReceivedNthSpecificCommandWith(3, QueryCommand, {
        ExclusiveStartKey: { pk: 'subscribers#p1', sk: 'b2' },
      });
    });

    it('yields nothing for a post without subscribers', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [] });

      // Act
      const pages = await collect(audience.postSubscribers('p1'));

      // Assess
      expect(pages).toEqual([]);
    });
  });

  describe('allConnections', () => {
    it('reads the 16 shards of the live-connection index in turn, consistently', async () => {
      // Prepare: connections in shards 0, 8 (two pages) and 15; the others are empty
      ddb.on(QueryCommand).resolves({ Items: [] });
      ddb
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'connections#0' } })
        .resolves({ Items: [{ sk: 'a' }] });
      ddb
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'connections#8' } })
        .resolvesOnce({ Items: [{ sk: 'b' }], LastEvaluatedKey: { pk: 'connections#8', sk: 'b' } })
        .resolvesOnce({ Items: [{ sk: 'c' }] });
      ddb
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'connections#15' } })
        .resolves({ Items: [{ sk: 'd' }] });

      // Act
      const pages = await collect(audience.allConnections());

      // Assess
      expect(pages).toEqual([['a'], ['b'], ['c'], ['d']]);
      const partitions = ddb
        .commandCalls(QueryCommand)
        .map((call) => call.args[0].input.ExpressionAttributeValues?.[':pk'] as string);
      expect(partitions).toEqual([
        ...Array.from({ length: 9 }, (_, shard) => `connections#${shard}`),
        'connections#8',
        ...Array.from({ length: 7 }, (_, i) => `connections#${i + 9}`),
      ]);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(10, QueryCommand, {
        ExclusiveStartKey: { pk: 'connections#8', sk: 'b' },
      });
      for (const call of ddb.commandCalls(QueryCommand)) {
        expect(call.args[0].input).toMatchObject({
          TableName: TABLE,
          ConsistentRead: true,
          ProjectionExpression: '#sk',
        });
      }
    });
  });

  describe('countConnections', () => {
    it('sums a COUNT query over every shard, following each shard’s pages', async () => {
      // Prepare: 10 in every shard, and shard 3 over two pages (1000 + 234)
      ddb.on(QueryCommand).resolves({ Count: 10 });
      ddb
        .on(QueryCommand, { ExpressionAttributeValues: { ':pk': 'connections#3' } })
        .resolvesOnce({ Count: 1000, LastEvaluatedKey: { pk: 'connections#3', sk: 'x' } })
        .resolvesOnce({ Count: 234 });

      // Act
      const count = await audience.countConnections();

      // Assess
      expect(count).toBe(15 * 10 + 1234);
      expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 17);
      for (let shard = 0; shard < 16; shard += 1) {
        expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
          TableName: TABLE,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': 'pk' },
          ExpressionAttributeValues: { ':pk': `connections#${shard}` },
          Select: 'COUNT',
        });
      }
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
        ExpressionAttributeValues: { ':pk': 'connections#3' },
        ExclusiveStartKey: { pk: 'connections#3', sk: 'x' },
      });
    });

    it('sends the shards’ queries together rather than one after another', async () => {
      // Prepare: no answer until every shard has been asked
      const answers: (() => void)[] = [];
      ddb.on(QueryCommand).callsFake(
        () =>
          new Promise((resolve) => {
            answers.push(() => resolve({ Count: 1 }));
          }),
      );

      // Act
      const counting = audience.countConnections();
      await new Promise((resolve) => setImmediate(resolve));
      const inFlight = answers.length;
      for (const answer of answers) answer();

      // Assess
      expect(inFlight).toBe(16);
      await expect(counting).resolves.toBe(16);
    });

    it('counts zero when no connection is live', async () => {
      // Prepare: an empty partition's COUNT query may leave Count out
      ddb.on(QueryCommand).resolves({});

      // Act
      const count = await audience.countConnections();

      // Assess
      expect(count).toBe(0);
    });
  });
});
