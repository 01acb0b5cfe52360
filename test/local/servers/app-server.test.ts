import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RouteAuthorizers } from '../../../local/auth/authorizers';
import type { LocalApi } from '../../../local/cloudformation/local-model';
import { LocalHttpApi, MAX_HTTP_API_PAYLOAD_BYTES } from '../../../local/emulators/http-api';
import { jsonResponse } from '../../../local/http-io';
import { createAppServer } from '../../../local/servers/app-server';
import { FakeLambda, lambdaMap } from '../emulators/fake-lambda';
import { abandon, send } from './http-client';

const commentsApi: LocalApi = {
  key: 'App/CommentsApi',
  logicalId: 'CommentsApi',
  stackName: 'App',
  name: 'comments',
  protocol: 'HTTP',
  stageName: '$default',
  routes: [
    { routeKey: 'GET /api/v1/posts/{id}/comments', functionKey: 'App/Fn', authorization: { type: 'NONE' } },
    { routeKey: 'POST /api/v1/posts/{id}/comments', functionKey: 'App/Fn', authorization: { type: 'NONE' } },
  ],
};

const noAuthorizers: RouteAuthorizers = {
  verifyJwt: () => Promise.reject(new Error('unexpected JWT check')),
  verifyIam: () => Promise.reject(new Error('unexpected IAM check')),
};

let server: Server;
let port: number;
let fn: FakeLambda;
let devRequests: string[];

/** The app port as the local stack wires it: one HTTP API, the dev routes, and no demo files. */
beforeEach(async () => {
  fn = new FakeLambda(() => ({ statusCode: 200, body: '[]' }));
  devRequests = [];
  server = createAppServer({
    httpApis: [
      new LocalHttpApi({
        api: commentsApi,
        lambdas: lambdaMap({ 'App/Fn': fn }),
        domainName: 'localhost',
        accountId: '000000000000',
        authorizers: noAuthorizers,
      }),
    ],
    devRoutes: (request) => {
      devRequests.push(request.rawPath);
      return Promise.resolve(jsonResponse(200, { ok: true }));
    },
    staticFiles: () => Promise.resolve(undefined),
    log: () => undefined,
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('app server', () => {
  it.each([
    '/api/v1/posts/%E0%A4%A/comments',
    '/api/v1/posts/%ZZ/comments',
    '/api/v1/posts/p1/comments?limit=%ZZ',
    '/_local/token?x=%FF',
  ])('answers GET %s with 400 JSON, not 500, without invoking anything', async (path) => {
    // Act
    const answer = await send(port, 'GET', path);

    // Assess
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.text)).toEqual({ message: 'Bad Request' });
    expect(fn.invoke).not.toHaveBeenCalled();
    expect(devRequests).toEqual([]);
  });

  it('answers a chunked body over 10 MB with 413 and keeps serving', async () => {
    // Act
    const answer = await send(port, 'POST', '/api/v1/posts/p1/comments', {
      size: MAX_HTTP_API_PAYLOAD_BYTES + 1,
      headers: { 'content-type': 'application/json' },
    });
    const next = await send(port, 'GET', '/api/v1/posts/p1/comments');

    // Assess
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toEqual({ message: 'Request Entity Too Large' });
    expect(next.status).toBe(200);
    expect(fn.invoke).toHaveBeenCalledTimes(1);
  });

  it('survives a client that goes away mid-body', async () => {
    // Act
    await abandon(port, 'POST', '/api/v1/posts/p1/comments');
    const next = await send(port, 'GET', '/api/v1/posts/p1/comments');

    // Assess
    expect(next.status).toBe(200);
  });

  it('answers a route function result no HTTP response can carry with 502, and keeps serving', async () => {
    // Prepare
    fn.invoke.mockResolvedValueOnce({ statusCode: 200, headers: { 'x-bad': 'line\nbreak' }, body: '' });

    // Act
    const answer = await send(port, 'GET', '/api/v1/posts/p1/comments');
    const next = await send(port, 'GET', '/api/v1/posts/p1/comments');

    // Assess
    expect(answer.status).toBe(502);
    expect(next.status).toBe(200);
  });
});
