import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RouteAuthorizers } from '../../../local/auth/authorizers';
import type { LocalApi, LocalFunction } from '../../../local/cloudformation/local-model';
import { FAULTS_PATH, GATEWAY_CRASH_PATH } from '../../../local/devtools/control-paths';
import { createDeadLetterRoute } from '../../../local/devtools/dead-letter-route';
import { FaultControl } from '../../../local/devtools/fault-control';
import { NO_FAULTS } from '../../../local/devtools/faults';
import { GatewayOutage } from '../../../local/devtools/gateway-outage';
import { LocalHttpApi, MAX_HTTP_API_PAYLOAD_BYTES } from '../../../local/emulators/http-api';
import {
  LocalLambdaInvokeApi,
  MAX_ASYNC_PAYLOAD_BYTES,
  MAX_SYNC_PAYLOAD_BYTES,
} from '../../../local/emulators/lambda-invoke-api';
import { MAX_MESSAGE_BYTES } from '../../../local/emulators/websocket-api';
import { LocalWebSocketGateway } from '../../../local/emulators/websocket-gateway';
import { createGatewayServer } from '../../../local/servers/gateway-server';
import { FakeLambda, lambdaMap } from '../emulators/fake-lambda';
import { abandon, send } from './http-client';

/** Size checks come before the signature is looked at, so every request here may go unsigned. */
const authorizers: RouteAuthorizers = {
  verifyJwt: () => Promise.reject(new Error('unexpected JWT check')),
  verifyIam: () => Promise.resolve({ ok: false, reason: 'missing' }),
};

const webSocketApi: LocalApi = {
  key: 'App/WsApi',
  logicalId: 'WsApi',
  stackName: 'App',
  name: 'ws',
  protocol: 'WEBSOCKET',
  stageName: 'dev',
  routeSelectionExpression: '$request.body.action',
  routes: [{ routeKey: '$default', functionKey: 'App/Fn', authorization: { type: 'NONE' } }],
};

const broadcastApi: LocalApi = {
  key: 'App/BroadcastApi',
  logicalId: 'BroadcastApi',
  stackName: 'App',
  name: 'broadcast',
  protocol: 'HTTP',
  stageName: 'dev',
  routes: [{ routeKey: 'POST /broadcast/comments', functionKey: 'App/Fn', authorization: { type: 'NONE' } }],
};

const FUNCTION: LocalFunction = {
  key: 'App/Fn',
  functionName: 'App-Fn',
  logicalId: 'Fn',
  stackName: 'App',
  assetDir: '/nowhere',
  handler: 'index.handler',
  environment: {},
  timeoutSeconds: 3,
};

let server: Server;
let port: number;
let fn: FakeLambda;
let outage: GatewayOutage;
let invokeApi: LocalLambdaInvokeApi;
let gateway: LocalWebSocketGateway;

/** The gateway port as the local stack wires it, with one fake function behind every API. */
beforeEach(async () => {
  fn = new FakeLambda(() => ({ statusCode: 200, body: '{}' }));
  const lambdas = lambdaMap({ 'App/Fn': fn });
  const faults = new FaultControl(NO_FAULTS);
  outage = new GatewayOutage({ dropAllConnections: () => 0, log: () => undefined });
  invokeApi = new LocalLambdaInvokeApi({
    functions: [FUNCTION],
    lambdas,
    authorizers,
    region: 'us-east-1',
    accountId: '000000000000',
  });
  gateway = new LocalWebSocketGateway({
    api: webSocketApi,
    lambdas,
    domainName: 'localhost',
    accountId: '000000000000',
    region: 'us-east-1',
    authorizers,
    faults: faults.current,
  });
  server = createGatewayServer({
    alwaysUp: [
      (req, res) => faults.handle(req, res),
      (req, res) => outage.handle(req, res),
      (req, res) => invokeApi.handle(req, res),
      createDeadLetterRoute(invokeApi),
    ],
    isDown: () => outage.isDown(),
    webSocketGateways: [gateway],
    httpApis: [
      new LocalHttpApi({
        api: broadcastApi,
        lambdas,
        domainName: 'localhost',
        accountId: '000000000000',
        authorizers,
      }),
    ],
    faults: faults.current,
    log: () => undefined,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  invokeApi.stop();
  await gateway.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** The gateway still answers: a request that can only succeed. */
const stillUp = async (): Promise<number> => (await send(port, 'GET', FAULTS_PATH)).status;

describe('gateway server: malformed percent-encoding', () => {
  it.each([
    ['GET', '/dev/@connections/%ZZ'],
    ['POST', '/2015-03-31/functions/%ZZ/invocations'],
    ['POST', '/dev/broadcast/comments?x=%E0%A4%A'],
  ])('answers an unauthenticated %s %s with 400 JSON and stays up', async (method, path) => {
    // Act
    const answer = await send(port, method, path, { body: '{}' });

    // Assess
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toEqual({ message: 'Bad Request' });
    expect(fn.invoke).not.toHaveBeenCalled();
    expect(await stillUp()).toBe(200);
  });
});

describe('gateway server: bodies over the quota, sent chunked', () => {
  it('answers 413 on the broadcast HTTP API above 10 MB', async () => {
    // Act
    const answer = await send(port, 'POST', '/dev/broadcast/comments', {
      size: MAX_HTTP_API_PAYLOAD_BYTES + 1,
    });

    // Assess
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toEqual({ message: 'Request Entity Too Large' });
    expect(fn.invoke).not.toHaveBeenCalled();
  });

  it('answers 413 PayloadTooLargeException on PostToConnection above 128 KB', async () => {
    // Act
    const answer = await send(port, 'POST', '/dev/@connections/abc%3D', { size: MAX_MESSAGE_BYTES + 1 });

    // Assess
    expect(answer).toMatchObject({ status: 413, errorType: 'PayloadTooLargeException' });
  });

  it.each([
    ['RequestResponse', MAX_SYNC_PAYLOAD_BYTES + 1],
    ['Event', MAX_ASYNC_PAYLOAD_BYTES + 1],
  ])('answers 413 RequestTooLargeException on an %s invocation over its quota', async (type, size) => {
    // Act
    const answer = await send(port, 'POST', '/2015-03-31/functions/App-Fn/invocations', {
      size,
      headers: { 'x-amz-invocation-type': type },
    });

    // Assess
    expect(answer).toMatchObject({ status: 413, errorType: 'RequestTooLargeException' });
    expect(fn.invoke).not.toHaveBeenCalled();
  });

  it('answers 413 on the faults route above 64 KB, changing nothing', async () => {
    // Act
    const answer = await send(port, 'PUT', FAULTS_PATH, { size: 64 * 1024 + 1 });

    // Assess
    expect(answer.status).toBe(413);
    expect(JSON.parse((await send(port, 'GET', FAULTS_PATH)).text)).toEqual(NO_FAULTS);
  });

  it('answers 413 on the crash route above 1 KB, and the gateway does not go down', async () => {
    // Act
    const answer = await send(port, 'POST', GATEWAY_CRASH_PATH, { size: 1025 });

    // Assess
    expect(answer.status).toBe(413);
    expect(outage.isDown()).toBe(false);
  });
});

describe('gateway server: clients that go away mid-body', () => {
  it.each([
    ['PUT', FAULTS_PATH],
    ['POST', GATEWAY_CRASH_PATH],
    ['POST', '/dev/@connections/abc%3D'],
    ['POST', '/2015-03-31/functions/App-Fn/invocations'],
    ['POST', '/dev/broadcast/comments'],
  ])('cost only their own request: %s %s', async (method, path) => {
    // Act
    await abandon(port, method, path);

    // Assess
    expect(await stillUp()).toBe(200);
    expect(outage.isDown()).toBe(false);
  });
});
