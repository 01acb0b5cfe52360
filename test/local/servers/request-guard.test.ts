import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { refuseUnparsableRequest, sendJson } from '../../../local/http-io';
import {
  guardRequests,
  guardUpgrades,
  type GuardedRoute,
  type GuardedUpgrade,
} from '../../../local/servers/request-guard';

let server: Server;
let port: number;
let logged: string[];
let routed: string[];

/** A server whose requests and upgrades go through the guards, as on the local stack's two ports. */
async function serve(route: GuardedRoute, upgrade?: GuardedUpgrade): Promise<void> {
  logged = [];
  routed = [];
  const log = (message: string): void => void logged.push(message);
  server = createServer(guardRequests(route, log));
  server.on(
    'upgrade',
    guardUpgrades(
      upgrade ?? ((_req, socket) => void socket.end('HTTP/1.1 101 Switching Protocols\r\n\r\n')),
      log,
    ),
  );
  server.on('clientError', refuseUnparsableRequest);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
}

const echoPath: GuardedRoute = (_req, res, url) => {
  routed.push(url.pathname);
  sendJson(res, 200, { path: url.pathname });
};

/** Sends raw bytes and returns everything the server answered before closing. */
function rawExchange(data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(data));
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
const jsonBodyOf = (answer: string): unknown => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('guardRequests', () => {
  it.each([
    ['a path segment', '/api/v1/posts/%E0%A4%A/comments'],
    ['a connection id', '/dev/@connections/%ZZ'],
    ['a function name', '/2015-03-31/functions/%ZZ/invocations'],
    ['a query string', '/api/v1/posts/p1/comments?cursor=%ZZ'],
    ['bytes that are not UTF-8', '/api/v1/posts/%FF'],
  ])('answers malformed percent-encoding in %s with 400 JSON before any route', async (_where, path) => {
    // Prepare
    await serve(echoPath);

    // Act
    const response = await fetch(`http://127.0.0.1:${port}${path}`);

    // Assess
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({ message: 'Bad Request' });
    expect(routed).toEqual([]);
  });

  it('serves a target starting with //, on which the URL parser alone would throw, as a path', async () => {
    // Prepare
    await serve(echoPath);

    // Act
    const answer = await rawExchange('GET //[ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');

    // Assess
    expect(statusOf(answer)).toBe(200);
    expect(routed).toEqual(['//[']);
  });

  it('answers a target that is not a path (*) with 400', async () => {
    // Prepare
    await serve(echoPath);

    // Act
    const answer = await rawExchange('OPTIONS * HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');

    // Assess
    expect(statusOf(answer)).toBe(400);
    expect(routed).toEqual([]);
  });

  it('answers 500 for a route that throws, and keeps serving', async () => {
    // Prepare
    await serve((_req, res, url) => {
      if (url.pathname === '/boom') throw new Error('route bug');
      echoPath(_req, res, url);
    });

    // Act
    const failed = await fetch(`http://127.0.0.1:${port}/boom`);
    const next = await fetch(`http://127.0.0.1:${port}/fine`);

    // Assess
    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ message: 'Internal Server Error' });
    expect(next.status).toBe(200);
    expect(logged).toEqual(['GET /boom failed: route bug']);
  });

  it('answers 500 for a route whose promise rejects', async () => {
    // Prepare
    await serve(async () => {
      await Promise.resolve();
      throw new Error('async route bug');
    });

    // Act
    const response = await fetch(`http://127.0.0.1:${port}/x`);

    // Assess
    expect(response.status).toBe(500);
    expect(logged).toEqual(['GET /x failed: async route bug']);
  });

  it('answers a request line Node cannot parse with 400 JSON', async () => {
    // Prepare
    await serve(echoPath);

    // Act
    const answer = await rawExchange('GET /a b c HTTP/1.1\r\nhost: x\r\n\r\n');

    // Assess
    expect(statusOf(answer)).toBe(400);
    expect(jsonBodyOf(answer)).toEqual({ message: 'Bad Request' });
  });

  it('answers headers too large with 431', async () => {
    // Prepare
    await serve(echoPath);

    // Act
    const answer = await rawExchange(`GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);

    // Assess
    expect(statusOf(answer)).toBe(431);
  });
});

describe('guardUpgrades', () => {
  const upgradeRequest = (path: string): string =>
    `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n` +
    'sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

  it('refuses an upgrade with malformed percent-encoding with 400 JSON, before the handler', async () => {
    // Prepare
    const upgrades: string[] = [];
    await serve(echoPath, (_req, socket, _head, url) => {
      upgrades.push(url.pathname);
      socket.end();
    });

    // Act
    const answer = await rawExchange(upgradeRequest('/dev?token=%ZZ'));

    // Assess
    expect(statusOf(answer)).toBe(400);
    expect(jsonBodyOf(answer)).toEqual({ message: 'Bad Request' });
    expect(upgrades).toEqual([]);
  });

  it('refuses with 500 when the upgrade handler rejects, and keeps serving', async () => {
    // Prepare
    await serve(echoPath, async () => {
      await Promise.resolve();
      throw new Error('upgrade bug');
    });

    // Act
    const answer = await rawExchange(upgradeRequest('/dev'));
    const next = await fetch(`http://127.0.0.1:${port}/fine`);

    // Assess
    expect(statusOf(answer)).toBe(500);
    expect(next.status).toBe(200);
    expect(logged).toEqual(['upgrade /dev failed: upgrade bug']);
  });
});
