import {
  runRequestAuthorizer,
  type RequestAuthorizerCall,
} from '../../../local/auth/lambda-request-authorizer';
import { FakeLambda, lambdaMap } from '../emulators/fake-lambda';

const METHOD_ARN = 'arn:aws:execute-api:us-east-1:000000000000:WsApi/dev/$connect';
const PROTOCOLS = 'realtime-comments.v1, realtime-comments.bearer.h.p.s';

const allow = {
  principalId: 'user-1',
  policyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Resource: METHOD_ARN }] },
  context: { userId: 'user-1', anonymous: 'false' },
};

function call(authorizer: FakeLambda, overrides: Partial<RequestAuthorizerCall> = {}): RequestAuthorizerCall {
  return {
    authorization: { type: 'CUSTOM', identitySource: ['context.connectionId'], functionKey: 'auth' },
    lambdas: lambdaMap({ auth: authorizer }),
    methodArn: METHOD_ARN,
    headers: { host: 'localhost:3001', 'sec-websocket-protocol': PROTOCOLS },
    query: {},
    requestContext: { connectionId: 'c-1', routeKey: '$connect' },
    log: () => undefined,
    ...overrides,
  };
}

describe('runRequestAuthorizer', () => {
  it('hands the authorizer every header, Sec-WebSocket-Protocol included, in headers and multiValueHeaders', async () => {
    // Prepare
    const authorizer = new FakeLambda(() => allow);

    // Act
    const outcome = await runRequestAuthorizer(
      call(authorizer, {
        query: { token: 'q' },
        multiValueHeaders: {
          host: ['localhost:3001'],
          'sec-websocket-protocol': ['realtime-comments.v1', 'realtime-comments.bearer.h.p.s'],
        },
      }),
    );

    // Assess
    expect(outcome).toEqual({ userId: 'user-1', anonymous: 'false', principalId: 'user-1' });
    expect(authorizer.events[0]).toMatchObject({
      type: 'REQUEST',
      methodArn: METHOD_ARN,
      headers: { 'sec-websocket-protocol': PROTOCOLS },
      multiValueHeaders: {
        'sec-websocket-protocol': ['realtime-comments.v1', 'realtime-comments.bearer.h.p.s'],
      },
      queryStringParameters: { token: 'q' },
      multiValueQueryStringParameters: { token: ['q'] },
      requestContext: { connectionId: 'c-1' },
    });
  });

  it('derives multiValueHeaders from the headers when not given', async () => {
    // Prepare
    const authorizer = new FakeLambda(() => allow);

    // Act
    await runRequestAuthorizer(call(authorizer));

    // Assess
    expect(authorizer.events[0]?.multiValueHeaders).toEqual({
      host: ['localhost:3001'],
      'sec-websocket-protocol': [PROTOCOLS],
    });
  });

  it('invokes the authorizer without any token when the identity source is the connection id', async () => {
    // Prepare
    const authorizer = new FakeLambda(() => allow);

    // Act
    const outcome = await runRequestAuthorizer(call(authorizer, { headers: { host: 'localhost:3001' } }));

    // Assess
    expect(authorizer.invoke).toHaveBeenCalledTimes(1);
    expect(typeof outcome).toBe('object');
  });

  it.each([
    ['a header', 'route.request.header.Sec-WebSocket-Protocol'],
    ['a query parameter', 'route.request.querystring.token'],
  ])(
    'answers 401 without invoking the authorizer when %s named as identity source is missing',
    async (_case, source) => {
      // Prepare
      const authorizer = new FakeLambda(() => allow);

      // Act
      const outcome = await runRequestAuthorizer(
        call(authorizer, {
          authorization: { type: 'CUSTOM', identitySource: [source], functionKey: 'auth' },
          headers: { host: 'localhost:3001' },
        }),
      );

      // Assess
      expect(outcome).toBe(401);
      expect(authorizer.invoke).not.toHaveBeenCalled();
    },
  );

  it.each<[string, number, () => unknown]>([
    ['throws Unauthorized', 401, () => Promise.reject(new Error('Unauthorized'))],
    ['fails otherwise', 500, () => Promise.reject(new Error('JWKS down'))],
    ['denies', 403, () => ({ principalId: 'x', policyDocument: { Statement: [{ Effect: 'Deny' }] } })],
  ])('answers an authorizer that %s with %i', async (_case, status, respond) => {
    // Prepare
    const authorizer = new FakeLambda(respond);

    // Act
    const outcome = await runRequestAuthorizer(call(authorizer));

    // Assess
    expect(outcome).toBe(status);
  });
});
