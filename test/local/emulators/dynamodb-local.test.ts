import type { CreateTableCommandInput, TableDescription } from '@aws-sdk/client-dynamodb';
import { createTableInput, tableDifferences } from '../../../local/emulators/dynamodb-local';
import {
  commentsTableSchema,
  connectionsTableSchema,
  type TableSchema,
} from '../../../contracts/table-schema';

describe('createTableInput', () => {
  it('builds the connections table from its schema: generic keys, each attribute once, no stream', () => {
    // Act
    const input = createTableInput(connectionsTableSchema, 'dev-Connections');

    // Assess
    expect(input).toEqual({
      TableName: 'dev-Connections',
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
    });
  });

  it('gives the comments table the stream its schema asks for', () => {
    // Act
    const input = createTableInput(commentsTableSchema, 'dev-Comments');

    // Assess
    expect(input.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
  });

  it('builds the global secondary indexes a schema declares, each key attribute defined once', () => {
    // Prepare
    const schema = {
      id: 'Indexed',
      partitionKey: { name: 'pk', type: 'S' },
      sortKey: { name: 'sk', type: 'S' },
      globalSecondaryIndexes: [
        {
          indexName: 'byTopic',
          partitionKey: { name: 'topic', type: 'S' },
          sortKey: { name: 'pk', type: 'S' },
          projection: 'KEYS_ONLY',
        },
      ],
    } as const;

    // Act
    const input = createTableInput(schema, 'indexed');

    // Assess
    expect(input.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'topic', AttributeType: 'S' },
    ]);
    expect(input.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: 'byTopic',
        KeySchema: [
          { AttributeName: 'topic', KeyType: 'HASH' },
          { AttributeName: 'pk', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    expect(input).not.toHaveProperty('StreamSpecification');
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

describe('tableDifferences', () => {
  const stored = (input: CreateTableCommandInput): TableDescription => ({
    TableName: input.TableName,
    KeySchema: input.KeySchema,
    AttributeDefinitions: input.AttributeDefinitions,
    GlobalSecondaryIndexes: input.GlobalSecondaryIndexes,
    StreamSpecification: input.StreamSpecification,
  });

  it('finds none between a table and the schema it was created from', () => {
    // Prepare
    const input = createTableInput(commentsTableSchema, 'dev-Comments');

    // Act / Assess
    expect(tableDifferences(input, stored(input))).toEqual([]);
  });

  it('names a changed key, a changed stream and an index gained or dropped', () => {
    // Prepare
    const before = createTableInput(commentsTableSchema, 'dev-Comments');
    const schema: TableSchema = {
      ...commentsTableSchema,
      sortKey: { name: 'seq', type: 'N' },
      globalSecondaryIndexes: [
        {
          indexName: 'byAuthor',
          partitionKey: { name: 'userId', type: 'S' },
          projection: 'KEYS_ONLY',
        },
      ],
    };

    // The schema's type allows one view today; the table's input takes any.
    const expected: CreateTableCommandInput = {
      ...createTableInput(schema, 'dev-Comments'),
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
    };

    // Act
    const differences = tableDifferences(expected, stored(before));

    // Assess
    expect(differences).toEqual([
      "its keys are HASH pk, RANGE sk, the schema's HASH pk, RANGE seq",
      'it has no index byAuthor',
      'it streams NEW_IMAGE, the schema says NEW_AND_OLD_IMAGES',
    ]);
  });

  it('leaves a stream the stored table lacks to ensureTable, which adds it', () => {
    // Prepare
    const input = createTableInput(commentsTableSchema, 'dev-Comments');
    const { StreamSpecification: _stream, ...withoutStream } = input;

    // Act / Assess
    expect(tableDifferences(input, stored(withoutStream))).toEqual([]);
  });
});
