import { createLocalJWKSet, SignJWT } from 'jose';
import {
  authConfigFromEnv,
  InvalidTokenError,
  JwksTokenVerifier,
  MAX_TOKEN_LENGTH,
  type InvalidTokenReason,
} from '../../../lambda/shared/token-verifier';
import {
  startTokenIssuer,
  tamperedToken,
  unsignedToken,
  type MintOptions,
  type TestTokenIssuer,
} from '../fixtures/token-issuer';

let issuer: TestTokenIssuer;
let verifier: JwksTokenVerifier;

beforeAll(async () => {
  issuer = await startTokenIssuer();
  verifier = new JwksTokenVerifier(issuer);
});

afterAll(async () => {
  await issuer.close();
});

async function refusal(token: string, using: JwksTokenVerifier = verifier): Promise<InvalidTokenReason> {
  const error: unknown = await using.verify(token).then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  if (!(error instanceof InvalidTokenError))
    throw new Error(`expected InvalidTokenError, got ${String(error)}`);
  return error.reason;
}

describe('JwksTokenVerifier', () => {
  const now = (): number => Math.floor(Date.now() / 1000);

  it.each<[string, MintOptions]>([
    ['an RS256 token whose aud is the audience', {}],
    ['an RS512 token', { alg: 'RS512' }],
    ['a token whose aud list includes the audience', { claims: { aud: ['other', 'comments-client'] } }],
    [
      'a Cognito ID token: aud is the app client id, token_use id',
      { claims: { aud: 'comments-client', token_use: 'id', 'cognito:username': 'user-42' } },
    ],
    [
      'a Cognito access token: no aud, client_id is the audience, token_use access',
      {
        claims: {
          aud: undefined,
          client_id: 'comments-client',
          token_use: 'access',
          scope: 'aws.cognito.signin.user.admin',
        },
      },
    ],
    [
      'a token whose aud matches, whatever its client_id (aud is evaluated, client_id ignored)',
      { claims: { client_id: 'other-client' } },
    ],
    ['a token whose nbf and iat are now', { claims: { nbf: now(), iat: now() } }],
    ['a token whose nbf is past', { claims: { nbf: now() - 60 } }],
    ['a token without iat', { claims: { iat: undefined } }],
  ])('accepts %s, with sub as the user id', async (_case, options) => {
    // Prepare
    const token = await issuer.mint({ ...options, claims: { sub: 'user-42', ...options.claims } });

    // Act
    const identity = await verifier.verify(token);

    // Assess
    expect(identity.userId).toBe('user-42');
    expect(identity.claims).toMatchObject({ sub: 'user-42', iss: issuer.issuer });
  });

  it('fetches the key set over HTTP once and reuses it', async () => {
    // Prepare
    const fresh = new JwksTokenVerifier(issuer);
    const before = issuer.jwksRequests();

    // Act
    await fresh.verify(await issuer.mint());
    await fresh.verify(await issuer.mint({ claims: { sub: 'user-2' } }));

    // Assess
    expect(issuer.jwksRequests() - before).toBe(1);
  });

  it.each<[string, InvalidTokenReason, () => Promise<string>]>([
    ['an expired token', 'expired', () => issuer.mint({ exp: Math.floor(Date.now() / 1000) - 60 })],
    ['a token without exp', 'malformed', () => issuer.mint({ exp: null })],
    [
      'a token not valid yet',
      'not_yet_valid',
      () => issuer.mint({ claims: { nbf: Math.floor(Date.now() / 1000) + 600 } }),
    ],
    [
      'a token signed by a key the issuer does not publish',
      'bad_signature',
      () => issuer.mint({ forged: true }),
    ],
    [
      'an ES256 token (API Gateway takes RSA only), signed by a published key',
      'bad_signature',
      () => issuer.mint({ alg: 'ES256' }),
    ],
    ['an ES256 forgery', 'bad_signature', () => issuer.mint({ alg: 'ES256', forged: true })],
    ['a token without kid', 'malformed', () => issuer.mint({ noKid: true })],
    [
      'a token issued in the future (iat)',
      'not_yet_valid',
      () => issuer.mint({ claims: { iat: Math.floor(Date.now() / 1000) + 600 } }),
    ],
    [
      'a valid token whose payload was swapped',
      'bad_signature',
      async () =>
        tamperedToken(await issuer.mint(), { sub: 'admin', aud: 'comments-client', iss: issuer.issuer }),
    ],
    [
      'an unsigned token (alg none)',
      'bad_signature',
      async () =>
        unsignedToken({ sub: 'admin', aud: 'comments-client', iss: issuer.issuer, exp: 9999999999 }),
    ],
    [
      'an HS256 token keyed with a guessable secret',
      'bad_signature',
      () =>
        new SignJWT({ sub: 'admin', aud: 'comments-client' })
          .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
          .setIssuer(issuer.issuer)
          .setExpirationTime('10m')
          .sign(new TextEncoder().encode('secret')),
    ],
    ['a token of another issuer', 'wrong_issuer', () => issuer.mint({ iss: 'https://evil.example.test' })],
    [
      'a token for another audience',
      'wrong_audience',
      () => issuer.mint({ claims: { aud: 'other-client' } }),
    ],
    [
      'a token with neither aud nor client_id',
      'wrong_audience',
      () => issuer.mint({ claims: { aud: undefined } }),
    ],
    [
      'a token whose client_id is another app',
      'wrong_audience',
      () => issuer.mint({ claims: { aud: undefined, client_id: 'other-client' } }),
    ],
    [
      'a token whose aud is another app, even though its client_id is ours',
      'wrong_audience',
      () => issuer.mint({ claims: { aud: 'other-client', client_id: 'comments-client' } }),
    ],
    [
      'a token whose aud is an empty list, even though its client_id is ours',
      'wrong_audience',
      () => issuer.mint({ claims: { aud: [], client_id: 'comments-client' } }),
    ],
    ['a token without sub', 'malformed', () => issuer.mint({ claims: { sub: undefined } })],
    ['a token whose sub is not of the id format', 'malformed', () => issuer.mint({ claims: { sub: 'a|b' } })],
    [
      'a token whose sub is over 64 characters',
      'malformed',
      () => issuer.mint({ claims: { sub: 'u'.repeat(65) } }),
    ],
    ['an empty string', 'malformed', async () => ''],
    ['garbage', 'malformed', async () => 'not-a-jwt'],
    ['three parts of garbage', 'malformed', async () => 'a.b.c'],
    ['a token over the size limit', 'malformed', async () => 'a'.repeat(MAX_TOKEN_LENGTH + 1)],
  ])('refuses %s as %s', async (_case, reason, token) => {
    // Act
    const actual = await refusal(await token());

    // Assess
    expect(actual).toBe(reason);
  });

  it('refuses with a message that carries the reason and nothing of the token', async () => {
    // Prepare
    const token = await issuer.mint({ exp: Math.floor(Date.now() / 1000) - 60 });

    // Act
    const error = await verifier.verify(token).catch((rejection: unknown) => rejection);

    // Assess
    expect(error).toBeInstanceOf(InvalidTokenError);
    expect((error as Error).message).toBe('Invalid token: expired');
  });

  it('accepts an injected key set instead of the remote one', async () => {
    // Prepare
    const response = await fetch(issuer.jwksUrl);
    const local = new JwksTokenVerifier(
      { issuer: issuer.issuer, audience: issuer.audience, jwksUrl: 'https://unused.example.test/jwks' },
      createLocalJWKSet((await response.json()) as Parameters<typeof createLocalJWKSet>[0]),
    );

    // Act
    const identity = await local.verify(await issuer.mint({ claims: { sub: 'user-7' } }));

    // Assess
    expect(identity.userId).toBe('user-7');
  });

  it('rejects with the outage itself, not InvalidTokenError, when the key set cannot be fetched', async () => {
    // Prepare
    const unreachable = new JwksTokenVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      jwksUrl: issuer.jwksUrl.replace('/.well-known/jwks.json', '/missing'),
    });

    // Act
    const error = await unreachable.verify(await issuer.mint()).catch((rejection: unknown) => rejection);

    // Assess
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(InvalidTokenError);
  });

  it.each([
    ['not a URL', 'jwks.json', 'must be an absolute URL'],
    ['plain http to a remote host', 'http://issuer.example.test/jwks.json', 'must be an https URL'],
    ['another scheme', 'file:///etc/jwks.json', 'must be an https URL'],
  ])('refuses a JWKS URL that is %s', (_case, jwksUrl, message) => {
    // Act
    const build = (): unknown => new JwksTokenVerifier({ issuer: 'https://i', audience: 'a', jwksUrl });

    // Assess
    expect(build).toThrow(message);
  });

  it.each(['http://localhost:3001/jwks.json', 'http://127.0.0.1:9/jwks.json', 'https://x.example.test/jwks'])(
    'accepts the JWKS URL %s',
    (jwksUrl) => {
      // Act
      const build = (): unknown => new JwksTokenVerifier({ issuer: 'https://i', audience: 'a', jwksUrl });

      // Assess
      expect(build).not.toThrow();
    },
  );
});

describe('authConfigFromEnv', () => {
  const env = {
    AUTH_ISSUER: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc',
    AUTH_AUDIENCE: 'client-1',
    AUTH_JWKS_URL: 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/jwks.json',
  };

  it('reads the issuer, audience and JWKS URL', () => {
    // Act
    const config = authConfigFromEnv(env);

    // Assess
    expect(config).toEqual({ issuer: env.AUTH_ISSUER, audience: 'client-1', jwksUrl: env.AUTH_JWKS_URL });
  });

  it.each(['AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_URL'])('fails naming %s when it is missing', (name) => {
    // Act
    const read = (): unknown => authConfigFromEnv({ ...env, [name]: undefined });

    // Assess
    expect(read).toThrow(`Missing required environment variable ${name}`);
  });
});
