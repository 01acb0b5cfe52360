import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import { BroadcastRoutes, PREFER_HEADER, RESPOND_ASYNC } from '../../../contracts/broadcast-routes';
import { IDEMPOTENCY_KEY_HEADER } from '../../../contracts/idempotency';
import {
  CLIENT_ACTIONS,
  type ClientMessage,
  type Comment,
  type CommentCreatedEvent,
  type Post,
  type ServerEvent,
} from '../../../contracts/protocol';
import { WEBSOCKET_PROTOCOL } from '../../../contracts/websocket-auth';
import { signExecuteApiRequest } from '../../../signing/execute-api-signer';
import {
  AsyncApiMessages,
  OPENAPI_FILE,
  OpenApiAnswers,
  loadOpenApi,
  operationsOf,
  type HttpAnswer,
} from '../../docs/api-documents';
import { broadcastSigner } from '../signed-broadcast';
import { loadTarget, tokenFor } from '../target';
import { TestClient } from '../ws-client';

/**
 * The stack's real answers and events against docs/openapi.yaml and docs/asyncapi.yaml: every route of
 * both HTTP APIs is called (successes and the documented refusals), and every event type is made to
 * happen on a real WebSocket; each answer is checked against its operation's schema for its status, each
 * frame against its message's payload schema (ajv, on the schemas the documents' own parsers resolved).
 * The last test checks that nothing was left out. Local-only: its users sign in through the local stack's
 * token route, the broadcast API is signed with the local stack's credentials, and the OpenAPI document is
 * served by the local stack.
 */
const target = loadTarget();
let answers: OpenApiAnswers;
let messages: AsyncApiMessages;
/** Operation id → the statuses seen. */
const exercised = new Map<string, Set<number>>();
const eventTypesSeen = new Set<string>();
const clients: TestClient[] = [];

beforeAll(async () => {
  [answers, messages] = await Promise.all([OpenApiAnswers.load(), AsyncApiMessages.load()]);
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

interface Call {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** Sends a request and checks its answer against the operation; returns the answer. */
async function call(
  operationId: string,
  method: string,
  url: string,
  request: Call = {},
): Promise<HttpAnswer> {
  const body = request.body === undefined ? undefined : JSON.stringify(request.body);
  const response = await fetch(url, {
    method,
    headers: {
      ...(request.token ? { authorization: `Bearer ${request.token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...request.headers,
    },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  const answer: HttpAnswer = {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
  expect({ operationId, status: answer.status, problems: answers.problems(operationId, answer) }).toEqual({
    operationId,
    status: answer.status,
    problems: [],
  });
  exercised.set(operationId, (exercised.get(operationId) ?? new Set()).add(answer.status));
  return answer;
}

/** The same, for the broadcast API: signed with SigV4 unless told not to. */
async function callBroadcast(
  operationId: string,
  method: string,
  routePath: string,
  {
    body,
    headers = {},
    signed = true,
  }: { body?: string; headers?: Record<string, string>; signed?: boolean } = {},
): Promise<HttpAnswer> {
  const url = `${target.broadcastUrl}${routePath}`;
  const all = { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers };
  const signedHeaders = signed
    ? await signExecuteApiRequest(broadcastSigner(), url, {
        method,
        headers: all,
        ...(body === undefined ? {} : { body }),
      })
    : all;
  const response = await fetch(url, {
    method,
    headers: signedHeaders,
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  const answer: HttpAnswer = {
    status: response.status,
    headers: response.headers,
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
  expect({ operationId, status: answer.status, problems: answers.problems(operationId, answer) }).toEqual({
    operationId,
    status: answer.status,
    problems: [],
  });
  exercised.set(operationId, (exercised.get(operationId) ?? new Set()).add(answer.status));
  return answer;
}

const api = (route: string): string => `${target.commentsApiUrl}/api/v1${route}`;

async function connected(user: string, tokenTransport: 'query' | 'protocol' = 'query'): Promise<TestClient> {
  const client = await TestClient.connect(target.webSocketUrl, await tokenFor(target, user), {
    tokenTransport,
  });
  clients.push(client);
  return client;
}

/** Sends a client action, after checking it against its message in docs/asyncapi.yaml. */
function act(client: TestClient, message: ClientMessage): void {
  expect(messages.problems(message)).toEqual([]);
  client.send(message);
}

/**
 * Every frame the client has received, against its message in docs/asyncapi.yaml; `ignoredTypes` are a
 * backend's own envelopes pushed through the broadcast API, which are not the protocol's.
 */
function checkFrames(client: TestClient, ignoredTypes: readonly string[] = []): void {
  for (const event of client.events) {
    if (ignoredTypes.includes(event.type)) continue;
    eventTypesSeen.add(event.type);
    expect({ event, problems: messages.problems(event) }).toEqual({ event, problems: [] });
  }
}

const isType =
  <K extends ServerEvent['type']>(type: K, postId?: string) =>
  (event: ServerEvent): event is Extract<ServerEvent, { type: K }> =>
    event.type === type &&
    (postId === undefined || (event.data as { postId?: string } | undefined)?.postId === postId);

it('serves the OpenAPI document as JSON at /api/v1/openapi.json, as valid as the YAML', async () => {
  const response = await fetch(`${target.commentsApiUrl}/api/v1/openapi.json`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const served = (await response.json()) as { paths: unknown; components: unknown; servers: unknown[] };
  const source = parse(readFileSync(OPENAPI_FILE, 'utf8')) as typeof served;
  expect(served.paths).toEqual(source.paths);
  expect(served.components).toEqual(source.components);
  expect(served.servers).toEqual([expect.objectContaining({ url: '/' }), ...source.servers]);
  const dir = mkdtempSync(path.join(tmpdir(), 'openapi-json-'));
  try {
    const file = path.join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(served));
    await expect(loadOpenApi(file)).resolves.toMatchObject({ openapi: '3.1.0' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('answers every comments API route as documented, refusals included', async () => {
  const [author, other] = await Promise.all([
    tokenFor(target, 'schema-author'),
    tokenFor(target, 'schema-other'),
  ]);

  await call('createPost', 'POST', api('/posts'), { body: { title: 'No token' } });
  await call('createPost', 'POST', api('/posts'), { token: author, body: {} });
  await call('createPost', 'POST', api('/posts'), {
    token: author,
    body: { title: 't', body: 'x'.repeat(70_000) },
  });
  const key = { [IDEMPOTENCY_KEY_HEADER]: `schema-${Date.now()}` };
  const created = await call('createPost', 'POST', api('/posts'), {
    token: author,
    body: { title: 'Schemas', body: 'Checked against docs/openapi.yaml' },
    headers: key,
  });
  expect(created.status).toBe(201);
  const post = created.body as Post;
  const replayed = await call('createPost', 'POST', api('/posts'), {
    token: author,
    body: { title: 'Schemas', body: 'Checked against docs/openapi.yaml' },
    headers: key,
  });
  expect(replayed).toMatchObject({ status: 201, body: { id: post.id } });
  expect(
    await call('createPost', 'POST', api('/posts'), {
      token: author,
      body: { title: 'Another' },
      headers: key,
    }),
  ).toMatchObject({ status: 422 });

  expect(await call('getPost', 'GET', api(`/posts/${post.id}`))).toMatchObject({ status: 200 });
  expect(await call('getPost', 'GET', api('/posts/no-such-post'))).toMatchObject({ status: 404 });
  expect(await call('getPost', 'GET', api('/posts/not.an.id'))).toMatchObject({ status: 400 });

  const comments: Comment[] = [];
  for (const content of ['one', 'two', 'three']) {
    const answer = await call('createComment', 'POST', api(`/posts/${post.id}/comments`), {
      token: author,
      body: { content },
      headers: { [IDEMPOTENCY_KEY_HEADER]: `schema-${content}-${Date.now()}` },
    });
    expect(answer.status).toBe(201);
    comments.push(answer.body as Comment);
  }
  const commentKey = { [IDEMPOTENCY_KEY_HEADER]: `schema-comment-${Date.now()}` };
  await call('createComment', 'POST', api(`/posts/${post.id}/comments`), {
    token: author,
    body: { content: 'four' },
    headers: commentKey,
  });
  expect(
    await call('createComment', 'POST', api(`/posts/${post.id}/comments`), {
      token: author,
      body: { content: 'not four' },
      headers: commentKey,
    }),
  ).toMatchObject({ status: 422 });
  expect(
    await call('createComment', 'POST', api(`/posts/${post.id}/comments`), {
      token: author,
      body: { content: ' ' },
    }),
  ).toMatchObject({ status: 400 });
  expect(
    await call('createComment', 'POST', api('/posts/no-such-post/comments'), {
      token: author,
      body: { content: 'lost' },
    }),
  ).toMatchObject({ status: 404 });
  await call('createComment', 'POST', api(`/posts/${post.id}/comments`), { body: { content: 'anonymous' } });

  const first = await call('listComments', 'GET', api(`/posts/${post.id}/comments?limit=2`));
  const { nextCursor } = first.body as { nextCursor?: string };
  expect(nextCursor).toEqual(expect.any(String));
  const second = await call(
    'listComments',
    'GET',
    api(`/posts/${post.id}/comments?limit=2&cursor=${nextCursor}`),
  );
  expect((second.body as { comments: Comment[] }).comments).toHaveLength(2);
  expect(await call('listComments', 'GET', api(`/posts/${post.id}/comments?limit=0`))).toMatchObject({
    status: 400,
  });
  expect(await call('listComments', 'GET', api('/posts/no-such-post/comments'))).toMatchObject({
    status: 404,
  });

  const [target1] = comments;
  if (!target1) throw new Error('no comment created');
  const commentPath = `/posts/${post.id}/comments/${target1.id}`;
  expect(
    await call('updateComment', 'PATCH', api(commentPath), {
      token: author,
      body: { content: 'one, edited' },
    }),
  ).toMatchObject({ status: 200, body: { content: 'one, edited', updatedAt: expect.any(String) } });
  expect(
    await call('updateComment', 'PATCH', api(commentPath), { token: other, body: { content: 'not mine' } }),
  ).toMatchObject({ status: 403 });
  expect(
    await call('updateComment', 'PATCH', api(`/posts/${post.id}/comments/no-such-comment`), {
      token: author,
      body: { content: 'x' },
    }),
  ).toMatchObject({ status: 404 });
  await call('updateComment', 'PATCH', api(commentPath), { body: { content: 'anonymous' } });

  expect(await call('deleteComment', 'DELETE', api(commentPath), { token: other })).toMatchObject({
    status: 403,
  });
  expect(await call('deleteComment', 'DELETE', api(commentPath), { token: author })).toMatchObject({
    status: 204,
  });
  expect(await call('deleteComment', 'DELETE', api(commentPath), { token: author })).toMatchObject({
    status: 404,
  });
  await call('deleteComment', 'DELETE', api(commentPath));

  expect(await call('connectionStatus', 'GET', api('/websocket/connections'))).toMatchObject({ status: 200 });
}, 120_000);

it('sends every event type as documented, for every client action', async () => {
  const author = await tokenFor(target, 'schema-author');
  const post = (await call('createPost', 'POST', api('/posts'), { token: author, body: { title: 'Events' } }))
    .body as Post;
  // The subprotocol form of the handshake: the server selects the protocol, as documented.
  const client = await connected('schema-reader', 'protocol');
  expect(client.socket.protocol).toBe(WEBSOCKET_PROTOCOL);

  act(client, { action: 'subscribe', postId: post.id });
  await client.waitFor(isType('comments.list', post.id));
  const comment = (
    await call('createComment', 'POST', api(`/posts/${post.id}/comments`), {
      token: author,
      body: { content: 'live' },
    })
  ).body as Comment;
  await client.waitFor(isType('comment.created', post.id));
  const commentPath = `/posts/${post.id}/comments/${comment.id}`;
  await call('updateComment', 'PATCH', api(commentPath), {
    token: author,
    body: { content: 'live, edited' },
  });
  await client.waitFor(
    (event) => isType('comment.updated', post.id)(event) && event.data.action === 'updated',
  );
  await call('deleteComment', 'DELETE', api(commentPath), { token: author });
  await client.waitFor(
    (event) => isType('comment.updated', post.id)(event) && event.data.action === 'deleted',
  );

  for (const content of ['a', 'b', 'c']) {
    await call('createComment', 'POST', api(`/posts/${post.id}/comments`), {
      token: author,
      body: { content },
    });
  }
  act(client, { action: 'listComments', postId: post.id });
  await client.waitFor(isType('comments.page', post.id));
  act(client, { action: 'ping' });
  await client.waitFor(isType('pong'));

  // A replay (events 2 to 6 again, after the live ones), and a resubscribe from a seq the server never
  // reached: a reset snapshot.
  const beforeReplay = client.events.length;
  act(client, { action: 'subscribe', postId: post.id, lastSeq: 1 });
  await client.waitFor(
    (event) =>
      client.events.indexOf(event) >= beforeReplay &&
      isType('comment.created', post.id)(event) &&
      event.seq === 6,
  );
  act(client, { action: 'subscribe', postId: post.id, lastSeq: 1_000_000 });
  await client.waitFor((event) => isType('comments.list', post.id)(event) && event.data.reset === true);

  client.send('not json');
  await client.waitFor((event) => isType('error')(event) && event.data.code === 'INVALID_JSON');
  act(client, { action: 'subscribe', postId: 'no-such-post' });
  await client.waitFor(
    (event) => isType('error', 'no-such-post')(event) && event.data.code === 'POST_NOT_FOUND',
  );
  act(client, { action: 'unsubscribe', postId: post.id });
  await client.waitFor(isType('unsubscribed', post.id));

  checkFrames(client);
}, 120_000);

it('answers every broadcast API route as documented, refusals included', async () => {
  const author = await tokenFor(target, 'schema-author');
  const post = (
    await call('createPost', 'POST', api('/posts'), { token: author, body: { title: 'Broadcasts' } })
  ).body as Post;
  const client = await connected('schema-reader');
  act(client, { action: 'subscribe', postId: post.id });
  await client.waitFor(isType('comments.list', post.id));
  await call('createComment', 'POST', api(`/posts/${post.id}/comments`), {
    token: author,
    body: { content: 'x' },
  });
  const stored: CommentCreatedEvent = await client.waitFor(isType('comment.created', post.id));
  const { path: broadcastPath, method } = BroadcastRoutes.broadcastComments;
  const { path: countPath } = BroadcastRoutes.connectionCount;

  expect(await callBroadcast('connectionCount', 'GET', countPath)).toMatchObject({ status: 200 });
  expect(await callBroadcast('connectionCount', 'GET', countPath, { signed: false })).toMatchObject({
    status: 403,
  });

  const envelope = JSON.stringify({ type: 'schema.test', data: { postId: post.id, note: 'hello' } });
  expect(await callBroadcast('broadcastComments', method, broadcastPath, { body: envelope })).toMatchObject({
    status: 200,
    body: { connectionCount: 1, delivered: 1 },
  });
  await client.waitFor((event) => (event as { type: string }).type === 'schema.test');
  expect(
    await callBroadcast('broadcastComments', method, broadcastPath, {
      body: envelope,
      headers: { [PREFER_HEADER]: RESPOND_ASYNC },
    }),
  ).toMatchObject({ status: 202, body: { accepted: true } });
  // The stored event again: the stream has it (or had it) already.
  expect(
    await callBroadcast('broadcastComments', method, broadcastPath, { body: JSON.stringify(stored) }),
  ).toMatchObject({ status: 202, body: { skipped: true } });
  expect(
    await callBroadcast('broadcastComments', method, broadcastPath, {
      body: JSON.stringify({ ...stored, eventId: 'not-the-stored-one' }),
    }),
  ).toMatchObject({ status: 409 });
  expect(
    await callBroadcast('broadcastComments', method, broadcastPath, {
      body: JSON.stringify({ ...stored, seq: 999 }),
    }),
  ).toMatchObject({ status: 404 });
  expect(
    await callBroadcast('broadcastComments', method, broadcastPath, {
      body: JSON.stringify({ type: 'Bad Type' }),
    }),
  ).toMatchObject({ status: 400 });
  expect(
    await callBroadcast('broadcastComments', method, broadcastPath, {
      body: JSON.stringify({ type: 'too.large', data: { text: 'x'.repeat(130 * 1024) } }),
    }),
  ).toMatchObject({ status: 413 });
  expect(
    await callBroadcast('broadcastComments', method, broadcastPath, { body: envelope, signed: false }),
  ).toMatchObject({ status: 403 });

  checkFrames(client, ['schema.test']);
}, 120_000);

it('exercised every operation of the OpenAPI document and every event of the AsyncAPI document', () => {
  const operationIds = operationsOf(answers.document).map((entry) => entry.operation.operationId);
  expect([...exercised.keys()].sort()).toEqual([...operationIds].sort());
  for (const [operationId, statuses] of exercised) {
    expect({ operationId, succeeded: [...statuses].some((status) => status < 300) }).toEqual({
      operationId,
      succeeded: true,
    });
  }
  const actions: readonly string[] = CLIENT_ACTIONS;
  const eventTypes = messages.names().filter((name) => !actions.includes(name));
  expect([...eventTypesSeen].sort()).toEqual(eventTypes.sort());
});
