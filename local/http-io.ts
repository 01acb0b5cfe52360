import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * How every local server and emulator reads a request and writes its answer, so that JSON replies, AWS
 * error types and refused upgrades look the same whichever part of the local stack sends them.
 */

/** An HTTP request with its body read and its header names lower-cased, as the HTTP API emulator takes it. */
export interface HttpRequest {
  method: string;
  /** Path below the stage prefix (the route's view of the path). */
  path: string;
  rawPath: string;
  rawQueryString: string;
  headers: Record<string, string>;
  body: Buffer;
  sourceIp: string;
}

export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The whole body; undefined when it exceeds `maxBytes` (the caller answers 413) or the client went away
 * before sending all of it (nobody reads the answer then). Never rejects: a client that aborts mid-body must
 * cost its own request only. An oversized body is read to its end without being kept, so the client, still
 * sending, gets the 413 instead of a reset connection, and a keep-alive connection stays usable.
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.once('end', () => resolve(size <= maxBytes ? Buffer.concat(chunks) : undefined));
    // 'close' also follows a normal 'end', when resolving again changes nothing.
    req.once('close', () => resolve(undefined));
    req.once('error', () => resolve(undefined));
  });
}

/** Header names lower-cased and repeated headers joined with commas, as API Gateway passes them on. */
export function headersOf(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  return headers;
}

/** Reads a request for an HTTP API; undefined when its body exceeds `maxBytes` (answer 413). */
export async function readHttpRequest(
  req: IncomingMessage,
  url: URL,
  pathBelowStage: string,
  maxBytes: number,
): Promise<HttpRequest | undefined> {
  const body = await readBody(req, maxBytes);
  if (body === undefined) return undefined;
  return {
    method: req.method ?? 'GET',
    path: pathBelowStage,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers: headersOf(req),
    body,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
  };
}

/**
 * The URL of a request, with only its path and query meaningful; undefined when the target is not a path
 * (`*`, a proxy's absolute URL), which no API Gateway or Lambda route answers. The origin is prepended by
 * hand: a target such as `//[` would otherwise be parsed as a host and throw.
 */
export function requestUrl(req: IncomingMessage): URL | undefined {
  const target = req.url ?? '/';
  if (!target.startsWith('/')) return undefined;
  try {
    return new URL(`http://local${target}`);
  } catch {
    return undefined;
  }
}

/** A percent-decoded URL component; undefined when its encoding is malformed (`%ZZ`, `%E0%A4%A`, `%FF`). */
export function decodeComponent(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * Whether the path or the query string holds malformed percent-encoding: API Gateway and Lambda answer such
 * a request 400. A query's `+` is a space. The whole is checked at once: splitting it at `/`, `&` or `=`
 * cannot make a malformed whole valid, nor a valid whole malformed.
 */
export function hasMalformedEncoding(path: string, query: string): boolean {
  return decodeComponent(path) === undefined || decodeComponent(query.replace(/\+/g, ' ')) === undefined;
}

/** API Gateway's answer to a request it cannot parse. */
export const BAD_REQUEST = { message: 'Bad Request' } as const;

/**
 * A JSON answer. An undefined body is sent empty (202, 204), still typed JSON as the AWS endpoints do.
 */
export function jsonResponse(
  statusCode: number,
  body?: unknown,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body === undefined ? '' : JSON.stringify(body)),
  };
}

export function send(res: ServerResponse, response: HttpResponse): void {
  res.writeHead(response.statusCode, { ...response.headers, 'content-length': String(response.body.length) });
  res.end(response.body);
}

/**
 * The last resort when answering a request failed: a 500 if nothing was sent yet, otherwise the connection is
 * cut (a half-sent answer cannot be taken back). Never throws, so it can sit in any catch.
 */
export function sendInternalError(res: ServerResponse): void {
  try {
    if (!res.headersSent) return sendJson(res, 500, { message: 'Internal Server Error' });
  } catch {
    // Falls through to cutting the connection.
  }
  res.destroy();
}

export function sendJson(
  res: ServerResponse,
  statusCode: number,
  body?: unknown,
  headers: Record<string, string> = {},
): void {
  send(res, jsonResponse(statusCode, body, headers));
}

/** AWS's JSON protocols name an error in this header: the SDKs pick the exception class they throw by it. */
export const errorTypeHeader = (errorType: string | undefined): Record<string, string> =>
  errorType ? { 'x-amzn-errortype': errorType } : {};

/** A raw HTTP/1.1 answer with a JSON `{message}` body, for a socket no ServerResponse writes to. */
function rawStatusResponse(statusCode: number): string {
  const reason = STATUS_CODES[statusCode] ?? 'Error';
  const body = JSON.stringify({ message: reason });
  return (
    `HTTP/1.1 ${statusCode} ${reason}\r\nconnection: close\r\ncontent-type: application/json\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  );
}

/** Answers an HTTP upgrade with a status instead of switching protocols, and closes the socket. */
export function refuseUpgrade(socket: Duplex, statusCode: number): void {
  socket.end(rawStatusResponse(statusCode));
}

/**
 * A request Node's HTTP parser refused (a malformed request line or header, headers too large): 431 or 400
 * with a JSON body, as API Gateway answers one, unless part of another answer is already on the wire; then
 * the socket is closed, as Node itself does when no one handles its 'clientError'.
 */
export function refuseUnparsableRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(rawStatusResponse(error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400));
  }
  socket.destroy();
}
