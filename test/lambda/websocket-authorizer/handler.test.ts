import { offeredProtocols, TOKEN_PROTOCOL_PREFIX } from '../../../contracts/websocket-auth';
import { connectAuthorizerEvent, METHOD_ARN } from '../fixtures/authorizer-event';
import { startTokenIssuer, type TestTokenIssuer } from '../fixtures/token-issuer';

type HandlerModule = typeof import('../../../lambda/websocket-authorizer/handler');
type TelemetryModule = typeof import('../../../lambda/shared/telemetry');

/** A cold-started handler and the logger and metrics of its own module registry, to spy on. */
type Loaded = Pick<HandlerModule, 'handler'> & Pick<TelemetryModule, 'logger' | 'metrics'>;

const AUTH_VARIABLES = ['AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_URL', 'ALLOW_ANONYMOUS_SUBSCRIBERS'];

let issuer: TestTokenIssuer;
let handler: Loaded['handler'];
let logger: Loaded['logger'];
let metrics: Loaded['metrics'];

/** Loads a fresh copy of the module with these variables, as a cold start would. */
function coldStart(env: Record<string, string | undefined>): Loaded {
  for (const name of AUTH_VARIABLES) delete process.env[name];
  for (const [name, value] of Object.entries(env)) if (value !== undefined) process.env[name] = value;
  let loaded: Loaded | undefined;
  jest.isolateModules(() => {
    const telemetry = jest.requireActual<TelemetryModule>('../../../lambda/shared/telemetry');
    const module = jest.requireActual<HandlerModule>('../../../lambda/websocket-authorizer/handler');
    loaded = { handler: module.handler, logger: telemetry.logger, metrics: telemetry.metrics };
  });
  if (!loaded) throw new Error('handler did not load');
  return loaded;
}

function authEnv(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    AUTH_ISSUER: issuer.issuer,
    AUTH_AUDIENCE: issuer.audience,
    AUTH_JWKS_URL: issuer.jwksUrl,
    ALLOW_ANONYMOUS_SUBSCRIBERS: 'false',
    ...extra,
  };
}

/** Everything the logger was asked to write, as one string. */
function loggedText(...spies: jest.SpyInstance[]): string {
  return JSON.stringify(spies.flatMap((spy) => spy.mock.calls));
}

beforeAll(async () => {
  issuer = await startTokenIssuer();
  ({ handler, logger, metrics } = coldStart(authEnv()));
});

afterAll(async () => {
  await issuer.close();
});

afterEach(() => {
  jest.restoreAllMocks();
});

describe('WebSocket authorizer handler', () => {
  it('allows a valid token, logs the user and counts AuthorizerAllowed', async () => {
    // Prepare
    const token = await issuer.mint({ claims: { sub: 'user-9' } });
    const info = jest.spyOn(logger, 'info');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const result = await handler(connectAuthorizerEvent({ token }));

    // Assess
    expect(result).toEqual({
      principalId: 'user-9',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }],
      },
      context: { userId: 'user-9', anonymous: 'false' },
    });
    expect(info).toHaveBeenCalledWith(
      'Connection authorized',
      expect.objectContaining({ connectionId: 'conn-1', userId: 'user-9', anonymous: false }),
    );
    expect(addMetric).toHaveBeenCalledWith('AuthorizerAllowed', 'Count', 1);
    expect(loggedText(info)).not.toContain(token);
  });

  it('refuses an expired token with "Unauthorized", logs the reason but never the token, counts AuthorizerDenied', async () => {
    // Prepare
    const token = await issuer.mint({ exp: Math.floor(Date.now() / 1000) - 5 });
    const warn = jest.spyOn(logger, 'warn');
    const info = jest.spyOn(logger, 'info');
    const error = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const authorize = handler(connectAuthorizerEvent({ token }));

    // Assess
    await expect(authorize).rejects.toThrow(/^Unauthorized$/);
    expect(warn).toHaveBeenCalledWith('Connection refused', { connectionId: 'conn-1', reason: 'expired' });
    expect(addMetric).toHaveBeenCalledWith('AuthorizerDenied', 'Count', 1);
    expect(loggedText(warn, info, error)).not.toContain(token.split('.')[1]);
  });

  it('answers an outage of the key set with a non-401 error, logged and counted as AuthorizerErrors', async () => {
    // Prepare
    const broken = coldStart(authEnv({ AUTH_JWKS_URL: `${issuer.jwksUrl}.missing` }));
    const error = jest.spyOn(broken.logger, 'error');
    const addMetric = jest.spyOn(broken.metrics, 'addMetric');

    // Act
    const authorize = broken.handler(connectAuthorizerEvent({ token: await issuer.mint() }));

    // Assess
    await expect(authorize).rejects.toThrow('Authorizer unavailable');
    expect(error).toHaveBeenCalledWith(
      'Authorizer failed',
      expect.objectContaining({ connectionId: 'conn-1' }),
    );
    expect(addMetric).toHaveBeenCalledWith('AuthorizerErrors', 'Count', 1);
    expect(addMetric).not.toHaveBeenCalledWith('AuthorizerDenied', 'Count', 1);
  });

  it('reads the token from the query string only, not from an Authorization header', async () => {
    // Prepare
    const event = connectAuthorizerEvent(null);
    event.headers = { ...event.headers, Authorization: `Bearer ${await issuer.mint()}` };

    // Act
    const authorize = handler(event);

    // Assess
    await expect(authorize).rejects.toThrow(/^Unauthorized$/);
  });

  describe('with the token in Sec-WebSocket-Protocol', () => {
    /** The header a browser sends for `new WebSocket(url, offeredProtocols(token))`. */
    const header = (token?: string): string => offeredProtocols(token).join(', ');

    it('allows a valid token, exactly as from the query string, and never logs it', async () => {
      // Prepare
      const token = await issuer.mint({ claims: { sub: 'user-9' } });
      const info = jest.spyOn(logger, 'info');

      // Act
      const fromHeader = await handler(connectAuthorizerEvent(null, header(token)));
      const fromQuery = await handler(connectAuthorizerEvent({ token }));

      // Assess
      expect(fromHeader).toEqual(fromQuery);
      expect(fromHeader.context).toEqual({ userId: 'user-9', anonymous: 'false' });
      expect(loggedText(info)).not.toContain(token.split('.')[1]);
    });

    it('takes the query token when the header names the protocol only', async () => {
      // Prepare
      const token = await issuer.mint({ claims: { sub: 'user-3' } });

      // Act
      const result = await handler(connectAuthorizerEvent({ token }, header()));

      // Assess
      expect(result.principalId).toBe('user-3');
    });

    it.each<[string, () => Promise<string>]>([
      ['an expired token', () => issuer.mint({ exp: Math.floor(Date.now() / 1000) - 5 })],
      ['a forged token', () => issuer.mint({ forged: true })],
      ['garbage', () => Promise.resolve('not-a-jwt')],
    ])('refuses %s in the header with "Unauthorized"', async (_case, mint) => {
      // Act
      const authorize = handler(connectAuthorizerEvent(null, header(await mint())));

      // Assess
      await expect(authorize).rejects.toThrow(/^Unauthorized$/);
    });

    it('refuses the protocol without a token when anonymous connections are off', async () => {
      // Prepare
      const warn = jest.spyOn(logger, 'warn');

      // Act
      const authorize = handler(connectAuthorizerEvent(null, header()));

      // Assess
      await expect(authorize).rejects.toThrow(/^Unauthorized$/);
      expect(warn).toHaveBeenCalledWith('Connection refused', {
        connectionId: 'conn-1',
        reason: 'missing_token',
      });
    });

    it('refuses a token in the header and another in the query string, logging two_tokens', async () => {
      // Prepare
      const token = await issuer.mint();
      const warn = jest.spyOn(logger, 'warn');

      // Act
      const authorize = handler(connectAuthorizerEvent({ token }, header(token)));

      // Assess
      await expect(authorize).rejects.toThrow(/^Unauthorized$/);
      expect(warn).toHaveBeenCalledWith('Connection refused', {
        connectionId: 'conn-1',
        reason: 'two_tokens',
      });
    });

    it.each<[string, (token: string) => string, string]>([
      [
        'several tokens',
        (t) => `realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}${t}, ${TOKEN_PROTOCOL_PREFIX}${t}x`,
        'several_tokens',
      ],
      ['no protocol name', (t) => `${TOKEN_PROTOCOL_PREFIX}${t}`, 'no_protocol'],
      [
        'an unknown version',
        (t) => `realtime-comments.v9, ${TOKEN_PROTOCOL_PREFIX}${t}`,
        'unsupported_version',
      ],
      ['a token without the prefix', (t) => `realtime-comments.v1, ${t}`, 'unknown_entry'],
      [
        'an overly long value',
        (t) => `realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}${t}${'a'.repeat(10_000)}`,
        'too_long',
      ],
      ['an empty entry', (t) => `realtime-comments.v1, , ${TOKEN_PROTOCOL_PREFIX}${t}`, 'empty_entry'],
      [
        'characters outside an HTTP token',
        (t) => `realtime-comments.v1, ${TOKEN_PROTOCOL_PREFIX}${t}==`,
        'not_a_token',
      ],
      ['an empty header', () => '', 'empty_entry'],
    ])(
      'refuses a protocol list with %s as 401 (Unauthorized, never a 500), logging the problem only',
      async (_case, list, problem) => {
        // Prepare
        const token = await issuer.mint();
        const warn = jest.spyOn(logger, 'warn');
        const error = jest.spyOn(logger, 'error');
        const addMetric = jest.spyOn(metrics, 'addMetric');

        // Act
        const authorize = handler(connectAuthorizerEvent({}, list(token)));

        // Assess
        await expect(authorize).rejects.toThrow(/^Unauthorized$/);
        expect(warn).toHaveBeenCalledWith('Connection refused', {
          connectionId: 'conn-1',
          reason: 'bad_protocol_header',
          problem,
        });
        expect(addMetric).toHaveBeenCalledWith('AuthorizerDenied', 'Count', 1);
        expect(addMetric).not.toHaveBeenCalledWith('AuthorizerErrors', 'Count', 1);
        expect(error).not.toHaveBeenCalled();
        expect(loggedText(warn)).not.toContain(token.split('.')[1]);
      },
    );

    it('refuses a bad protocol list even when anonymous connections are allowed', async () => {
      // Prepare
      const anonymous = coldStart(authEnv({ ALLOW_ANONYMOUS_SUBSCRIBERS: 'true' }));

      // Act
      const authorize = anonymous.handler(connectAuthorizerEvent(null, 'realtime-comments.v2'));
      const allowed = await anonymous.handler(connectAuthorizerEvent(null, header()));

      // Assess
      await expect(authorize).rejects.toThrow(/^Unauthorized$/);
      expect(allowed.context).toEqual({ anonymous: 'true' });
    });
  });

  describe('cold start', () => {
    afterAll(() => {
      coldStart(authEnv());
    });

    it.each(['AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_URL', 'ALLOW_ANONYMOUS_SUBSCRIBERS'])(
      'fails naming %s when it is missing',
      (name) => {
        // Act
        const load = (): unknown => coldStart(authEnv({ [name]: undefined }));

        // Assess
        expect(load).toThrow(`Missing required environment variable ${name}`);
      },
    );

    it('fails on an ALLOW_ANONYMOUS_SUBSCRIBERS that is neither "true" nor "false"', () => {
      // Act
      const load = (): unknown => coldStart(authEnv({ ALLOW_ANONYMOUS_SUBSCRIBERS: 'yes' }));

      // Assess
      expect(load).toThrow('ALLOW_ANONYMOUS_SUBSCRIBERS must be "true" or "false"');
    });

    it('fails on a JWKS URL over plain http to a remote host', () => {
      // Act
      const load = (): unknown =>
        coldStart(authEnv({ AUTH_JWKS_URL: 'http://issuer.example.test/jwks.json' }));

      // Assess
      expect(load).toThrow('AUTH_JWKS_URL must be an https URL');
    });
  });
});
