import { createTableInput } from '../../../local/emulators/dynamodb-local';
import { commentsTableSchema, connectionsTableSchema } from '../../../contracts/table-schema';

describe('createTableInput', () => {
  it('builds the connections table from its schema: keys, each attribute once, the byTopic index', () => {
    // Act
    const input = createTableInput(connectionsTableSchema, 'dev-Connections');

    // Assess
    expect(input).toEqual({
      TableName: 'dev-Connections',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'connectionId', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'connectionId', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: 'topic', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byTopic',
          KeySchema: [
            { AttributeName: 'topic', KeyType: 'HASH' },
            { AttributeName: 'connectionId', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    });
  });

  it('leaves GlobalSecondaryIndexes out for a table without indexes (CreateTable refuses an empty list)', () => {
    // Act
    const input = createTableInput(commentsTableSchema, 'dev-Comments');

    // Assess
    expect(input).not.toHaveProperty('GlobalSecondaryIndexes');
    expect(input.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(input.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
    ]);
  });

  it('defines a partition-key-only table with a single attribute', () => {
    // Prepare
    const schema = {
      id: 'Counters',
      partitionKey: { name: 'name', type: 'S' },
      globalSecondaryIndexes: [],
    } as const;

    // Act
    const input = createTableInput(schema, 'counters');

    // Assess
    expect(input.KeySchema).toEqual([{ AttributeName: 'name', KeyType: 'HASH' }]);
    expect(input.AttributeDefinitions).toEqual([{ AttributeName: 'name', AttributeType: 'S' }]);
  });
});
