import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  BROADCAST_ROUTE_LIST,
  BroadcastRoutes,
  PREFER_HEADER,
  RESPOND_ASYNC,
} from '../../contracts/broadcast-routes';
import { COMMENTS_API_ROUTE_KEYS, CommentsApiRoutes } from '../../contracts/comments-api-routes';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN } from '../../contracts/idempotency';
import {
  CURSOR_PATTERN,
  ID_PATTERN,
  parseBroadcastEnvelope,
  type Comment,
  type Post,
} from '../../contracts/protocol';
import type { CommentListing, ConnectionStatus } from '../../lambda/comments-api/comment-service';
import {
  DEFAULT_PAGE_LIMIT,
  MAX_BODY_LENGTH,
  MAX_COMMENT_LENGTH,
  MAX_PAGE_LIMIT,
  MAX_TITLE_LENGTH,
} from '../../lambda/comments-api/input-rules';
import type { SkipReason } from '../../lambda/fan-out/event-publisher';
import type { BroadcastSummary } from '../../lambda/fan-out/broadcast-service';
import {
  loadOpenApi,
  operationsOf,
  type JsonSchema,
  type LocatedOperation,
  type OpenApiDocument,
  type OpenApiParameter,
} from './api-documents';

/**
 * docs/openapi.yaml against the code: a valid OpenAPI 3.1 document (swagger-parser), with exactly the
 * routes of the contracts, each named after its contract key, and the headers, auth, limits and answer
 * shapes the handlers use. A route added to a contract, or a field to an answer, fails here until the
 * document says so too.
 */
let document: OpenApiDocument;
let operations: LocatedOperation[];

beforeAll(async () => {
  document = await loadOpenApi();
  operations = operationsOf(document);
});

const byRouteKey = (routeKey: string): LocatedOperation => {
  const found = operations.find((entry) => entry.routeKey === routeKey);
  if (!found) throw new Error(`no operation for ${routeKey}`);
  return found;
};

const schema = (name: string): JsonSchema => {
  const found = document.components.schemas[name];
  if (!found) throw new Error(`no schema ${name}`);
  return found;
};

const propertiesOf = (value: JsonSchema): Record<string, JsonSchema> =>
  (value.properties ?? {}) as Record<string, JsonSchema>;

const headerParameters = (entry: LocatedOperation): OpenApiParameter[] =>
  (entry.operation.parameters ?? []).filter((parameter) => parameter.in === 'header');

/** Every key of T, listed once: the compiler fails this file when T gains or loses one. */
const keysOf = <T>(keys: Record<keyof T, true>): string[] => Object.keys(keys).sort();

it('is a valid OpenAPI 3.1 document', () => {
  expect(document.openapi).toMatch(/^3\.1\.\d+$/);
});

it('is read by a validator that refuses an invalid document', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'openapi-'));
  const broken = path.join(dir, 'broken.yaml');
  writeFileSync(broken, 'openapi: 3.1.0\npaths:\n  /x:\n    get:\n      responses: {}\n');
  try {
    await expect(loadOpenApi(broken)).rejects.toThrow(/not valid OpenAPI/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('documents exactly the routes of the comments and broadcast contracts', () => {
  const contracted = [...COMMENTS_API_ROUTE_KEYS, ...BROADCAST_ROUTE_LIST.map((route) => route.routeKey)];
  expect(operations.map((entry) => entry.routeKey).sort()).toEqual([...contracted].sort());
});

it('names each operation after its key in the contracts', () => {
  for (const [name, routeKey] of Object.entries(CommentsApiRoutes)) {
    expect({ routeKey, operationId: byRouteKey(routeKey).operation.operationId }).toEqual({
      routeKey,
      operationId: name,
    });
  }
  for (const [name, route] of Object.entries(BroadcastRoutes)) {
    expect(byRouteKey(route.routeKey).operation.operationId).toBe(name);
  }
});

it('declares every path parameter of a route, with the id format', () => {
  for (const entry of operations) {
    const named = [...entry.path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
    const declared = (entry.operation.parameters ?? []).filter((parameter) => parameter.in === 'path');
    expect({ route: entry.routeKey, names: declared.map((parameter) => parameter.name) }).toEqual({
      route: entry.routeKey,
      names: named,
    });
    for (const parameter of declared) {
      expect(parameter).toMatchObject({ required: true, schema: { pattern: ID_PATTERN.source } });
    }
  }
});

describe('auth', () => {
  it('has a bearer JWT scheme and a SigV4 scheme', () => {
    expect(document.components.securitySchemes).toEqual({
      bearerJwt: expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }),
      sigv4: expect.objectContaining({
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        'x-amazon-apigateway-authtype': 'awsSigv4',
      }),
    });
  });

  it('asks a bearer JWT for comment writes and nothing for reads', () => {
    for (const routeKey of COMMENTS_API_ROUTE_KEYS) {
      const entry = byRouteKey(routeKey);
      const expected = entry.method === 'get' ? [] : [{ bearerJwt: [] }];
      expect({ routeKey, security: entry.operation.security }).toEqual({ routeKey, security: expected });
      if (entry.method !== 'get') expect(Object.keys(entry.operation.responses)).toContain('401');
    }
  });

  it('signs every broadcast route with SigV4, on the broadcast server', () => {
    for (const route of BROADCAST_ROUTE_LIST) {
      const entry = byRouteKey(route.routeKey);
      expect(entry.operation.security).toEqual([{ sigv4: [] }]);
      expect(Object.keys(entry.operation.responses)).toContain('403');
      expect(entry.pathItem.servers?.map((server) => server.description)).toEqual([
        expect.stringContaining('BroadcastUrl'),
      ]);
    }
  });
});

describe('headers', () => {
  it('takes an Idempotency-Key on the two POSTs of the comments API, and nowhere else', () => {
    const withKey = operations.filter((entry) =>
      headerParameters(entry).some((parameter) => parameter.name.toLowerCase() === IDEMPOTENCY_KEY_HEADER),
    );
    expect(withKey.map((entry) => entry.routeKey).sort()).toEqual(
      [CommentsApiRoutes.createPost, CommentsApiRoutes.createComment].sort(),
    );
    for (const entry of withKey) {
      const [parameter] = headerParameters(entry).filter(
        (candidate) => candidate.name.toLowerCase() === IDEMPOTENCY_KEY_HEADER,
      );
      expect(parameter).toMatchObject({
        required: false,
        schema: { pattern: IDEMPOTENCY_KEY_PATTERN.source },
      });
      // The same key with another request is refused.
      expect(Object.keys(entry.operation.responses)).toContain('422');
    }
  });

  it('takes Prefer: respond-async on the broadcast, answered 202', () => {
    const entry = byRouteKey(BroadcastRoutes.broadcastComments.routeKey);
    const prefer = headerParameters(entry).find(
      (parameter) => parameter.name.toLowerCase() === PREFER_HEADER,
    );
    expect(prefer?.schema).toMatchObject({ enum: [RESPOND_ASYNC] });
    expect(Object.keys(entry.operation.responses)).toContain('202');
  });

  it('sends Retry-After with every 503, and documents 503 on every comment write', () => {
    for (const entry of operations) {
      const unavailable = entry.operation.responses['503'];
      if (unavailable) expect(unavailable.headers?.['Retry-After']).toMatchObject({ required: true });
      if (entry.routeKey.startsWith('GET ')) continue;
      expect({ route: entry.routeKey, has503: unavailable !== undefined }).toEqual({
        route: entry.routeKey,
        has503: true,
      });
    }
  });
});

describe('bodies and answers', () => {
  it("answers every error with the functions' {detail} or API Gateway's {message}", () => {
    const errorBody = schema('ErrorBody');
    const gatewayError = schema('GatewayError');
    expect(errorBody).toMatchObject({ required: ['detail'], additionalProperties: false });
    for (const entry of operations) {
      for (const [status, response] of Object.entries(entry.operation.responses)) {
        if (Number(status) < 400) continue;
        const body = response.content?.['application/json']?.schema;
        expect({ route: entry.routeKey, status, hasBody: body !== undefined }).toEqual({
          route: entry.routeKey,
          status,
          hasBody: true,
        });
        const shapes = (body?.oneOf as JsonSchema[] | undefined) ?? [body];
        for (const shape of shapes) expect([errorBody, gatewayError]).toContainEqual(shape);
      }
    }
  });

  it('states the id, cursor, length and page limits the handlers enforce', () => {
    expect(schema('Id').pattern).toBe(ID_PATTERN.source);
    expect(schema('PageCursor').pattern).toBe(CURSOR_PATTERN.source);
    expect(propertiesOf(schema('NewPost')).title).toMatchObject({
      minLength: 1,
      maxLength: MAX_TITLE_LENGTH,
    });
    expect(propertiesOf(schema('NewPost')).body).toMatchObject({ maxLength: MAX_BODY_LENGTH });
    expect(propertiesOf(schema('CommentContent')).content).toMatchObject({
      minLength: 1,
      maxLength: MAX_COMMENT_LENGTH,
    });
    const limit = byRouteKey(CommentsApiRoutes.listComments).operation.parameters?.find(
      (parameter) => parameter.name === 'limit',
    );
    expect(limit?.schema).toMatchObject({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: DEFAULT_PAGE_LIMIT });
  });

  it("accepts the broadcast envelopes' types that the parser accepts, and refuses the others", () => {
    const pattern = new RegExp(String(propertiesOf(schema('BroadcastEnvelope')).type?.pattern));
    for (const type of [
      'comment.created',
      'a',
      'x-y_z.9',
      'Comment',
      '1a',
      '',
      'a'.repeat(64),
      'a'.repeat(65),
    ]) {
      const parsed = parseBroadcastEnvelope(JSON.stringify({ type }));
      expect({ type, documented: pattern.test(type) }).toEqual({ type, documented: parsed.ok });
    }
  });

  it('lists every field of the answers, as the types the handlers answer with have them', () => {
    const propertyNames = (name: string): string[] => Object.keys(propertiesOf(schema(name))).sort();
    expect(propertyNames('Post')).toEqual(
      keysOf<Post>({ id: true, title: true, body: true, userId: true, createdAt: true }),
    );
    expect(propertyNames('Comment')).toEqual(
      keysOf<Comment>({
        id: true,
        postId: true,
        userId: true,
        content: true,
        createdAt: true,
        updatedAt: true,
      }),
    );
    expect(propertyNames('CommentPage')).toEqual(
      keysOf<CommentListing>({ postId: true, comments: true, count: true, nextCursor: true }),
    );
    const [healthy, failing] = (schema('ConnectionStatus').oneOf as JsonSchema[]).map((shape) =>
      Object.keys(propertiesOf(shape)).sort(),
    );
    expect(healthy).toEqual(
      keysOf<Extract<ConnectionStatus, { status: 'healthy' }>>({
        status: true,
        connectionCount: true,
        timestamp: true,
        endpoint: true,
      }),
    );
    expect(failing).toEqual(
      keysOf<Extract<ConnectionStatus, { status: 'error' }>>({
        status: true,
        connectionCount: true,
        error: true,
        timestamp: true,
      }),
    );
  });

  it("lists every field of the broadcast API's answers, and every reason a publish is skipped", () => {
    const summary = keysOf<BroadcastSummary>({
      broadcastId: true,
      connectionCount: true,
      delivered: true,
      stale: true,
      retried: true,
      failed: true,
      queued: true,
      batches: true,
      handedOn: true,
    });
    expect(Object.keys(propertiesOf(schema('BroadcastSummary'))).sort()).toEqual(summary);
    expect([...(schema('BroadcastSummary').required as string[])].sort()).toEqual(summary);
    // notStored and conflict are the caller's fault: 404 and 409, not a skip.
    const skipped: Record<Exclude<SkipReason, 'notStored' | 'conflict'>, true> = {
      alreadyPublished: true,
      claimedElsewhere: true,
      awaitingEarlierEvent: true,
    };
    expect(propertiesOf(schema('BroadcastSkipped')).reason?.enum).toEqual(Object.keys(skipped));
  });
});
