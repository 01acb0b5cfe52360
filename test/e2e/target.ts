import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { sleep } from '../../contracts/backoff';
import { connectionKeys, connectionsTableSchema } from '../../contracts/table-schema';
import { readOutputsFile } from '../../local/launch/outputs-file';

/**
 * Where the e2e suite points: the local stack the global setup started, or a deployed stage whose
 * `cdk deploy --outputs-file` JSON is named by E2E_OUTPUTS_FILE. Both files have the same shape
 * (stack name → output key → value), so the tests read URLs and table names the same way.
 */
export interface E2eTarget {
  webSocketUrl: string;
  commentsApiUrl: string;
  broadcastUrl: string;
  connectionsTableName: string;
  commentsTableName: string;
  /** Where postToConnection is sent (https://{apiId}.execute-api.{region}.amazonaws.com/{stage}). */
  managementEndpoint?: string;
  /** Only on the local stack. */
  faultsUrl?: string;
  tokenUrl?: string;
  dynamoDbEndpoint?: string;
}

export function loadTarget(): E2eTarget {
  const file = process.env.E2E_OUTPUTS_FILE ?? process.env.E2E_LOCAL_OUTPUTS_FILE;
  if (!file) throw new Error('No outputs file: run through the e2e project, or set E2E_OUTPUTS_FILE');
  return loadTargetFile(file);
}

/** Reads a `cdk deploy --outputs-file`-shaped JSON file (the local stack writes the same shape). */
export function loadTargetFile(file: string): E2eTarget {
  const outputs = readOutputsFile(file);
  const url = (value: string): string => value.replace(/\/$/, '');
  const target: E2eTarget = {
    webSocketUrl: url(outputs.required('WebSocketUrl')),
    commentsApiUrl: url(outputs.required('CommentsApiUrl')),
    broadcastUrl: url(outputs.required('BroadcastUrl')),
    connectionsTableName: outputs.required('ConnectionsTableName'),
    commentsTableName: outputs.required('CommentsTableName'),
  };
  const managementEndpoint = outputs.optional('WebSocketManagementEndpoint');
  const faultsUrl = outputs.optional('FaultsUrl');
  const tokenUrl = outputs.optional('TokenUrl');
  const dynamoDbEndpoint = outputs.optional('DynamoDbEndpoint');
  if (managementEndpoint) target.managementEndpoint = url(managementEndpoint);
  if (faultsUrl) target.faultsUrl = faultsUrl;
  if (tokenUrl) target.tokenUrl = tokenUrl;
  if (dynamoDbEndpoint) target.dynamoDbEndpoint = dynamoDbEndpoint;
  return target;
}

/**
 * A token for a named test user: from the local stack's dev-only token route, or, against a deployed
 * stage, from E2E_TOKENS (a JSON object of user name → JWT issued by that stage's identity provider).
 */
export async function tokenFor(target: E2eTarget, user: string): Promise<string> {
  if (target.tokenUrl) {
    const response = await fetch(target.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: user }),
    });
    if (!response.ok) throw new Error(`token route answered ${response.status}`);
    return ((await response.json()) as { token: string }).token;
  }
  const tokens = JSON.parse(process.env.E2E_TOKENS ?? '{}') as Record<string, string>;
  const token = tokens[user];
  if (!token) throw new Error(`E2E_TOKENS has no token for "${user}"`);
  return token;
}

/** A document client for the target's tables: DynamoDB Local, or the deployed account's (your credentials). */
export function documentClient(target: E2eTarget): DynamoDBDocumentClient {
  const client = new DynamoDBClient(
    target.dynamoDbEndpoint
      ? {
          endpoint: target.dynamoDbEndpoint,
          region: 'us-east-1',
          credentials: { accessKeyId: 'e2e', secretAccessKey: 'e2e' },
        }
      : {},
  );
  return DynamoDBDocumentClient.from(client);
}

/**
 * Every row in one connection's own partition (`conn#<id>`): the connection and its subscriptions. Its
 * subscriber and live-connection index rows live in other partitions.
 */
export async function connectionRows(
  client: DynamoDBDocumentClient,
  target: E2eTarget,
  connectionId: string,
): Promise<Record<string, unknown>[]> {
  const result = await client.send(
    new QueryCommand({
      TableName: target.connectionsTableName,
      KeyConditionExpression: '#pk = :id',
      ExpressionAttributeNames: { '#pk': connectionsTableSchema.partitionKey.name },
      ExpressionAttributeValues: { ':id': connectionKeys.connectionPartition(connectionId) },
      ConsistentRead: true,
    }),
  );
  return result.Items ?? [];
}

/**
 * Connection ids subscribed to a post, read as the fan-out reads them: a strongly consistent Query of the
 * base-table partition `subscribers#<postId>`, whose sort keys are the connection ids.
 */
export async function subscriberIds(
  client: DynamoDBDocumentClient,
  target: E2eTarget,
  postId: string,
): Promise<string[]> {
  const result = await client.send(
    new QueryCommand({
      TableName: target.connectionsTableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': connectionsTableSchema.partitionKey.name },
      ExpressionAttributeValues: { ':pk': connectionKeys.subscribersPartition(postId) },
      ConsistentRead: true,
    }),
  );
  return (result.Items ?? []).map((item) => String(item[connectionsTableSchema.sortKey.name]));
}

/** Polls until the check passes or the deadline is reached; for effects that land after a response. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(100);
  }
}
