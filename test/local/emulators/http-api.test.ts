import type { RouteAuthorizers } from '../../../local/auth/authorizers';
import { LocalHttpApi } from '../../../local/emulators/http-api';
import type { HttpRequest, HttpResponse } from '../../../local/http-io';
import type { CorsConfiguration, LocalApi } from '../../../local/cloudformation/local-model';
import { FakeLambda, lambdaMap } from './fake-lambda';

const ok = { statusCode: 200, body: '' };

function httpApi(routes: Record<string, string>, cors?: CorsConfiguration): LocalApi {
  return {
    key: 'App/ItemsApi',
    logicalId: 'ItemsApi',
    stackName: 'App',
    name: 'items',
    protocol: 'HTTP',
    stageName: '$default',
    routes: Object.entries(routes).map(([routeKey, functionKey]) => ({
      routeKey,
      functionKey,
      authorization: { type: 'NONE' as const },
    })),
    ...(cors ? { cors } : {}),
  };
}

function request(method: string, target: string, init: Partial<HttpRequest> = {}): HttpRequest {
  const [path = '/', query = ''] = target.split('?');
  return {
    method,
    path,
    rawPath: path,
    rawQueryString: query,
    headers: {},
    body: Buffer.alloc(0),
    sourceIp: '203.0.113.9',
    ...init,
  };
}

function localApi(api: LocalApi, lambdas: Record<string, FakeLambda>): LocalHttpApi {
  return new LocalHttpApi({
    api,
    lambdas: lambdaMap(lambdas),
    domainName: 'localhost:3000',
    accountId: '000000000000',
    authorizers: noAuthorizers,
  });
}

/** These tests cover unauthenticated routes only: any authorizer call is a failure. */
const noAuthorizers: RouteAuthorizers = {
  verifyJwt: () => Promise.reject(new Error('unexpected JWT check')),
  verifyIam: () => Promise.reject(new Error('unexpected IAM check')),
};

const bodyJson = (response: HttpResponse): unknown => JSON.parse(response.body.toString('utf8'));

describe('LocalHttpApi routing', () => {
  const lambdas = {
    byId: new FakeLambda(() => ok),
    special: new FakeLambda(() => ok),
    create: new FakeLambda(() => ok),
    files: new FakeLambda(() => ok),
  };
  const api = localApi(
    httpApi({
      'GET /items/{id}': 'byId',
      'GET /items/special': 'special',
      'POST /items': 'create',
      'ANY /files/{proxy+}': 'files',
    }),
    lambdas,
  );

  beforeEach(() => {
    for (const lambda of Object.values(lambdas)) {
      lambda.invoke.mockClear();
      lambda.events.length = 0;
    }
  });

  it('prefers a literal route over a path parameter, whatever the declaration order', async () => {
    // Act
    await api.handle(request('GET', '/items/special'));

    // Assess
    expect(lambdas.special.invoke).toHaveBeenCalledTimes(1);
    expect(lambdas.byId.invoke).not.toHaveBeenCalled();
  });

  it('routes other values to the parameter route with the decoded path parameter', async () => {
    // Act
    await api.handle(request('GET', '/items/a%20b%2Fc'));

    // Assess
    expect(lambdas.byId.events[0]).toMatchObject({
      routeKey: 'GET /items/{id}',
      pathParameters: { id: 'a b/c' },
    });
  });

  it('gives a greedy {proxy+} parameter the rest of the path, for any method', async () => {
    // Act
    await api.handle(request('DELETE', '/files/a/b/c.txt'));

    // Assess
    expect(lambdas.files.events[0]).toMatchObject({
      routeKey: 'ANY /files/{proxy+}',
      pathParameters: { proxy: 'a/b/c.txt' },
    });
  });

  it('answers 404 {message: "Not Found"} without invoking anything when no route matches', async () => {
    // Act
    const responses = [
      await api.handle(request('GET', '/nothing-here')),
      await api.handle(request('PUT', '/items')),
    ];

    // Assess
    for (const response of responses) {
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toBe('application/json');
      expect(bodyJson(response)).toEqual({ message: 'Not Found' });
    }
    for (const lambda of Object.values(lambdas)) expect(lambda.invoke).not.toHaveBeenCalled();
  });

  it('reports whether a request would reach a route', () => {
    // Act / Assess
    expect(api.matches('POST', '/items')).toBe(true);
    expect(api.matches('POST', '/items/1')).toBe(false);
    expect(api.matches('OPTIONS', '/items')).toBe(false);
  });

  it('sends unmatched requests to $default when the API has one', async () => {
    // Prepare
    const fallback = new FakeLambda(() => ok);
    const withDefault = localApi(httpApi({ 'POST /items': 'create', $default: 'fallback' }), {
      create: lambdas.create,
      fallback,
    });

    // Act
    const response = await withDefault.handle(request('GET', '/anything/else'));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(fallback.events[0]).toMatchObject({ routeKey: '$default', rawPath: '/anything/else' });
  });
});

describe('LocalHttpApi JWT routes', () => {
  const ISSUER = 'https://issuer.example.test';
  const jwtApi = (scopes?: string[]): LocalApi => ({
    ...httpApi({}),
    routes: [
      {
        routeKey: 'POST /items',
        functionKey: 'create',
        authorization: {
          type: 'JWT',
          identitySource: ['$request.header.Authorization'],
          issuer: ISSUER,
          audience: ['client-1'],
          ...(scopes ? { scopes } : {}),
        },
      },
    ],
  });

  function withVerifier(api: LocalApi, verifyJwt: RouteAuthorizers['verifyJwt']) {
    const create = new FakeLambda(() => ok);
    const verifier = jest.fn(verifyJwt);
    const local = new LocalHttpApi({
      api,
      lambdas: lambdaMap({ create }),
      domainName: 'localhost:3000',
      accountId: '000000000000',
      authorizers: { ...noAuthorizers, verifyJwt: verifier },
    });
    return { local, create, verifier };
  }

  it("verifies the bearer token against the route's issuer, audience and scopes, and hands the claims over", async () => {
    // Prepare
    const { local, create, verifier } = withVerifier(jwtApi(['comments/write']), () =>
      Promise.resolve({ sub: 'user-1', aud: ['client-1'], exp: 5 }),
    );

    // Act
    const response = await local.handle(
      request('POST', '/items', { headers: { authorization: 'Bearer the.jwt.value' } }),
    );

    // Assess
    expect(response.statusCode).toBe(200);
    expect(verifier).toHaveBeenCalledWith('the.jwt.value', ISSUER, ['client-1'], ['comments/write']);
    expect(create.events[0]).toMatchObject({
      requestContext: { authorizer: { jwt: { claims: { sub: 'user-1', aud: '[client-1]', exp: '5' } } } },
    });
  });

  it.each<[string, Record<string, string>, RouteAuthorizers['verifyJwt']]>([
    ['no Authorization header', {}, () => Promise.resolve({})],
    [
      'a token the authorizer refuses',
      { authorization: 'Bearer x.y.z' },
      () => Promise.reject(new Error('exp')),
    ],
  ])('answers 401 without invoking the route for %s', async (_case, headers, verifyJwt) => {
    // Prepare
    const { local, create } = withVerifier(jwtApi(), verifyJwt);

    // Act
    const response = await local.handle(request('POST', '/items', { headers }));

    // Assess
    expect(response.statusCode).toBe(401);
    expect(bodyJson(response)).toEqual({ message: 'Unauthorized' });
    expect(create.invoke).not.toHaveBeenCalled();
  });
});

describe('LocalHttpApi payload format 2.0 event', () => {
  const lambda = new FakeLambda(() => ok);
  const api = localApi(httpApi({ 'POST /items/{id}': 'fn' }), { fn: lambda });

  beforeEach(() => {
    lambda.invoke.mockClear();
    lambda.events.length = 0;
  });

  it('carries the route, the raw path and query, the headers, the method and a text body', async () => {
    // Prepare
    const req = request('POST', '/items/42?tag=a&tag=b&page=2', {
      headers: { 'content-type': 'application/json', 'user-agent': 'jest', 'x-user-id': 'u1' },
      body: Buffer.from('{"text":"héllo"}'),
    });

    // Act
    await api.handle(req);

    // Assess
    expect(lambda.invoke).toHaveBeenCalledTimes(1);
    expect(lambda.events[0]).toMatchObject({
      version: '2.0',
      routeKey: 'POST /items/{id}',
      rawPath: '/items/42',
      rawQueryString: 'tag=a&tag=b&page=2',
      queryStringParameters: { tag: 'a,b', page: '2' },
      headers: { 'content-type': 'application/json', 'user-agent': 'jest', 'x-user-id': 'u1' },
      pathParameters: { id: '42' },
      requestContext: {
        accountId: '000000000000',
        apiId: 'ItemsApi',
        domainName: 'localhost:3000',
        routeKey: 'POST /items/{id}',
        stage: '$default',
        http: { method: 'POST', path: '/items/42', sourceIp: '203.0.113.9', userAgent: 'jest' },
      },
      body: '{"text":"héllo"}',
      isBase64Encoded: false,
    });
  });

  it('moves cookies out of the headers into the cookies list', async () => {
    // Act
    await api.handle(request('POST', '/items/1', { headers: { cookie: 'a=1; b=2' } }));

    // Assess
    expect(lambda.events[0]).toMatchObject({ cookies: ['a=1', 'b=2'] });
    expect(lambda.events[0]?.headers).not.toHaveProperty('cookie');
  });

  it('base64-encodes a binary body and says so', async () => {
    // Prepare
    const bytes = Buffer.from([0x00, 0x01, 0xfe, 0xff]);

    // Act
    await api.handle(
      request('POST', '/items/1', { headers: { 'content-type': 'application/octet-stream' }, body: bytes }),
    );

    // Assess
    expect(lambda.events[0]).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
  });

  it('passes a JSON body that is not valid UTF-8 base64-encoded, byte for byte, never with U+FFFD', async () => {
    // Prepare
    const bytes = Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0xff, 0x22, 0x7d]);

    // Act
    await api.handle(
      request('POST', '/items/1', { headers: { 'content-type': 'application/json' }, body: bytes }),
    );

    // Assess
    expect(lambda.events[0]).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
  });

  it('passes a valid UTF-8 body of a text type as a string, whatever the case of its content type', async () => {
    // Act
    await api.handle(
      request('POST', '/items/1', {
        headers: { 'content-type': 'Application/JSON; charset=UTF-8' },
        body: Buffer.from('{"t":"€"}'),
      }),
    );

    // Assess
    expect(lambda.events[0]).toMatchObject({ body: '{"t":"€"}', isBase64Encoded: false });
  });

  it('keeps query parameters named like Object.prototype members', async () => {
    // Act
    await api.handle(request('POST', '/items/1?__proto__=a&constructor=b&constructor=c'));

    // Assess
    const query = lambda.events[0]?.queryStringParameters as Record<string, string>;
    expect(Object.entries(query)).toEqual([
      ['__proto__', 'a'],
      ['constructor', 'b,c'],
    ]);
  });

  it.each([
    ['a path parameter', '/items/%E0%A4%A'],
    ['the query string', '/items/1?tag=%ZZ'],
  ])(
    'answers malformed percent-encoding in %s with 400 without invoking the route',
    async (_where, target) => {
      // Act
      const response = await api.handle(request('POST', target));

      // Assess
      expect(response.statusCode).toBe(400);
      expect(bodyJson(response)).toEqual({ message: 'Bad Request' });
      expect(lambda.invoke).not.toHaveBeenCalled();
    },
  );

  it('leaves body and queryStringParameters out when the request has none', async () => {
    // Act
    await api.handle(request('POST', '/items/1'));

    // Assess
    expect(lambda.events[0]).not.toHaveProperty('body');
    expect(lambda.events[0]).not.toHaveProperty('queryStringParameters');
    expect(lambda.events[0]).toMatchObject({ isBase64Encoded: false, rawQueryString: '' });
  });
});

describe('LocalHttpApi responses', () => {
  const handle = async (result: () => unknown): Promise<HttpResponse> => {
    const api = localApi(httpApi({ 'GET /thing': 'fn' }), { fn: new FakeLambda(result) });
    return api.handle(request('GET', '/thing'));
  };

  afterEach(() => jest.restoreAllMocks());

  it('answers 502, a failed integration, when the function throws', async () => {
    // Prepare
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);

    // Act
    const response = await handle(() => {
      throw new Error('handler blew up');
    });

    // Assess
    expect(response.statusCode).toBe(502);
    expect(bodyJson(response)).toEqual({ message: 'Internal Server Error' });
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('handler blew up'));
  });

  it('uses a structured result as is, with header names lower-cased and values as strings', async () => {
    // Act
    const response = await handle(() => ({
      statusCode: 201,
      headers: { 'Content-Type': 'text/plain', 'X-Count': 3, 'x-cached': false },
      body: 'created',
    }));

    // Assess
    expect(response.statusCode).toBe(201);
    expect(response.headers).toEqual({ 'content-type': 'text/plain', 'x-count': '3', 'x-cached': 'false' });
    expect(response.body.toString('utf8')).toBe('created');
  });

  it('decodes a base64 body when the result says isBase64Encoded', async () => {
    // Prepare
    const bytes = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff]);

    // Act
    const response = await handle(() => ({
      statusCode: 200,
      headers: { 'content-type': 'image/png' },
      body: bytes.toString('base64'),
      isBase64Encoded: true,
    }));

    // Assess
    expect(response.body.equals(bytes)).toBe(true);
  });

  it('answers 204 with an empty body for a structured result without a body', async () => {
    // Act
    const response = await handle(() => ({ statusCode: 204 }));

    // Assess
    expect(response.statusCode).toBe(204);
    expect(response.body.length).toBe(0);
  });

  it.each([
    ['a status that is not a number', { statusCode: 'ok' }],
    ['a status out of range', { statusCode: 1000 }],
    ['a header value with a line break', { statusCode: 200, headers: { 'x-a': 'b\r\nx-c: d' } }],
    ['a body that is not a string', { statusCode: 200, body: { nested: true } }],
  ])('answers 502, a response in the wrong format, for %s', async (_name, result) => {
    // Act
    const response = await handle(() => result);

    // Assess
    expect(response.statusCode).toBe(502);
    expect(bodyJson(response)).toEqual({ message: 'Internal Server Error' });
  });

  it('turns a result without statusCode into 200 JSON', async () => {
    // Act
    const response = await handle(() => ({ items: [1, 2], next: null }));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(bodyJson(response)).toEqual({ items: [1, 2], next: null });
  });

  it('sends a string result as the body, with 200 and a JSON content type', async () => {
    // Act
    const response = await handle(() => 'Hello from Lambda!');

    // Assess
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/json');
    expect(response.body.toString('utf8')).toBe('Hello from Lambda!');
  });
});

describe('LocalHttpApi CORS', () => {
  const cors: CorsConfiguration = {
    AllowOrigins: ['https://app.example'],
    AllowMethods: ['GET', 'POST'],
    AllowHeaders: ['content-type', 'x-user-id'],
    ExposeHeaders: ['x-request-id'],
    MaxAge: 3600,
  };
  const lambda = new FakeLambda(() => ({ statusCode: 200, body: '{}' }));
  const api = localApi(httpApi({ 'POST /items': 'fn' }, cors), { fn: lambda });

  beforeEach(() => {
    lambda.invoke.mockClear();
  });

  it('answers a preflight itself with the configured methods, headers and max age', async () => {
    // Prepare
    const preflight = request('OPTIONS', '/items', {
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    });

    // Act
    const response = await api.handle(preflight);

    // Assess
    expect(response.statusCode).toBe(204);
    expect(response.headers).toEqual({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-methods': 'GET,POST',
      'access-control-allow-headers': 'content-type,x-user-id',
      'access-control-expose-headers': 'x-request-id',
      'access-control-max-age': '3600',
    });
    expect(lambda.invoke).not.toHaveBeenCalled();
  });

  it('counts a preflight to any path as a match', () => {
    // Act / Assess
    expect(api.matches('OPTIONS', '/not/a/route')).toBe(true);
  });

  it('adds the allow-origin header to an ordinary response for an allowed origin only', async () => {
    // Act
    const allowed = await api.handle(
      request('POST', '/items', { headers: { origin: 'https://app.example' } }),
    );
    const other = await api.handle(
      request('POST', '/items', { headers: { origin: 'https://evil.example' } }),
    );

    // Assess
    expect(allowed.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(other.headers).not.toHaveProperty('access-control-allow-origin');
  });

  it('does not answer preflights when the API has no CORS configuration', async () => {
    // Prepare
    const plain = localApi(httpApi({ 'POST /items': 'fn' }), { fn: lambda });

    // Act
    const response = await plain.handle(
      request('OPTIONS', '/items', {
        headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
      }),
    );

    // Assess
    expect(response.statusCode).toBe(404);
    expect(response.headers).not.toHaveProperty('access-control-allow-origin');
  });
});
