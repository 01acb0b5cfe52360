import type { AsyncAPIDocumentInterface } from '@asyncapi/parser';
import {
  CLIENT_ACTIONS,
  CURSOR_PATTERN,
  ErrorCodes,
  ID_PATTERN,
  parseClientMessage,
  type ClientAction,
  type ServerEvent,
} from '../../contracts/protocol';
import {
  MAX_PROTOCOL_HEADER_LENGTH,
  TOKEN_PROTOCOL_PREFIX,
  TOKEN_QUERY_PARAMETER,
  WEBSOCKET_PROTOCOL,
  SEC_WEBSOCKET_PROTOCOL,
  offeredProtocols,
} from '../../contracts/websocket-auth';
import { AsyncApiMessages, loadAsyncApi, problemsOf, type JsonSchema } from './api-documents';

/**
 * docs/asyncapi.yaml against the protocol module: a valid AsyncAPI 3.0 document (@asyncapi/parser, with
 * its Spectral rules), with exactly the client actions and server event types of contracts/protocol.ts,
 * every error code, the recovery fields, and the handshake of contracts/websocket-auth.ts. A message type,
 * action or error code added to the contracts fails here until the document has it too.
 */
let document: AsyncAPIDocumentInterface;
let messages: AsyncApiMessages;

beforeAll(async () => {
  const loaded = await loadAsyncApi();
  expect(problemsOf(loaded.diagnostics)).toEqual([]);
  if (!loaded.document) throw new Error('docs/asyncapi.yaml did not parse');
  document = loaded.document;
  messages = new AsyncApiMessages(document);
}, 60_000);

/**
 * Every `type` a server event can have, listed once: the compiler fails this file when ServerEvent gains
 * or loses one, so the list cannot fall behind the protocol module.
 */
const SERVER_EVENT_TYPES: Record<ServerEvent['type'], true> = {
  'comment.created': true,
  'comment.updated': true,
  'comments.list': true,
  'comments.page': true,
  subscribed: true,
  unsubscribed: true,
  pong: true,
  error: true,
};

const properties = (schema: JsonSchema): Record<string, JsonSchema> =>
  (schema.properties ?? {}) as Record<string, JsonSchema>;

const dataOf = (name: string): JsonSchema => properties(messages.payloadSchema(name)).data ?? {};

it('is a valid AsyncAPI 3.0 document, without errors or warnings', () => {
  expect(document.version()).toMatch(/^3\.0\.\d+$/);
});

it('has a message for every client action and every server event type, and no other', () => {
  const CLIENT_ACTION_NAMES: Record<ClientAction, true> = {
    subscribe: true,
    unsubscribe: true,
    listComments: true,
    ping: true,
  };
  expect([...CLIENT_ACTIONS].sort()).toEqual(Object.keys(CLIENT_ACTION_NAMES).sort());
  expect(messages.names().sort()).toEqual([...CLIENT_ACTIONS, ...Object.keys(SERVER_EVENT_TYPES)].sort());
});

it("fixes each message's action or type to its name", () => {
  for (const action of CLIENT_ACTIONS) {
    expect(properties(messages.payloadSchema(action)).action).toMatchObject({ const: action });
  }
  for (const type of Object.keys(SERVER_EVENT_TYPES)) {
    expect(properties(messages.payloadSchema(type)).type).toMatchObject({ const: type });
  }
});

it('receives the client actions and sends the events, each action with its answers', () => {
  const received = document
    .operations()
    .filterByReceive()
    .flatMap((operation) =>
      operation
        .messages()
        .all()
        .map((message) => message.name()),
    );
  expect(received.sort()).toEqual([...CLIENT_ACTIONS].sort());
  const sent = document
    .operations()
    .all()
    .flatMap((operation) => [
      ...(operation.action() === 'send' ? operation.messages().all() : []),
      ...(operation.reply()?.messages().all() ?? []),
    ])
    .map((message) => message.name());
  expect([...new Set(sent)].sort()).toEqual(Object.keys(SERVER_EVENT_TYPES).sort());
});

it('lists every error code, and no other', () => {
  const code = properties(dataOf('error')).code;
  expect([...((code?.enum as string[]) ?? [])].sort()).toEqual(Object.values(ErrorCodes).sort());
  for (const value of Object.values(ErrorCodes)) expect(String(code?.description)).toContain(`\`${value}\``);
});

it('gives ids and cursors the formats the parsers check', () => {
  expect(properties(messages.payloadSchema('subscribe')).postId).toMatchObject({
    pattern: ID_PATTERN.source,
  });
  expect(properties(messages.payloadSchema('listComments')).cursor).toMatchObject({
    pattern: CURSOR_PATTERN.source,
  });
});

it("accepts the client messages the server's parser accepts, and refuses the others", () => {
  const frames: unknown[] = [
    { action: 'subscribe', postId: 'p1' },
    { action: 'subscribe', postId: 'p1', lastSeq: 0 },
    { action: 'subscribe', postId: 'p1', lastSeq: 7 },
    { action: 'subscribe', postId: 'p1', lastSeq: -1 },
    { action: 'subscribe', postId: 'p1', lastSeq: 1.5 },
    { action: 'subscribe', postId: 'p1', lastSeq: '7' },
    { action: 'subscribe' },
    { action: 'subscribe', postId: 'has space' },
    { action: 'unsubscribe', postId: 'p1' },
    { action: 'listComments', postId: 'p1' },
    { action: 'listComments', postId: 'p1', cursor: 'cDE' },
    { action: 'listComments', postId: 'p1', cursor: 'not a cursor' },
    { action: 'ping' },
  ];
  for (const frame of frames) {
    const parsed = parseClientMessage(JSON.stringify(frame));
    expect({ frame, documented: messages.problems(frame).length === 0 }).toEqual({
      frame,
      documented: parsed.ok,
    });
  }
});

describe('recovery fields', () => {
  it('sends comment changes with their eventId and seq, from 1', () => {
    for (const type of ['comment.created', 'comment.updated']) {
      const payload = messages.payloadSchema(type);
      expect(payload.required).toEqual(expect.arrayContaining(['type', 'data', 'eventId', 'seq']));
      expect(properties(payload).eventId).toMatchObject({ pattern: ID_PATTERN.source });
      expect(properties(payload).seq).toMatchObject({ type: 'integer', minimum: 1 });
    }
  });

  it('resumes a subscribe after lastSeq, and marks a snapshot that replaces a replay with reset', () => {
    expect(properties(messages.payloadSchema('subscribe')).lastSeq).toMatchObject({
      type: 'integer',
      minimum: 0,
    });
    const snapshot = properties(dataOf('comments.list'));
    expect(snapshot.seq).toMatchObject({ type: 'integer', minimum: 0 });
    expect(snapshot.reset).toMatchObject({ type: 'boolean' });
    expect(Object.keys(snapshot)).toEqual(expect.arrayContaining(['hasMore', 'cursor', 'truncated']));
  });

  it("carries every followed post's seq in the pong", () => {
    const seqs = properties(dataOf('pong')).seqs;
    expect(seqs).toMatchObject({ type: 'object', additionalProperties: { type: 'integer' } });
  });
});

describe('the handshake', () => {
  const channel = (): { bindings: Record<string, Record<string, JsonSchema>> } => {
    const [connection] = document.channels().all();
    return connection?.json() as unknown as { bindings: Record<string, Record<string, JsonSchema>> };
  };

  it('takes the token as the query parameter of the contract', () => {
    const query = channel().bindings.ws?.query;
    expect(Object.keys(properties(query ?? {}))).toEqual([TOKEN_QUERY_PARAMETER]);
    const schemes = document
      .components()
      .securitySchemes()
      .all()
      .map((scheme) => scheme.json());
    expect(schemes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'httpApiKey', in: 'query', name: TOKEN_QUERY_PARAMETER }),
      ]),
    );
  });

  it('takes the token in Sec-WebSocket-Protocol, beside the protocol, as the SDK offers them', () => {
    const header = properties(channel().bindings.ws?.headers ?? {})[SEC_WEBSOCKET_PROTOCOL];
    expect(header).toBeDefined();
    const offered = offeredProtocols('eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln').join(', ');
    expect(offered).toMatch(new RegExp(String(header?.pattern), 'u'));
    expect(header?.maxLength).toBe(MAX_PROTOCOL_HEADER_LENGTH);
    const described = String(header?.description);
    expect(described).toContain(WEBSOCKET_PROTOCOL);
    expect(described).toContain(TOKEN_PROTOCOL_PREFIX);
    const schemes = document
      .components()
      .securitySchemes()
      .all()
      .map((scheme) => scheme.json());
    expect(schemes).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'httpApiKey', in: 'header', name: SEC_WEBSOCKET_PROTOCOL }),
      ]),
    );
    expect(document.info().description()).toContain(`${TOKEN_PROTOCOL_PREFIX}<JWT>`);
  });
});
