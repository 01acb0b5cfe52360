import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { commentsTableSchema, type TableSchema } from '../../../contracts/table-schema';
import { resetDataDir } from '../../../local/emulators/dynamodb-data';
import {
  ensureTable,
  startDynamoDbLocal,
  StoredTableMismatchError,
  type DynamoDbLocal,
} from '../../../local/emulators/dynamodb-local';
import { FAST_START_JAVA_OPTIONS } from '../../../local/local-stack-options';

/**
 * What `npm start` relies on to keep posts across restarts: DynamoDB Local's data folder keeps the tables and
 * their items, a kept table whose schema has changed since is refused with the way out (`--reset`), and a
 * reset starts empty.
 */
const PORT = 18571;
const TABLE = 'kept-Comments';
const KEY = { pk: { S: 'post#1' }, sk: { S: 'comment#1' } };

let dir: string;
let db: DynamoDbLocal | undefined;

const start = async (): Promise<DynamoDbLocal> => {
  // With the JVM options `npm start` uses: a JVM that refused them would not start.
  db = await startDynamoDbLocal({ port: PORT, path: dir, javaOptions: FAST_START_JAVA_OPTIONS });
  return db;
};
const stop = async (): Promise<void> => {
  await db?.stop();
  db = undefined;
};

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'stored-tables-'));
});

afterEach(stop);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

it('keeps the tables and their items across a restart, with the same stream', async () => {
  // Prepare
  const first = await start();
  const streamArn = await ensureTable(first.client, commentsTableSchema, TABLE);
  await first.client.send(new PutItemCommand({ TableName: TABLE, Item: { ...KEY, content: { S: 'kept' } } }));
  await stop();

  // Act
  const second = await start();
  const keptStreamArn = await ensureTable(second.client, commentsTableSchema, TABLE);
  const { Item: item } = await second.client.send(new GetItemCommand({ TableName: TABLE, Key: KEY }));

  // Assess
  expect(keptStreamArn).toBe(streamArn);
  expect(item?.content).toEqual({ S: 'kept' });
});

it('refuses a kept table whose schema has changed since, telling to start with --reset', async () => {
  // Prepare
  const changed: TableSchema = { ...commentsTableSchema, sortKey: { name: 'seq', type: 'N' } };
  const db = await start();

  // Act
  const ensuring = ensureTable(db.client, changed, TABLE);

  // Assess
  await expect(ensuring).rejects.toThrow(StoredTableMismatchError);
  await expect(ensureTable(db.client, changed, TABLE)).rejects.toThrow(
    /kept-Comments .*its keys are HASH pk, RANGE sk, the schema's HASH pk, RANGE seq.*npm start -- --reset/,
  );
});

it('starts with empty tables after a reset', async () => {
  // Prepare
  const deleted = resetDataDir(dir);
  const db = await start();

  // Act
  await ensureTable(db.client, commentsTableSchema, TABLE);
  const { Item: item } = await db.client.send(new GetItemCommand({ TableName: TABLE, Key: KEY }));

  // Assess
  expect(deleted).toContain('shared-local-instance.db');
  expect(item).toBeUndefined();
});
