import { InvalidTokenError, type TokenVerifier } from '../../../lambda/shared/token-verifier';
import {
  allowConnect,
  ConnectAuthorizer,
  ConnectRefusedError,
  presentedToken,
} from '../../../lambda/websocket-authorizer/connect-authorizer';
import { METHOD_ARN } from '../fixtures/authorizer-event';

/** Accepts "good-<user>" tokens, refuses "expired" as expired, and fails on "outage". */
const verifier: TokenVerifier = {
  verify: async (token) => {
    if (token.startsWith('good-')) return { userId: token.slice(5), claims: { sub: token.slice(5) } };
    if (token === 'outage') throw new Error('JWKS unreachable');
    throw new InvalidTokenError('expired');
  },
};

async function refusalOf(authorize: Promise<unknown>): Promise<string> {
  const error = await authorize.then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  if (!(error instanceof ConnectRefusedError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error.reason;
}

describe('ConnectAuthorizer', () => {
  it('answers the verified user for a valid token', async () => {
    // Act
    const identity = await new ConnectAuthorizer(verifier, false).authorize('good-user-1');

    // Assess
    expect(identity).toEqual({ anonymous: false, userId: 'user-1' });
  });

  it.each([undefined, ''])(
    'refuses a missing token (%p) when anonymous connections are off',
    async (token) => {
      // Act
      const reason = await refusalOf(new ConnectAuthorizer(verifier, false).authorize(token));

      // Assess
      expect(reason).toBe('missing_token');
    },
  );

  it('lets a tokenless connection in anonymously when they are on', async () => {
    // Act
    const identity = await new ConnectAuthorizer(verifier, true).authorize(undefined);

    // Assess
    expect(identity).toEqual({ anonymous: true });
  });

  it('refuses an invalid token with its reason even when anonymous connections are on', async () => {
    // Act
    const reason = await refusalOf(new ConnectAuthorizer(verifier, true).authorize('stale'));

    // Assess
    expect(reason).toBe('expired');
  });

  it('lets a verifier outage through as it is, not as a refusal', async () => {
    // Act
    const authorize = new ConnectAuthorizer(verifier, true).authorize('outage');

    // Assess
    await expect(authorize).rejects.toThrow('JWKS unreachable');
    await expect(authorize).rejects.not.toBeInstanceOf(ConnectRefusedError);
  });
});

describe('allowConnect', () => {
  it('allows exactly the invoked route for a user, with the user in the context', () => {
    // Act
    const result = allowConnect({ anonymous: false, userId: 'user-1' }, METHOD_ARN);

    // Assess
    expect(result).toEqual({
      principalId: 'user-1',
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }],
      },
      context: { userId: 'user-1', anonymous: 'false' },
    });
  });

  it('allows an anonymous connection as principal "anonymous", without a user id', () => {
    // Act
    const result = allowConnect({ anonymous: true }, METHOD_ARN);

    // Assess
    expect(result.principalId).toBe('anonymous');
    expect(result.context).toEqual({ anonymous: 'true' });
  });
});

describe('presentedToken', () => {
  it.each<[string, string | undefined, string | undefined, string | undefined]>([
    ['the header token', 'realtime-comments.v1, realtime-comments.bearer.h.e.s', undefined, 'h.e.s'],
    ['the query token', undefined, 'q.u.e', 'q.u.e'],
    ['the query token beside a header naming the protocol only', 'realtime-comments.v1', 'q.u.e', 'q.u.e'],
    [
      'the header token beside an empty query token',
      'realtime-comments.v1, realtime-comments.bearer.h',
      '',
      'h',
    ],
    ['nothing without either', undefined, undefined, undefined],
    ['nothing for an empty query token', undefined, '', undefined],
    ['nothing for the protocol alone', 'realtime-comments.v1', undefined, undefined],
  ])('presents %s', (_case, protocolHeader, queryToken, expected) => {
    // Act
    const token = presentedToken({ protocolHeader, queryToken });

    // Assess
    expect(token).toBe(expected);
  });

  it.each<[string, string, string | undefined, string, string | undefined]>([
    [
      'a token in both places',
      'realtime-comments.v1, realtime-comments.bearer.h',
      'q',
      'two_tokens',
      undefined,
    ],
    ['a bad protocol list', 'realtime-comments.bearer.h', undefined, 'bad_protocol_header', 'no_protocol'],
    ['a bad protocol list beside a query token', 'x y', 'q', 'bad_protocol_header', 'not_a_token'],
  ])('refuses %s', (_case, protocolHeader, queryToken, reason, problem) => {
    // Act
    const present = (): unknown => presentedToken({ protocolHeader, queryToken });

    // Assess
    expect(present).toThrow(ConnectRefusedError);
    expect(present).toThrow(expect.objectContaining({ reason, problem }) as Error);
  });
});
