import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { decodeJwt } from 'jose';
import { JWKS_PATH, LocalIssuer } from '../../../local/auth/local-issuer';
import { LOCAL_TOKEN_PATH } from '../../../local/devtools/control-paths';
import { createDevTokenRoutes } from '../../../local/devtools/dev-token-routes';
import type { HttpRequest, HttpResponse } from '../../../local/http-io';

const request = (method: string, rawPath: string, body = ''): HttpRequest => ({
  method,
  path: rawPath,
  rawPath,
  rawQueryString: '',
  headers: {},
  body: Buffer.from(body),
  sourceIp: '127.0.0.1',
});

const json = (response: HttpResponse): unknown => JSON.parse(response.body.toString('utf8'));

let dir: string;
let issuer: LocalIssuer;
let routes: ReturnType<typeof createDevTokenRoutes>;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'dev-token-routes-'));
  issuer = await LocalIssuer.load({
    issuer: 'http://localhost:3000/_local/issuer',
    audience: 'web-client',
    keysFile: path.join(dir, 'keys.json'),
  });
  routes = createDevTokenRoutes(issuer);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createDevTokenRoutes', () => {
  it("serves the issuer's public keys at its JWKS path", async () => {
    // Act
    const response = await routes(request('GET', JWKS_PATH));

    // Assess
    expect(response.statusCode).toBe(200);
    expect(json(response)).toEqual(issuer.jwks);
  });

  it('issues a token for the user, with the issuer, audience and an hour to live', async () => {
    // Act
    const response = await routes(request('POST', LOCAL_TOKEN_PATH, '{"userId":"alice"}'));

    // Assess
    expect(response.statusCode).toBe(200);
    const { userId, token, expiresIn } = json(response) as {
      userId: string;
      token: string;
      expiresIn: number;
    };
    expect({ userId, expiresIn }).toEqual({ userId: 'alice', expiresIn: 3600 });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: 'alice', iss: issuer.issuer, aud: 'web-client' });
    expect((claims.exp ?? 0) - (claims.iat ?? 0)).toBe(3600);
  });

  it.each([
    ['a body that is not JSON', 'nope', 'Body must be JSON {"userId": "<id>"}'],
    ['a user id outside the id alphabet', '{"userId":"a b"}', 'userId must match ^[A-Za-z0-9_-]{1,64}$'],
  ])('answers 400 to %s', async (_case, body, detail) => {
    // Act
    const response = await routes(request('POST', LOCAL_TOKEN_PATH, body));

    // Assess
    expect(response.statusCode).toBe(400);
    expect(json(response)).toEqual({ detail });
  });

  it('answers 404 to any other dev path or method', async () => {
    expect((await routes(request('GET', LOCAL_TOKEN_PATH))).statusCode).toBe(404);
    expect((await routes(request('GET', '/_local/nothing'))).statusCode).toBe(404);
  });
});
