import { once } from 'node:events';
import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeComponent, hasMalformedEncoding, readBody, requestUrl } from '../../local/http-io';
import { waitUntil } from './emulators/fake-lambda';

const target = (url: string): IncomingMessage => ({ url }) as IncomingMessage;

describe('requestUrl', () => {
  it('reads the path and the query of an origin-form target', () => {
    // Act
    const url = requestUrl(target('/dev/@connections/abc%3D?x=1'));

    // Assess
    expect(url?.pathname).toBe('/dev/@connections/abc%3D');
    expect(url?.search).toBe('?x=1');
  });

  it('keeps a target starting with // a path, where the URL parser alone would read a host and throw', () => {
    // Act
    const url = requestUrl(target('//['));

    // Assess
    expect(url?.pathname).toBe('//[');
  });

  it.each(['*', 'http://[bad/', 'http://example.com/dev'])(
    'is undefined for %s, which is not a path',
    (value) => {
      // Act
      const url = requestUrl(target(value));

      // Assess
      expect(url).toBeUndefined();
    },
  );
});

describe('decodeComponent and hasMalformedEncoding', () => {
  it.each(['%ZZ', '%E0%A4%A', '%FF', 'abc%', '%C3'])('find %s malformed', (value) => {
    // Act
    const decoded = decodeComponent(value);

    // Assess
    expect(decoded).toBeUndefined();
    expect(hasMalformedEncoding(`/posts/${value}/comments`, '')).toBe(true);
    expect(hasMalformedEncoding('/posts', `a=1&b=${value}`)).toBe(true);
  });

  it('decode well-formed paths and queries, a query + as a space', () => {
    // Act
    const decoded = decodeComponent('a%20b%2Fc%E2%82%AC');

    // Assess
    expect(decoded).toBe('a b/c€');
    expect(hasMalformedEncoding('/api/v1/posts/p%201', 'q=a+b&r=%2B')).toBe(false);
  });
});

describe('readBody', () => {
  let server: Server;
  let port: number;
  let bodies: (Buffer | undefined)[];

  beforeEach(async () => {
    bodies = [];
    server = createServer((req, res) => {
      void readBody(req, 1000).then((body) => {
        bodies.push(body);
        res.writeHead(body ? 200 : 413).end(body ? String(body.length) : 'too large');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends `size` bytes in 100-byte chunks, with no content-length (chunked), and reads the answer. */
  function post(size: number, agent?: Agent): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', agent }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      for (let sent = 0; sent < size; sent += 100) req.write(Buffer.alloc(Math.min(100, size - sent), 97));
      req.end();
    });
  }

  it('returns the whole body up to the limit', async () => {
    // Act
    const answer = await post(1000);

    // Assess
    expect(answer).toEqual({ status: 200, text: '1000' });
    expect(bodies[0]?.length).toBe(1000);
  });

  it('reads an oversized chunked body to its end: the client gets the 413 and can send again', async () => {
    // Prepare
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });

    // Act
    const oversized = await post(50_000, agent);
    const next = await post(10, agent);
    agent.destroy();

    // Assess
    expect(oversized).toEqual({ status: 413, text: 'too large' });
    expect(next).toEqual({ status: 200, text: '10' });
    expect(bodies).toEqual([undefined, expect.any(Buffer)]);
  });

  it('resolves undefined, never rejects, when the client goes away mid-body', async () => {
    // Prepare
    const req = request({ host: '127.0.0.1', port, method: 'POST', headers: { 'content-length': '500' } });
    req.on('error', () => undefined);

    // Act
    req.write(Buffer.alloc(100, 97));
    await new Promise((resolve) => setTimeout(resolve, 50));
    req.destroy();

    // Assess
    await waitUntil(() => bodies.length === 1);
    expect(bodies).toEqual([undefined]);
  });
});
