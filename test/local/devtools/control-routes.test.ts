import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAULTS_PATH, GATEWAY_CRASH_PATH } from '../../../local/devtools/control-paths';
import { FaultControl } from '../../../local/devtools/fault-control';
import { NO_FAULTS } from '../../../local/devtools/faults';
import { GatewayOutage } from '../../../local/devtools/gateway-outage';

let server: Server;
let baseUrl: string;

/** A real server in front of one route, as the gateway server hands requests to it. */
async function serve(route: (req: IncomingMessage, res: ServerResponse) => boolean): Promise<void> {
  server = createServer((req, res) => {
    if (!route(req, res)) res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function call(
  method: string,
  urlPath: string,
  body?: string,
): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${baseUrl}${urlPath}`, { method, ...(body === undefined ? {} : { body }) });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined };
}

afterEach(async () => {
  server?.closeAllConnections();
  if (server?.listening) await new Promise((resolve) => server.close(resolve));
});

describe('FaultControl', () => {
  let faults: FaultControl;

  beforeEach(async () => {
    faults = new FaultControl({ ...NO_FAULTS, latencyMs: 5 });
    await serve((req, res) => faults.handle(req, res));
  });

  it('shows the settings on GET', async () => {
    // Act
    const { status, json } = await call('GET', FAULTS_PATH);

    // Assess
    expect(status).toBe(200);
    expect(json).toEqual({ ...NO_FAULTS, latencyMs: 5 });
  });

  it('merges a PUT into the settings the emulators read', async () => {
    // Act
    const { status, json } = await call('PUT', FAULTS_PATH, '{"goneRate":0.5}');

    // Assess
    expect(status).toBe(200);
    expect(json).toEqual({ ...NO_FAULTS, latencyMs: 5, goneRate: 0.5 });
    expect(faults.current()).toEqual({ ...NO_FAULTS, latencyMs: 5, goneRate: 0.5 });
  });

  it('turns every fault off on DELETE', async () => {
    // Act
    const { status } = await call('DELETE', FAULTS_PATH);

    // Assess
    expect(status).toBe(200);
    expect(faults.current()).toEqual(NO_FAULTS);
  });

  it.each([
    ['an unknown fault', '{"bogus":1}', 'Unknown fault "bogus"'],
    ['a body that is not an object', '[1]', 'Body must be a JSON object of fault settings'],
    ['a rate above 1', '{"errorRate":2}', 'errorRate is a share between 0 and 1'],
  ])('answers 400 to %s and changes nothing', async (_case, body, message) => {
    // Act
    const { status, json } = await call('PUT', FAULTS_PATH, body);

    // Assess
    expect(status).toBe(400);
    expect(json).toEqual({ message });
    expect(faults.current()).toEqual({ ...NO_FAULTS, latencyMs: 5 });
  });

  it('answers 405 to other methods and leaves other paths alone', async () => {
    expect((await call('PATCH', FAULTS_PATH)).status).toBe(405);
    expect((await call('GET', '/_local/other')).status).toBe(404);
  });
});

describe('GatewayOutage', () => {
  let outage: GatewayOutage;
  const dropAllConnections = jest.fn(() => 3);
  const logged: string[] = [];

  beforeEach(async () => {
    dropAllConnections.mockClear();
    logged.length = 0;
    outage = new GatewayOutage({ dropAllConnections, log: (message) => logged.push(message) });
    await serve((req, res) => outage.handle(req, res));
  });

  it('drops every connection and stays down for downForMs', async () => {
    // Act
    const { status, json } = await call('POST', GATEWAY_CRASH_PATH, '{"downForMs":60000}');

    // Assess
    expect(status).toBe(200);
    expect(json).toEqual({ dropped: 3, downForMs: 60000 });
    expect(dropAllConnections).toHaveBeenCalledTimes(1);
    expect(outage.isDown()).toBe(true);
    expect(logged).toEqual(['gateway crashed: 3 connections dropped, back in 60000 ms']);
  });

  it('is up again once downForMs has passed', async () => {
    // Act
    await call('POST', GATEWAY_CRASH_PATH, '{"downForMs":0}');

    // Assess
    expect(outage.isDown()).toBe(false);
  });

  it.each([
    ['a body that is not JSON', 'x', 'Body must be JSON {"downForMs": <ms>}'],
    ['a negative time', '{"downForMs":-1}', 'downForMs must be a whole number of milliseconds up to 600000'],
    [
      'more than ten minutes',
      '{"downForMs":600001}',
      'downForMs must be a whole number of milliseconds up to 600000',
    ],
  ])('answers 400 to %s without crashing', async (_case, body, message) => {
    // Act
    const { status, json } = await call('POST', GATEWAY_CRASH_PATH, body);

    // Assess
    expect(status).toBe(400);
    expect(json).toEqual({ message });
    expect(dropAllConnections).not.toHaveBeenCalled();
    expect(outage.isDown()).toBe(false);
  });

  it('answers 405 to anything but POST', async () => {
    expect((await call('GET', GATEWAY_CRASH_PATH)).status).toBe(405);
  });
});
