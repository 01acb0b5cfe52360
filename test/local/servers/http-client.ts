import { request } from 'node:http';

/** What a test reads of an answer: status, the error type AWS puts in a header, and the body as text. */
export interface Answer {
  status: number;
  errorType: string | undefined;
  text: string;
}

/**
 * Sends a request with Node's own client: `size` bytes of body in 64 KB chunks and no content-length
 * (chunked, so a server learns the size only by reading), or `body` as given. Rejects only if the
 * connection fails — exactly what the local stack's servers must never make it do.
 */
export function send(
  port: number,
  method: string,
  path: string,
  options: { size?: number; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Node's client sends a GET body without framing unless told its length.
    const length =
      options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) };
    const headers = { ...length, ...options.headers };
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          errorType: res.headers['x-amzn-errortype'] as string | undefined,
          text,
        }),
      );
    });
    req.on('error', reject);
    if (options.body !== undefined) return void req.end(options.body);
    const chunk = Buffer.alloc(64 * 1024, 97);
    let left = options.size ?? 0;
    const write = (): void => {
      while (left > 0) {
        const part = chunk.subarray(0, Math.min(chunk.length, left));
        left -= part.length;
        if (!req.write(part)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

/** Starts a request whose declared body never fully arrives, then drops the connection. */
export async function abandon(port: number, method: string, path: string): Promise<void> {
  const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-length': '1000' } });
  req.on('error', () => undefined);
  req.write(Buffer.alloc(100, 97));
  await new Promise((resolve) => setTimeout(resolve, 50));
  req.destroy();
  await new Promise((resolve) => setTimeout(resolve, 50));
}
