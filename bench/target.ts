import { BroadcastRoutes } from '../contracts/broadcast-routes';
import { Agent } from 'node:http';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { executeApiSigner, signExecuteApiRequest } from '../signing/execute-api-signer';
import { optionalEnv } from '../contracts/env-reader';
import type { BroadcastEnvelope, Comment, Post } from '../contracts/protocol';
import { LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY } from '../local/auth/credentials';
import { readOutputsFile } from '../local/launch/outputs-file';

/**
 * Every call the benchmark makes to the system under test goes through this module: the comments API,
 * the broadcast API, the WebSocket URL, the Management API and the local stack's admin routes, and so
 * does every credential: a bearer token for the comments API and `?token=` on the WebSocket URL when the
 * stack issues tokens (its outputs name a TokenUrl; before that, the `x-user-id` header), and SigV4 on
 * the broadcast and Management APIs (IAM-authorised).
 */
export interface BenchTarget {
  webSocketUrl: string;
  commentsApiUrl: string;
  broadcastUrl: string;
  managementEndpoint: string;
  connectionsTableName: string;
  dynamoDbEndpoint: string;
  faultsUrl: string;
  /** The local stack's dev-only token route; absent on a stack without token auth. */
  tokenUrl?: string;
}

/**
 * The broadcast API's answer (docs/protocol.md): connections addressed, reached, gone (410), failed.
 * A broadcast API that hands large audiences to fan-out workers answers 202 with what it `queued`, and
 * one that retries says how often (`retried`).
 */
export interface BroadcastAnswer {
  connectionCount: number;
  delivered: number;
  stale: number;
  failed: number;
  retried?: number;
  queued?: number;
}

/** The local stack only: the benchmark needs its fault injection and DynamoDB Local. Loopback only. */
export function loadBenchTarget(outputsFile: string): BenchTarget {
  const outputs = readOutputsFile(outputsFile);
  const managementEndpoint = outputs.optional('WebSocketManagementEndpoint');
  const dynamoDbEndpoint = outputs.optional('DynamoDbEndpoint');
  const faultsUrl = outputs.optional('FaultsUrl');
  if (!managementEndpoint || !dynamoDbEndpoint || !faultsUrl) {
    throw new Error(`${outputsFile} is not a local stack's outputs (no management/DynamoDB/faults URL)`);
  }
  const bench: BenchTarget = {
    webSocketUrl: loopback(outputs.required('WebSocketUrl')),
    commentsApiUrl: loopback(outputs.required('CommentsApiUrl')),
    broadcastUrl: loopback(outputs.required('BroadcastUrl')),
    managementEndpoint: loopback(managementEndpoint),
    connectionsTableName: outputs.required('ConnectionsTableName'),
    dynamoDbEndpoint: loopback(dynamoDbEndpoint),
    faultsUrl: loopback(faultsUrl),
  };
  const tokenUrl = outputs.optional('TokenUrl');
  if (tokenUrl) bench.tokenUrl = loopback(tokenUrl);
  return bench;
}

/**
 * `localhost` may resolve to ::1 first while the local stack listens on 127.0.0.1 only; naming the address
 * saves a failed attempt per connection. Anything but a loopback address is refused.
 */
function loopback(url: string): string {
  const parsed = new URL(url);
  if (parsed.hostname === 'localhost') parsed.hostname = '127.0.0.1';
  if (!/^127\.\d+\.\d+\.\d+$/.test(parsed.hostname) && parsed.hostname !== '[::1]') {
    throw new Error(`The benchmark only targets loopback addresses, not ${parsed.hostname}`);
  }
  return parsed.toString().replace(/\/$/, '');
}

const tokens = new Map<string, Promise<string>>();

/** A token for the user from the local issuer (cached: tokens live an hour, a run takes minutes). */
function tokenFor(target: BenchTarget, userId: string): Promise<string> | undefined {
  const { tokenUrl } = target;
  if (!tokenUrl) return undefined;
  const key = `${tokenUrl} ${userId}`;
  let token = tokens.get(key);
  if (!token) {
    token = request(tokenUrl, { method: 'POST', body: { userId } }).then((response) => {
      expectStatus(200, 'token', response);
      return (response.body as { token: string }).token;
    });
    tokens.set(key, token);
  }
  return token;
}

/** Who the comments API is told is acting. */
async function identityHeaders(target: BenchTarget, userId: string): Promise<Record<string, string>> {
  const token = await tokenFor(target, userId);
  return token ? { authorization: `Bearer ${token}` } : { 'x-user-id': userId };
}

/** The URL a client connects to, with the listener's token when the stack requires one. */
export async function webSocketConnectUrl(target: BenchTarget, userId: string): Promise<string> {
  const token = await tokenFor(target, userId);
  return token ? `${target.webSocketUrl}?token=${encodeURIComponent(token)}` : target.webSocketUrl;
}

/**
 * The credentials the local stack's IAM check accepts: those its own functions run with. A stack without
 * the check accepts any signature. Override with BENCH_ACCESS_KEY_ID / BENCH_SECRET_ACCESS_KEY.
 */
const SIGNING_CREDENTIALS = {
  accessKeyId: optionalEnv('BENCH_ACCESS_KEY_ID', LOCAL_ACCESS_KEY_ID),
  secretAccessKey: optionalEnv('BENCH_SECRET_ACCESS_KEY', LOCAL_SECRET_ACCESS_KEY),
};
const REGION = 'us-east-1';
const signer = executeApiSigner(REGION, SIGNING_CREDENTIALS);

async function request(
  url: string,
  init: {
    method: string;
    headers?: Record<string, string>;
    body?: unknown;
    timeoutMs?: number;
    sign?: boolean;
  },
): Promise<{ status: number; body: unknown }> {
  const body = init.body === undefined ? undefined : JSON.stringify(init.body);
  let headers: Record<string, string> = {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    ...init.headers,
  };
  if (init.sign) {
    headers = await signExecuteApiRequest(signer, url, {
      method: init.method,
      headers,
      ...(body === undefined ? {} : { body }),
    });
  }
  // fetch sets host itself; sending the signed one too would be refused as a forbidden header anyway.
  delete headers.host;
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method,
      headers,
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
    });
  } catch (error) {
    // fetch says only "fetch failed"; the cause (ECONNREFUSED, a timeout …) is what tells what happened.
    const cause = (error as Error & { cause?: Error & { code?: string } }).cause;
    throw new Error(
      `${init.method} ${url}: ${(error as Error).message} (${cause?.code ?? cause?.message ?? '?'})`,
      {
        cause: error,
      },
    );
  }
  const text = await response.text();
  let answer: unknown = text;
  try {
    answer = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    // Not JSON: keep the text for the error message.
  }
  return { status: response.status, body: answer };
}

function expectStatus(status: number, what: string, response: { status: number; body: unknown }): void {
  if (response.status !== status) {
    throw new Error(
      `${what}: expected HTTP ${status}, got ${response.status} ${JSON.stringify(response.body)}`,
    );
  }
}

/** A comments API POST as `userId`, whatever it answers. */
async function postAs(
  target: BenchTarget,
  userId: string,
  route: string,
  body: Record<string, string>,
): Promise<{ status: number; body: unknown }> {
  return request(`${target.commentsApiUrl}${route}`, {
    method: 'POST',
    headers: await identityHeaders(target, userId),
    body,
  });
}

/** A comments API write as `userId`, expected to answer 201 with what it created. */
async function createAs<T>(
  target: BenchTarget,
  userId: string,
  route: string,
  body: Record<string, string>,
  what: string,
): Promise<T> {
  const response = await postAs(target, userId, route, body);
  expectStatus(201, what, response);
  return response.body as T;
}

export function createPost(target: BenchTarget, userId: string, title: string): Promise<Post> {
  return createAs<Post>(target, userId, '/api/v1/posts', { title }, 'create post');
}

export function createComment(
  target: BenchTarget,
  userId: string,
  postId: string,
  content: string,
): Promise<Comment> {
  return createAs<Comment>(target, userId, `/api/v1/posts/${postId}/comments`, { content }, 'create comment');
}

/** A create whose answer is returned whatever its status, for measuring what a post's writers are told. */
export async function tryCreateComment(
  target: BenchTarget,
  userId: string,
  postId: string,
  content: string,
): Promise<number> {
  return (await postAs(target, userId, `/api/v1/posts/${postId}/comments`, { content })).status;
}

/** Every comment of a post, all pages. */
export async function listAllComments(target: BenchTarget, postId: string): Promise<Comment[]> {
  const comments: Comment[] = [];
  let cursor: string | undefined;
  do {
    const query = `?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await request(`${target.commentsApiUrl}/api/v1/posts/${postId}/comments${query}`, {
      method: 'GET',
      headers: {},
    });
    expectStatus(200, 'list comments', response);
    const page = response.body as { comments: Comment[]; nextCursor?: string };
    comments.push(...page.comments);
    cursor = page.nextCursor;
  } while (cursor);
  return comments;
}

/** POST {BroadcastUrl}/broadcast/comments; the answer says how many connections were addressed and reached. */
export async function broadcast(
  target: BenchTarget,
  envelope: BroadcastEnvelope,
  timeoutMs = 60_000,
): Promise<BroadcastAnswer> {
  const response = await request(`${target.broadcastUrl}${BroadcastRoutes.broadcastComments.path}`, {
    method: 'POST',
    body: envelope,
    timeoutMs,
    sign: true,
  });
  if (response.status !== 202) expectStatus(200, 'broadcast', response);
  return response.body as BroadcastAnswer;
}

export async function connectionCount(target: BenchTarget): Promise<number> {
  const response = await request(`${target.broadcastUrl}${BroadcastRoutes.connectionCount.path}`, {
    method: 'GET',
    sign: true,
  });
  expectStatus(200, 'connection count', response);
  return (response.body as { count: number }).count;
}

/** PUT /_local/faults: a partial update of the local gateway's fault settings. */
export async function setFaults(target: BenchTarget, update: Record<string, unknown>): Promise<void> {
  expectStatus(200, 'set faults', await request(target.faultsUrl, { method: 'PUT', body: update }));
}

export async function resetFaults(target: BenchTarget): Promise<void> {
  expectStatus(200, 'reset faults', await request(target.faultsUrl, { method: 'DELETE' }));
}

/**
 * A Management API client as a Lambda function builds one (SigV4-signed, the SDK's default retries).
 * `maxSockets` unset keeps the SDK's default agent, which allows 50 sockets per host.
 */
export function managementClient(
  target: BenchTarget,
  { maxSockets }: { maxSockets?: number } = {},
): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint: target.managementEndpoint,
    region: REGION,
    credentials: SIGNING_CREDENTIALS,
    ...(maxSockets ? { requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets }) } } : {}),
  });
}

/**
 * A document client on the local stack's DynamoDB Local. `destroy` closes its sockets: the document
 * client's own destroy() does nothing, the base client's is what frees them.
 */
export function documentClient(target: BenchTarget): { db: DynamoDBDocumentClient; destroy(): void } {
  const base = new DynamoDBClient({
    endpoint: target.dynamoDbEndpoint,
    region: REGION,
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  return { db: DynamoDBDocumentClient.from(base), destroy: () => base.destroy() };
}
