import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocket } from 'ws';
import { sleep } from '../../contracts/backoff';
import type { RouteAuthorizers } from '../auth/authorizers';
import { RateLimiter, type FaultSettings } from '../devtools/faults';
import {
  decodeComponent,
  errorTypeHeader,
  headersOf,
  readBody,
  requestUrl,
  sendInternalError,
  sendJson,
} from '../http-io';
import { MAX_MESSAGE_BYTES, type Connection } from './websocket-api';

/** The connections the Management API acts on: those of its WebSocket API. */
export interface ConnectionDirectory {
  connection(id: string): Connection | undefined;
  /** Drops a connection without a close frame or $disconnect. */
  vanish(id: string): void;
}

export interface ManagementApiOptions {
  stage: string;
  /** The host a SigV4 signature is checked against when the request names none. */
  domainName: string;
  connections: ConnectionDirectory;
  authorizers: RouteAuthorizers;
  faults: () => FaultSettings;
}

/**
 * The API Gateway Management API of a WebSocket API: `POST|GET|DELETE /<stage>/@connections/{id}`,
 * SigV4-signed as the functions' SDK clients sign it, answered as API Gateway answers, 410 GoneException and
 * 413 PayloadTooLargeException included. The fault settings add latency, a request quota (429), and shares
 * of pushes that come back gone, throttled, failed or slow, for the fan-out to cope with.
 */
export class LocalManagementApi {
  private readonly rateLimiter = new RateLimiter();

  constructor(private readonly options: ManagementApiOptions) {}

  /** Handles `/<stage>/@connections/{id}`; returns false when the path is not the Management API. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = requestUrl(req);
    const prefix = `/${this.options.stage}/@connections/`;
    if (!url?.pathname.startsWith(prefix)) return false;
    this.answer(req, res, url, url.pathname.slice(prefix.length)).catch(() => sendInternalError(res));
    return true;
  }

  private async answer(req: IncomingMessage, res: ServerResponse, url: URL, encodedId: string) {
    // API Gateway's errors: the type in x-amzn-errortype, and as the message.
    const reply = (status: number, errorType?: string, body?: unknown): void =>
      sendJson(
        res,
        status,
        body ?? (errorType ? { message: errorType } : undefined),
        errorTypeHeader(errorType),
      );
    const connectionId = decodeComponent(encodedId);
    // An id that does not decode names no connection: refused before its body and signature are read.
    if (connectionId === undefined) return reply(400, 'BadRequestException');
    const body = await readBody(req, MAX_MESSAGE_BYTES);
    // An oversized body is not kept, so its signature cannot be checked: answer 413 as API Gateway does.
    if (body === undefined) return reply(413, 'PayloadTooLargeException');
    const faults = this.options.faults();
    const signed = await this.options.authorizers.verifyIam({
      method: req.method ?? 'GET',
      host: req.headers.host ?? this.options.domainName,
      path: url.pathname,
      query: url.searchParams,
      headers: headersOf(req),
      body,
    });
    if (!signed.ok) {
      const errorType =
        signed.reason === 'missing' ? 'MissingAuthenticationTokenException' : 'InvalidSignatureException';
      return reply(403, errorType);
    }
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (!this.rateLimiter.tryAcquire(faults.rateLimitPerSecond)) return reply(429, 'LimitExceededException');
    const connection = this.options.connections.connection(connectionId);
    if (!connection) return reply(410, 'GoneException');
    switch (req.method) {
      case 'POST': {
        if (faults.slowRate > 0 && Math.random() < faults.slowRate) await sleep(faults.slowMs);
        if (faults.goneRate > 0 && Math.random() < faults.goneRate) {
          // The connection vanished without a $disconnect: exactly the case the fan-out must clean up.
          this.options.connections.vanish(connectionId);
          return reply(410, 'GoneException');
        }
        if (faults.throttleRate > 0 && Math.random() < faults.throttleRate) {
          return reply(429, 'LimitExceededException');
        }
        if (faults.errorRate > 0 && Math.random() < faults.errorRate) {
          return reply(500, 'InternalServerErrorException');
        }
        if (connection.socket.readyState !== WebSocket.OPEN) return reply(410, 'GoneException');
        connection.socket.send(body.toString('utf8'));
        return reply(200);
      }
      case 'GET':
        // The wire names are camelCase (the SDK maps them to ConnectedAt, Identity, LastActiveAt).
        return reply(200, undefined, {
          connectedAt: new Date(connection.connectedAt).toISOString(),
          lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
          identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
        });
      case 'DELETE':
        connection.socket.close(1000, 'Deleted');
        return reply(204);
      default:
        return reply(405, 'MethodNotAllowed');
    }
  }
}
