import crypto from 'node:crypto';
import { once } from 'node:events';
import { createServer, type ClientRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  LimitExceededException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { WebSocket } from 'ws';
import type { RouteAuthorizers } from '../../../local/auth/authorizers';
import { NO_FAULTS, type FaultSettings } from '../../../local/devtools/faults';
import { verifySigV4 } from '../../../local/auth/sigv4-verifier';
import type { LocalApi } from '../../../local/cloudformation/local-model';
import { MAX_MESSAGE_BYTES } from '../../../local/emulators/websocket-api';
import {
  LocalWebSocketGateway,
  type WebSocketGatewayOptions,
} from '../../../local/emulators/websocket-gateway';
import { FakeLambda, lambdaMap, waitUntil } from './fake-lambda';

const STAGE = 'dev';
/** The only key the gateway's SigV4 check knows, and what the Management API client signs with. */
const CREDENTIALS = { accessKeyId: 'LOCALTESTKEY', secretAccessKey: 'local-test-secret' };

const authorizers: RouteAuthorizers = {
  verifyJwt: () => Promise.reject(new Error('unexpected JWT check')),
  verifyIam: (request) => verifySigV4(request, { [CREDENTIALS.accessKeyId]: CREDENTIALS.secretAccessKey }),
};

const api: LocalApi = {
  key: 'App/WsApi',
  logicalId: 'WsApi',
  stackName: 'App',
  name: 'ws',
  protocol: 'WEBSOCKET',
  stageName: STAGE,
  routeSelectionExpression: '$request.body.action',
  routes: [
    { routeKey: '$connect', functionKey: 'connect', authorization: { type: 'NONE' } },
    { routeKey: '$disconnect', functionKey: 'disconnect', authorization: { type: 'NONE' } },
    { routeKey: '$default', functionKey: 'default', authorization: { type: 'NONE' } },
    { routeKey: 'subscribe', functionKey: 'subscribe', authorization: { type: 'NONE' } },
  ],
};

let lambdas: Record<'connect' | 'disconnect' | 'default' | 'subscribe', FakeLambda>;
let faults: FaultSettings;
let gateway: LocalWebSocketGateway;
let server: Server;
let port: number;
let management: ApiGatewayManagementApiClient;
const otherClients: ApiGatewayManagementApiClient[] = [];
const sockets: WebSocket[] = [];

/** A real HTTP server in front of the gateway, wired as the local stack wires its gateway port. */
async function startGateway(options: Partial<WebSocketGatewayOptions> = {}): Promise<void> {
  gateway = new LocalWebSocketGateway({
    api,
    lambdas: lambdaMap(lambdas),
    domainName: 'localhost',
    accountId: '000000000000',
    region: 'us-east-1',
    authorizers,
    faults: () => faults,
    ...options,
  });
  server = createServer((req, res) => {
    if (!gateway.handleManagement(req, res)) res.writeHead(404).end();
  });
  server.on('upgrade', (req, socket, head) => {
    if (!gateway.handleUpgrade(req, socket, head)) socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  management = new ApiGatewayManagementApiClient({
    endpoint: `http://127.0.0.1:${port}/${STAGE}`,
    region: 'us-east-1',
    credentials: CREDENTIALS,
    maxAttempts: 1,
  });
}

function openSocket(query = '', headers: Record<string, string> = {}): WebSocket {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/${STAGE}${query}`, { headers });
  sockets.push(socket);
  return socket;
}

/** Opens a client and returns it with the connection id the $connect route was given. */
async function connect(query = ''): Promise<{ socket: WebSocket; connectionId: string }> {
  const socket = openSocket(query);
  await once(socket, 'open');
  // $connect runs before the upgrade completes, so its event is recorded by now.
  const event = lambdas.connect.events.at(-1);
  if (!event) throw new Error('$connect was not invoked');
  return { socket, connectionId: event.requestContext.connectionId };
}

const nextMessage = async (socket: WebSocket): Promise<string> => {
  const [data] = (await once(socket, 'message')) as [Buffer];
  return data.toString('utf8');
};

const closeOf = async (socket: WebSocket): Promise<number> => {
  const [code] = (await once(socket, 'close')) as [number];
  return code;
};

beforeEach(() => {
  faults = { ...NO_FAULTS };
  lambdas = {
    connect: new FakeLambda((event) =>
      (event.queryStringParameters as Record<string, string> | undefined)?.token === 'bad'
        ? { statusCode: 401 }
        : { statusCode: 200 },
    ),
    disconnect: new FakeLambda(() => ({ statusCode: 200 })),
    default: new FakeLambda(() => ({ statusCode: 200 })),
    subscribe: new FakeLambda((event) => {
      if (event.body === '{"action":"subscribe","postId":"boom"}') throw new Error('subscribe failed');
      return { statusCode: 200 };
    }),
  };
});

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.terminate();
  for (const client of [management, ...otherClients.splice(0)]) client?.destroy();
  await gateway?.stop();
  server?.closeAllConnections();
  if (server?.listening) await new Promise((resolve) => server.close(resolve));
  jest.restoreAllMocks();
});

describe('LocalWebSocketGateway connections', () => {
  beforeEach(() => startGateway());

  it('runs $connect with the query, the headers and a CONNECT request context', async () => {
    // Act
    const { connectionId } = await connect('?postId=p1&token=ok');

    // Assess
    expect(lambdas.connect.invoke).toHaveBeenCalledTimes(1);
    expect(lambdas.connect.events[0]).toMatchObject({
      queryStringParameters: { postId: 'p1', token: 'ok' },
      headers: { host: `127.0.0.1:${port}`, upgrade: 'websocket' },
      isBase64Encoded: false,
      requestContext: {
        routeKey: '$connect',
        eventType: 'CONNECT',
        connectionId,
        stage: STAGE,
        apiId: 'WsApi',
        domainName: 'localhost',
      },
    });
    expect(connectionId).toMatch(/^[A-Za-z0-9+_]{11}=$/);
    expect(gateway.connectionCount).toBe(1);
  });

  it('passes the client headers to $connect', async () => {
    // Prepare
    const socket = openSocket('', { 'x-user-id': 'user-7' });

    // Act
    await once(socket, 'open');

    // Assess
    expect(lambdas.connect.events[0]?.headers).toMatchObject({ 'x-user-id': 'user-7' });
  });

  it('refuses the upgrade with the status a non-2xx $connect answers', async () => {
    // Prepare
    const socket = openSocket('?token=bad');
    socket.on('error', () => undefined);

    // Act
    const [request, response] = (await once(socket, 'unexpected-response')) as [
      ClientRequest,
      IncomingMessage,
    ];
    response.resume();
    request.destroy();

    // Assess
    expect(response.statusCode).toBe(401);
    expect(gateway.connectionCount).toBe(0);
  });

  it('gives each connection its own id', async () => {
    // Act
    const first = await connect();
    const second = await connect();

    // Assess
    expect(first.connectionId).not.toBe(second.connectionId);
    expect(gateway.connectionCount).toBe(2);
  });

  it('runs $disconnect with the same connection id when the client closes', async () => {
    // Prepare
    const { socket, connectionId } = await connect();

    // Act
    socket.close(1000, 'bye');

    // Assess
    const event = await lambdas.disconnect.waitForEvent();
    expect(event).toMatchObject({
      requestContext: {
        routeKey: '$disconnect',
        eventType: 'DISCONNECT',
        connectionId,
        disconnectStatusCode: 1000,
        disconnectReason: 'bye',
      },
    });
    expect(gateway.connectionCount).toBe(0);
  });

  it('does not run $disconnect when the dropDisconnect fault is on', async () => {
    // Prepare
    faults = { ...faults, dropDisconnect: true };
    const { socket } = await connect();

    // Act
    socket.close();
    await waitUntil(() => gateway.connectionCount === 0);

    // Assess
    expect(lambdas.disconnect.invoke).not.toHaveBeenCalled();
  });
});

describe('LocalWebSocketGateway subprotocols', () => {
  const TOKEN_VALUE = 'realtime-comments.bearer.aGVhZGVy.cGF5bG9hZA.c2ln';

  /** Opens a socket offering these subprotocols; resolves with the handshake's answer and its outcome. */
  async function handshake(
    protocols: string[],
  ): Promise<{ socket: WebSocket; answered: string | undefined; outcome: 'open' | Error }> {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/${STAGE}`, protocols);
    sockets.push(socket);
    let answered: string | undefined;
    socket.once('upgrade', (response: IncomingMessage) => {
      answered = response.headers['sec-websocket-protocol'] as string | undefined;
    });
    const outcome = await new Promise<'open' | Error>((resolve) => {
      socket.once('open', () => resolve('open'));
      socket.once('error', (error) => resolve(error));
    });
    return { socket, answered, outcome };
  }

  it('answers the upgrade with the protocol the $connect integration returned', async () => {
    // Prepare
    lambdas.connect = new FakeLambda(() => ({
      statusCode: 200,
      headers: { 'Sec-WebSocket-Protocol': 'realtime-comments.v1' },
    }));
    await startGateway();

    // Act
    const { socket, answered, outcome } = await handshake([TOKEN_VALUE, 'realtime-comments.v1']);

    // Assess
    expect(outcome).toBe('open');
    expect(answered).toBe('realtime-comments.v1');
    expect(socket.protocol).toBe('realtime-comments.v1');
    expect(lambdas.connect.events[0]?.headers).toMatchObject({
      'sec-websocket-protocol': `${TOKEN_VALUE},realtime-comments.v1`,
    });
    expect(lambdas.connect.events[0]?.multiValueHeaders).toMatchObject({
      'sec-websocket-protocol': [`${TOKEN_VALUE},realtime-comments.v1`],
    });
  });

  it('sends no protocol (never the first one offered) when the integration returned none: the client fails the handshake, and $disconnect runs', async () => {
    // Prepare
    const logged: string[] = [];
    await startGateway({ log: (message) => logged.push(message) });

    // Act
    const { answered, outcome } = await handshake([TOKEN_VALUE, 'realtime-comments.v1']);

    // Assess
    expect(answered).toBeUndefined();
    expect(outcome).toEqual(expect.objectContaining({ message: 'Server sent no subprotocol' }));
    await lambdas.disconnect.waitForEvent();
    await waitUntil(() => gateway.connectionCount === 0);
    expect(logged.join('\n')).toContain('browsers fail this handshake');
    expect(logged.join('\n')).not.toContain(TOKEN_VALUE);
  });

  it('passes on a protocol the client did not offer, which the client refuses', async () => {
    // Prepare
    lambdas.connect = new FakeLambda(() => ({
      statusCode: 200,
      headers: { 'sec-websocket-protocol': 'other.v1' },
    }));
    await startGateway();

    // Act
    const { answered, outcome } = await handshake(['realtime-comments.v1']);

    // Assess
    expect(answered).toBe('other.v1');
    expect(outcome).toEqual(expect.objectContaining({ message: 'Server sent an invalid subprotocol' }));
  });

  it('sends no protocol header to a client that offered none', async () => {
    // Prepare
    lambdas.connect = new FakeLambda(() => ({
      statusCode: 200,
      headers: { 'Sec-WebSocket-Protocol': 'realtime-comments.v1' },
    }));
    await startGateway();

    // Act
    const { answered, outcome } = await handshake([]);

    // Assess
    expect(outcome).toBe('open');
    expect(answered).toBeUndefined();
  });

  it('hands Sec-WebSocket-Protocol to the $connect authorizer and refuses with its 401', async () => {
    // Prepare
    const authorizer = new FakeLambda((event) =>
      (event.headers as Record<string, string>)['sec-websocket-protocol']?.includes('bearer.good')
        ? {
            principalId: 'u1',
            policyDocument: { Statement: [{ Effect: 'Allow' }] },
            context: { userId: 'u1' },
          }
        : Promise.reject(new Error('Unauthorized')),
    );
    lambdas.connect = new FakeLambda(() => ({
      statusCode: 200,
      headers: { 'Sec-WebSocket-Protocol': 'realtime-comments.v1' },
    }));
    await startGateway({
      api: {
        ...api,
        routes: api.routes.map((route) =>
          route.routeKey === '$connect'
            ? {
                ...route,
                authorization: {
                  type: 'CUSTOM',
                  identitySource: ['context.connectionId'],
                  functionKey: 'authorizer',
                },
              }
            : route,
        ),
      },
      lambdas: lambdaMap({ ...lambdas, authorizer }),
    });

    // Act
    const good = await handshake(['realtime-comments.v1', 'realtime-comments.bearer.good']);
    const bad = await handshake(['realtime-comments.v1', 'realtime-comments.bearer.bad']);

    // Assess
    expect(good.outcome).toBe('open');
    expect(authorizer.events[0]).toMatchObject({
      type: 'REQUEST',
      headers: { 'sec-websocket-protocol': 'realtime-comments.v1,realtime-comments.bearer.good' },
      multiValueHeaders: { 'sec-websocket-protocol': ['realtime-comments.v1,realtime-comments.bearer.good'] },
    });
    expect(lambdas.connect.events[0]?.requestContext).toMatchObject({ authorizer: { userId: 'u1' } });
    expect(bad.outcome).toEqual(expect.objectContaining({ message: 'Unexpected server response: 401' }));
    expect(lambdas.connect.invoke).toHaveBeenCalledTimes(1);
  });
});

describe('LocalWebSocketGateway messages', () => {
  beforeEach(() => startGateway());

  it('routes a message on its action', async () => {
    // Prepare
    const { socket, connectionId } = await connect();
    const body = JSON.stringify({ action: 'subscribe', postId: 'p1' });

    // Act
    socket.send(body);

    // Assess
    const event = await lambdas.subscribe.waitForEvent();
    expect(event).toMatchObject({
      body,
      isBase64Encoded: false,
      requestContext: { routeKey: 'subscribe', eventType: 'MESSAGE', connectionId },
    });
    expect(lambdas.default.invoke).not.toHaveBeenCalled();
  });

  it.each([
    ['an action without a route', '{"action":"unknown-action"}'],
    ['JSON without an action', '{"postId":"p1"}'],
    ['a body that is not JSON', 'hello there'],
  ])('sends %s to $default', async (_name, body) => {
    // Prepare
    const { socket } = await connect();

    // Act
    socket.send(body);

    // Assess
    const event = await lambdas.default.waitForEvent();
    expect(event).toMatchObject({ body, requestContext: { routeKey: '$default' } });
    expect(lambdas.subscribe.invoke).not.toHaveBeenCalled();
  });

  it.each(['$disconnect', '$connect', '$default'])(
    'sends {"action":"%s"} to $default: a message never selects a special route',
    async (action) => {
      // Prepare
      const { socket } = await connect();
      const body = JSON.stringify({ action });

      // Act
      socket.send(body);

      // Assess
      const event = await lambdas.default.waitForEvent();
      expect(event).toMatchObject({ body, requestContext: { routeKey: '$default', eventType: 'MESSAGE' } });
      expect(lambdas.disconnect.invoke).not.toHaveBeenCalled();
      expect(lambdas.connect.invoke).toHaveBeenCalledTimes(1);
      expect(gateway.connectionCount).toBe(1);
    },
  );

  it('tells the client when the route function fails', async () => {
    // Prepare
    const { socket, connectionId } = await connect();
    const reply = nextMessage(socket);

    // Act
    socket.send('{"action":"subscribe","postId":"boom"}');

    // Assess
    expect(JSON.parse(await reply)).toMatchObject({ message: 'Internal server error', connectionId });
  });
});

describe('LocalWebSocketGateway Management API', () => {
  beforeEach(() => startGateway());

  it('PostToConnection delivers the data to the socket', async () => {
    // Prepare
    const { socket, connectionId } = await connect();
    const received = nextMessage(socket);

    // Act
    await management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: '{"hello":1}' }));

    // Assess
    expect(await received).toBe('{"hello":1}');
  });

  it("round-trips ids with '+' and '=' through the URL-encoded path", async () => {
    // Prepare: pin the id's random bytes so it is sure to hold both characters.
    const randomBytes = crypto.randomBytes;
    jest
      .spyOn(crypto, 'randomBytes')
      .mockImplementation(((size: number) =>
        size === 9
          ? Buffer.from([0xfb, 0xef, 0xbe, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06])
          : randomBytes(size)) as typeof randomBytes);
    const { socket, connectionId } = await connect();
    jest.restoreAllMocks();
    const received = nextMessage(socket);

    // Act
    await management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'plus' }));

    // Assess
    expect(connectionId).toContain('+');
    expect(connectionId).toMatch(/=$/);
    expect(await received).toBe('plus');
  });

  it('answers an unknown connection id with GoneException', async () => {
    // Act
    const post = management.send(new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAA=', Data: 'x' }));

    // Assess
    await expect(post).rejects.toBeInstanceOf(GoneException);
  });

  it('answers a connection id with malformed percent-encoding with 400 BadRequestException', async () => {
    // Act
    const response = await fetch(`http://127.0.0.1:${port}/${STAGE}/@connections/%ZZ`);

    // Assess
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    expect(await response.json()).toEqual({ message: 'BadRequestException' });
  });

  it('answers a payload over 128 KB with 413 PayloadTooLargeException', async () => {
    // Prepare
    const { connectionId } = await connect();
    const data = Buffer.alloc(MAX_MESSAGE_BYTES + 1, 'a');

    // Act
    const post = management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }));

    // Assess
    await expect(post).rejects.toBeInstanceOf(PayloadTooLargeException);
    await expect(post).rejects.toMatchObject({ $metadata: { httpStatusCode: 413 } });
  });

  it('accepts a payload of exactly 128 KB', async () => {
    // Prepare
    const { socket, connectionId } = await connect();
    const received = nextMessage(socket);

    // Act
    await management.send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.alloc(MAX_MESSAGE_BYTES, 'a') }),
    );

    // Assess
    expect((await received).length).toBe(MAX_MESSAGE_BYTES);
  });

  it('answers a request without a SigV4 Authorization header with 403', async () => {
    // Prepare
    const { connectionId } = await connect();

    // Act
    const response = await fetch(
      `http://127.0.0.1:${port}/${STAGE}/@connections/${encodeURIComponent(connectionId)}`,
      { method: 'POST', body: 'unsigned' },
    );

    // Assess
    expect(response.status).toBe(403);
    expect(response.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  });

  it('answers a request signed with a key it does not know with 403', async () => {
    // Prepare
    const { connectionId } = await connect();
    const stranger = new ApiGatewayManagementApiClient({
      endpoint: `http://127.0.0.1:${port}/${STAGE}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'SOMEONEELSE', secretAccessKey: 'whatever' },
      maxAttempts: 1,
    });
    otherClients.push(stranger);

    // Act
    const post = stranger.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x' }));

    // Assess
    await expect(post).rejects.toMatchObject({ $metadata: { httpStatusCode: 403 } });
  });

  it('GetConnection returns when the connection was made', async () => {
    // Prepare
    const { connectionId } = await connect();

    // Act
    const connection = await management.send(new GetConnectionCommand({ ConnectionId: connectionId }));

    // Assess
    expect(connection.ConnectedAt).toBeInstanceOf(Date);
    expect(connection.ConnectedAt?.getTime()).toBe(
      lambdas.connect.events[0]?.requestContext.connectedAt as number,
    );
    expect(connection.Identity?.SourceIp).toBe('127.0.0.1');
  });

  it('DeleteConnection closes the socket and runs $disconnect', async () => {
    // Prepare
    const { socket, connectionId } = await connect();
    const closed = closeOf(socket);

    // Act
    await management.send(new DeleteConnectionCommand({ ConnectionId: connectionId }));

    // Assess
    expect(await closed).toBe(1000);
    await expect(lambdas.disconnect.waitForEvent()).resolves.toMatchObject({
      requestContext: { connectionId },
    });
  });
});

describe('LocalWebSocketGateway faults', () => {
  beforeEach(() => startGateway());

  it('goneRate 1 answers GoneException and drops the connection without $disconnect', async () => {
    // Prepare
    const { socket, connectionId } = await connect();
    const closed = closeOf(socket);
    faults = { ...faults, goneRate: 1 };

    // Act
    const post = management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x' }));

    // Assess
    await expect(post).rejects.toBeInstanceOf(GoneException);
    await expect(closed).resolves.toBe(1006);
    faults = { ...NO_FAULTS };
    await expect(
      management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x' })),
    ).rejects.toBeInstanceOf(GoneException);
    expect(lambdas.disconnect.invoke).not.toHaveBeenCalled();
  });

  it('throttleRate 1 answers 429 LimitExceededException and keeps the connection', async () => {
    // Prepare
    const { connectionId } = await connect();
    faults = { ...faults, throttleRate: 1 };

    // Act
    const post = management.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: 'x' }));

    // Assess
    await expect(post).rejects.toBeInstanceOf(LimitExceededException);
    await expect(post).rejects.toMatchObject({
      name: 'LimitExceededException',
      $metadata: { httpStatusCode: 429 },
    });
    expect(gateway.connectionCount).toBe(1);
  });

  it('answers 429 once the per-second rate limit is used up', async () => {
    // Prepare
    const { connectionId } = await connect();
    faults = { ...faults, rateLimitPerSecond: 1 };
    await management.send(new GetConnectionCommand({ ConnectionId: connectionId }));

    // Act
    const second = management.send(new GetConnectionCommand({ ConnectionId: connectionId }));

    // Assess
    await expect(second).rejects.toMatchObject({
      name: 'LimitExceededException',
      $metadata: { httpStatusCode: 429 },
    });
  });
});

describe('LocalWebSocketGateway limits', () => {
  it('closes an idle connection with 1001 Going away', async () => {
    // Prepare
    await startGateway({ idleTimeoutMs: 200 });
    const { socket } = await connect();

    // Act
    const code = await closeOf(socket);

    // Assess
    expect(code).toBe(1001);
    await expect(lambdas.disconnect.waitForEvent()).resolves.toMatchObject({
      requestContext: { disconnectStatusCode: 1001 },
    });
  });

  it('closes a connection at its maximum duration with 1001', async () => {
    // Prepare
    await startGateway({ maxConnectionMs: 200 });
    const { socket } = await connect();

    // Act
    const code = await closeOf(socket);

    // Assess
    expect(code).toBe(1001);
  });

  it('stop() drops every connection without running $disconnect', async () => {
    // Prepare
    await startGateway();
    const { socket } = await connect();
    const closed = closeOf(socket);

    // Act
    await gateway.stop();

    // Assess
    await expect(closed).resolves.toBe(1006);
    expect(gateway.connectionCount).toBe(0);
    expect(lambdas.disconnect.invoke).not.toHaveBeenCalled();
  });
});
