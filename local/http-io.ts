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

/** The whole body, or undefined once it exceeds `maxBytes` (the rest is not buffered). */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
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

/** The URL of a request; the host does not matter, only the path and the query are read. */
export const requestUrl = (req: IncomingMessage): URL => new URL(req.url ?? '/', 'http://local');

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

/** Answers an HTTP upgrade with a plain status instead of switching protocols, and closes the socket. */
export function refuseUpgrade(socket: Duplex, statusCode: number): void {
  const reason = STATUS_CODES[statusCode] ?? 'Error';
  socket.end(`HTTP/1.1 ${statusCode} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}
