import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  SignJWT,
  type JWK,
  type JWTPayload,
  type JWTVerifyGetKey,
  type KeyLike,
} from 'jose';
import {
  claimsForEvent,
  createRouteAuthorizers,
  readIdentitySource,
  verifyJwtAsApiGateway,
} from '../../../local/auth/authorizers';
import { LocalIssuer } from '../../../local/auth/local-issuer';

/**
 * The local HTTP API JWT authorizer applies API Gateway's documented rules
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html), with
 * Cognito-shaped ID and access tokens.
 */
const ISSUER = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_local';
const CLIENT_ID = 'app-client-1';
const RULES = { issuer: ISSUER, audience: [CLIENT_ID, 'second-audience'] };

interface Signer {
  alg: string;
  kid: string;
  privateKey: KeyLike;
  jwk: JWK;
}

let rsa: Signer;
let rsa512: Signer;
let ec: Signer;
let keys: JWTVerifyGetKey;

async function signer(alg: string, kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  return { alg, kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const now = (): number => Math.floor(Date.now() / 1000);

/** A Cognito ID token by default: aud = the app client id, token_use id, an hour to live. */
/** `kid: null` leaves the header's kid out. */
async function token(
  claims: JWTPayload = {},
  { key = rsa, kid = key.kid as string | null } = {},
): Promise<string> {
  const payload: JWTPayload = {
    sub: 'user-1',
    iss: ISSUER,
    aud: CLIENT_ID,
    token_use: 'id',
    iat: now(),
    exp: now() + 3600,
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload)
    .setProtectedHeader(kid === null ? { alg: key.alg } : { alg: key.alg, kid })
    .sign(key.privateKey);
}

/** A Cognito access token: no aud, the app client in client_id, token_use access, scopes. */
const accessToken = (claims: JWTPayload = {}): Promise<string> =>
  token({
    aud: undefined,
    client_id: CLIENT_ID,
    token_use: 'access',
    scope: 'aws.cognito.signin.user.admin comments/write',
    ...claims,
  });

beforeAll(async () => {
  rsa = await signer('RS256', 'rsa-1');
  rsa512 = await signer('RS512', 'rsa-2');
  ec = await signer('ES256', 'ec-1');
  keys = createLocalJWKSet({ keys: [rsa.jwk, rsa512.jwk, ec.jwk] });
});

describe('verifyJwtAsApiGateway', () => {
  it.each<[string, () => Promise<string>]>([
    ['a Cognito ID token (aud is the app client id)', () => token()],
    ['a Cognito access token (no aud, client_id is the app client id)', () => accessToken()],
    ['a token whose aud is the second audience entry', () => token({ aud: 'second-audience' })],
    ['a token whose aud list holds an audience entry', () => token({ aud: ['other', CLIENT_ID] })],
    ['a token whose aud matches and client_id does not', () => token({ client_id: 'other-client' })],
    ['an RS512 token', () => token({}, { key: rsa512 })],
    ['a token whose nbf is past', () => token({ nbf: now() - 60 })],
    ['a token without iat', () => token({ iat: undefined })],
  ])('accepts %s', async (_case, mint) => {
    // Act
    const claims = await verifyJwtAsApiGateway(await mint(), keys, RULES);

    // Assess
    expect(claims.sub).toBe('user-1');
  });

  it.each<[string, () => Promise<string>, RegExp]>([
    ['a token without exp', () => token({ exp: undefined }), /missing required "exp" claim/],
    ['an expired token', () => token({ exp: now() - 1 }), /"exp" claim timestamp check failed/],
    ['a token with a future nbf', () => token({ nbf: now() + 600 }), /"nbf" claim timestamp check failed/],
    ['a token issued in the future (iat)', () => token({ iat: now() + 600 }), /issued in the future/],
    [
      'a token whose aud does not match while its client_id does',
      () => token({ aud: 'other-client', client_id: CLIENT_ID }),
      /audience not accepted/,
    ],
    [
      'a token whose aud is an empty list while its client_id matches',
      () => token({ aud: [], client_id: CLIENT_ID }),
      /audience not accepted/,
    ],
    [
      'an access token of another app client',
      () => accessToken({ client_id: 'other-client' }),
      /audience not accepted/,
    ],
    ['a token with neither aud nor client_id', () => token({ aud: undefined }), /audience not accepted/],
    [
      'a token of another issuer',
      () => token({ iss: 'https://evil.example.test' }),
      /unexpected "iss" claim value/,
    ],
    ['a token without iss', () => token({ iss: undefined }), /missing required "iss" claim/],
    ['a token without kid', () => token({}, { kid: null }), /no kid/],
    [
      'a token whose kid the JWKS does not have',
      () => token({}, { kid: 'rsa-9' }),
      /no applicable key found/,
    ],
    [
      'an ES256 token (RSA only)',
      () => token({}, { key: ec }),
      /"alg" \(Algorithm\) Header Parameter value not allowed/,
    ],
    [
      'a token signed by another key under a published kid',
      async () => token({}, { key: { ...rsa, privateKey: (await generateKeyPair('RS256')).privateKey } }),
      /signature verification failed/,
    ],
  ])('refuses %s', async (_case, mint, reason) => {
    // Act
    const verify = verifyJwtAsApiGateway(await mint(), keys, RULES);

    // Assess
    await expect(verify).rejects.toThrow(reason);
  });

  describe('with route scopes', () => {
    it.each<[string, () => Promise<string>]>([
      ['one of them in scope', () => accessToken()],
      ['one of them in scp (a list)', () => accessToken({ scope: undefined, scp: ['comments/write'] })],
      ['one of them in scp (a string)', () => accessToken({ scope: undefined, scp: 'x comments/write' })],
    ])('accepts a token with %s', async (_case, mint) => {
      // Act
      const verify = verifyJwtAsApiGateway(await mint(), keys, {
        ...RULES,
        scopes: ['comments/write', 'admin'],
      });

      // Assess
      await expect(verify).resolves.toMatchObject({ token_use: 'access' });
    });

    it.each<[string, () => Promise<string>]>([
      ['none of them', () => accessToken({ scope: 'aws.cognito.signin.user.admin' })],
      ['no scope at all (an ID token)', () => token()],
      ['a scope that only starts like one', () => accessToken({ scope: 'comments/writer' })],
    ])('refuses a token with %s', async (_case, mint) => {
      // Act
      const verify = verifyJwtAsApiGateway(await mint(), keys, { ...RULES, scopes: ['comments/write'] });

      // Assess
      await expect(verify).rejects.toThrow('no route scope');
    });
  });
});

describe('createRouteAuthorizers', () => {
  let directory: string;
  let issuer: LocalIssuer;

  beforeAll(async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'local-issuer-'));
    issuer = await LocalIssuer.load({
      issuer: 'http://127.0.0.1:1/_local/issuer',
      audience: CLIENT_ID,
      keysFile: path.join(directory, 'keys.json'),
    });
  });

  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  const authorizers = (): ReturnType<typeof createRouteAuthorizers> =>
    createRouteAuthorizers({ localIssuer: issuer, credentials: {} });

  it.each<[string, () => Promise<string>]>([
    ['ID tokens', () => issuer.issueToken('alice')],
    [
      'Cognito-shaped access tokens',
      () =>
        issuer.issueToken('alice', { audience: null, claims: { token_use: 'access', client_id: CLIENT_ID } }),
    ],
  ])('verifies the local issuer’s %s with its own keys', async (_case, mint) => {
    // Act
    const claims = await authorizers().verifyJwt(await mint(), issuer.issuer, [CLIENT_ID]);

    // Assess
    expect(claims).toMatchObject({ sub: 'alice', iss: issuer.issuer });
  });

  it.each<[string, () => Promise<string>]>([
    ['without exp', () => issuer.issueToken('alice', { expiresInSeconds: null })],
    ['expired', () => issuer.issueToken('alice', { expiresInSeconds: -5 })],
    ['not valid yet', () => issuer.issueToken('alice', { claims: { nbf: now() + 600 } })],
    [
      'whose aud is another app though its client_id is ours',
      () => issuer.issueToken('alice', { audience: 'someone-else', claims: { client_id: CLIENT_ID } }),
    ],
  ])('refuses the local issuer’s token %s', async (_case, mint) => {
    // Act
    const verify = authorizers().verifyJwt(await mint(), issuer.issuer, [CLIENT_ID]);

    // Assess
    await expect(verify).rejects.toThrow();
  });
});

describe('claimsForEvent', () => {
  it('hands claims over as strings, lists as "[a b]"', () => {
    // Act
    const claims = claimsForEvent({ sub: 'u', exp: 5, aud: ['a', 'b'], nested: { x: 1 } });

    // Assess
    expect(claims).toEqual({ sub: 'u', exp: '5', aud: '[a b]', nested: '{"x":1}' });
  });
});

describe('readIdentitySource', () => {
  const request = {
    headers: { 'sec-websocket-protocol': 'realtime-comments.v1', authorization: 'Bearer t' },
    query: { token: 'q' },
    context: { connectionId: 'c-1' },
  };

  it.each([
    ['route.request.header.Sec-WebSocket-Protocol', 'realtime-comments.v1'],
    ['$request.header.Authorization', 'Bearer t'],
    ['route.request.querystring.token', 'q'],
    ['context.connectionId', 'c-1'],
    ['route.request.querystring.missing', undefined],
  ])('reads %s', (source, expected) => {
    // Act
    const value = readIdentitySource(source, request);

    // Assess
    expect(value).toBe(expected);
  });
});
