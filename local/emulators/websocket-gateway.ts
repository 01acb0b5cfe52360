import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { RateLimiter, type FaultSettings } from '../devtools/faults';
import { headersOf, readBody } from './http-api';
import type { LocalLambda } from './lambda-runtime';
import { readIdentitySource, type RouteAuthorizers } from '../auth/authorizers';
import type { LocalApi, RouteAuthorization } from '../cloudformation/template-model';

interface AuthorizerResult {
  principalId?: string;
  policyDocument?: { Statement?: { Effect?: string }[] };
  context?: Record<string, unknown>;
}

/** API Gateway's WebSocket quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html */
export const MAX_MESSAGE_BYTES = 128 * 1024;
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
export const DEFAULT_MAX_CONNECTION_MS = 2 * 60 * 60 * 1000;

interface Connection {
  id: string;
  socket: WebSocket;
  connectedAt: number;
  lastActiveAt: number;
  sourceIp: string;
  userAgent: string;
  /** What the $connect authorizer/handler established, passed to later routes as API Gateway does. */
  authorizer?: Record<string, unknown>;
  idleTimer?: NodeJS.Timeout;
  maxTimer?: NodeJS.Timeout;
}

export interface WebSocketGatewayOptions {
  api: LocalApi;
  lambdas: Map<string, LocalLambda>;
  domainName: string;
  accountId: string;
  region: string;
  authorizers: RouteAuthorizers;
  faults: () => FaultSettings;
  idleTimeoutMs?: number;
  maxConnectionMs?: number;
  log?: (message: string) => void;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The local stand-in for an API Gateway WebSocket API and its Management API (`@connections`):
 * - upgrades on `/<stage>` run the `$connect` route; a non-2xx answer refuses the upgrade;
 * - each text frame is routed on the route selection expression (`$request.body.action`), falling back to
 *   `$default`; a closed socket runs `$disconnect`;
 * - `POST|GET|DELETE /<stage>/@connections/{id}` answer as API Gateway does, including 410 GoneException;
 * - idle and maximum-duration limits close connections as API Gateway does (configurable for tests).
 */
export class LocalWebSocketGateway {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  private readonly connections = new Map<string, Connection>();
  private readonly routes = new Map<string, string>();
  private readonly rateLimiter = new RateLimiter();
  private readonly idleTimeoutMs: number;
  private readonly maxConnectionMs: number;
  private readonly selectionField: string | undefined;

  constructor(private readonly options: WebSocketGatewayOptions) {
    for (const route of options.api.routes) this.routes.set(route.routeKey, route.functionKey);
    this.idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    this.maxConnectionMs = options.maxConnectionMs ?? DEFAULT_MAX_CONNECTION_MS;
    this.selectionField = /^\$request\.body\.(.+)$/.exec(options.api.routeSelectionExpression ?? '')?.[1];
  }

  get stage(): string {
    return this.options.api.stageName;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  private log(message: string): void {
    this.options.log?.(message);
  }

  private requestContext(
    connection: Pick<Connection, 'id' | 'connectedAt' | 'sourceIp' | 'userAgent'>,
    extra: Record<string, unknown>,
  ) {
    const now = Date.now();
    return {
      apiId: this.options.api.logicalId,
      connectedAt: connection.connectedAt,
      connectionId: connection.id,
      domainName: this.options.domainName,
      extendedRequestId: randomUUID(),
      identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
      requestId: randomUUID(),
      requestTime: new Date(now).toUTCString(),
      requestTimeEpoch: now,
      stage: this.stage,
      ...extra,
    };
  }

  private async invokeRoute(
    routeKey: string,
    event: Record<string, unknown>,
  ): Promise<{ statusCode?: number; body?: string } | undefined> {
    const functionKey = this.routes.get(routeKey);
    if (!functionKey) return undefined;
    const lambda = this.options.lambdas.get(functionKey);
    if (!lambda) throw new Error(`No local function ${functionKey}`);
    const result = await lambda.invoke<{ statusCode?: number; body?: string } | undefined>(event);
    return result ?? {};
  }

  /** Handles an HTTP upgrade on this gateway's server; returns false when the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://local');
    if (url.pathname !== `/${this.stage}` && url.pathname !== `/${this.stage}/`) return false;
    void this.connect(req, socket, head, url);
    return true;
  }

  private async connect(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const headers = headersOf(req);
    const pending = {
      // API Gateway's ids are 12-character base64 with '=': they need URL-encoding in @connections paths.
      id: randomBytes(9).toString('base64').replace(/\//g, '_').slice(0, 11) + '=',
      connectedAt: Date.now(),
      sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
      userAgent: headers['user-agent'] ?? '',
    };
    const query: Record<string, string> = {};
    for (const [key, value] of url.searchParams) query[key] = value;
    const event = {
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      ...(url.search ? { queryStringParameters: query } : {}),
      requestContext: this.requestContext(pending, {
        routeKey: '$connect',
        eventType: 'CONNECT',
        messageDirection: 'IN',
      }),
      isBase64Encoded: false,
    };
    const refuse = (statusCode: number): void => {
      const reason = { 401: 'Unauthorized', 403: 'Forbidden' }[statusCode] ?? 'Error';
      socket.end(`HTTP/1.1 ${statusCode} ${reason}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    let authorizer: Record<string, unknown> | undefined;
    const connectAuthorization = this.options.api.routes.find(
      (r) => r.routeKey === '$connect',
    )?.authorization;
    if (connectAuthorization?.type === 'CUSTOM') {
      const outcome = await this.authorizeConnect(connectAuthorization, headers, query, event.requestContext);
      if (typeof outcome === 'number') return refuse(outcome);
      authorizer = outcome;
      Object.assign(event.requestContext, { authorizer });
    }
    let statusCode: number;
    try {
      const result = await this.invokeRoute('$connect', event);
      statusCode = result?.statusCode ?? 200;
    } catch (error) {
      this.log(`$connect failed: ${(error as Error).message}`);
      statusCode = 500;
    }
    if (statusCode < 200 || statusCode > 299) return refuse(statusCode);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const connection: Connection = { ...pending, socket: ws, lastActiveAt: Date.now() };
      if (authorizer) connection.authorizer = authorizer;
      this.connections.set(connection.id, connection);
      this.armTimers(connection);
      ws.on('message', (data: RawData, isBinary: boolean) => this.onMessage(connection, data, isBinary));
      ws.on('ping', () => this.touch(connection));
      ws.on(
        'close',
        (code: number, reason: Buffer) => void this.onClose(connection, code, reason.toString()),
      );
      ws.on('error', () => ws.terminate());
    });
  }

  private armTimers(connection: Connection): void {
    connection.maxTimer = setTimeout(() => connection.socket.close(1001, 'Going away'), this.maxConnectionMs);
    this.touch(connection);
  }

  private touch(connection: Connection): void {
    connection.lastActiveAt = Date.now();
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    connection.idleTimer = setTimeout(() => connection.socket.close(1001, 'Going away'), this.idleTimeoutMs);
  }

  private selectRoute(body: string): string {
    if (!this.selectionField) return '$default';
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed === 'object' && parsed !== null) {
        const value = (parsed as Record<string, unknown>)[this.selectionField];
        if (typeof value === 'string' && this.routes.has(value)) return value;
      }
    } catch {
      // Not JSON: API Gateway cannot evaluate the expression and falls back to $default.
    }
    return '$default';
  }

  private onMessage(connection: Connection, data: RawData, isBinary: boolean): void {
    this.touch(connection);
    const buffer = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    const body = isBinary ? buffer.toString('base64') : buffer.toString('utf8');
    const routeKey = isBinary ? '$default' : this.selectRoute(body);
    if (!this.routes.has(routeKey)) {
      connection.socket.send(
        JSON.stringify({ message: 'Forbidden', connectionId: connection.id, requestId: randomUUID() }),
      );
      return;
    }
    const event = {
      requestContext: this.requestContext(connection, {
        routeKey,
        eventType: 'MESSAGE',
        messageDirection: 'IN',
        messageId: randomUUID(),
        ...(connection.authorizer ? { authorizer: connection.authorizer } : {}),
      }),
      body,
      isBase64Encoded: isBinary,
    };
    this.invokeRoute(routeKey, event).catch((error: Error) => {
      this.log(`${routeKey} failed: ${error.message}`);
      if (connection.socket.readyState === WebSocket.OPEN) {
        connection.socket.send(
          JSON.stringify({
            message: 'Internal server error',
            connectionId: connection.id,
            requestId: randomUUID(),
          }),
        );
      }
    });
  }

  private async onClose(connection: Connection, code: number, reason: string): Promise<void> {
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    if (connection.maxTimer) clearTimeout(connection.maxTimer);
    if (this.connections.get(connection.id) !== connection) return;
    this.connections.delete(connection.id);
    if (this.options.faults().dropDisconnect) return;
    const event = {
      headers: {},
      requestContext: this.requestContext(connection, {
        routeKey: '$disconnect',
        eventType: 'DISCONNECT',
        messageDirection: 'IN',
        disconnectStatusCode: code,
        disconnectReason: reason,
        ...(connection.authorizer ? { authorizer: connection.authorizer } : {}),
      }),
      isBase64Encoded: false,
    };
    try {
      await this.invokeRoute('$disconnect', event);
    } catch (error) {
      this.log(`$disconnect failed: ${(error as Error).message}`);
    }
  }

  /**
   * Runs the $connect route's Lambda REQUEST authorizer as API Gateway does: a missing identity source is
   * a 401 without calling it; an `Unauthorized` error is a 401, a Deny policy a 403, any other failure a
   * 500. An Allow yields the context that every later route sees as requestContext.authorizer.
   */
  private async authorizeConnect(
    authorization: Extract<RouteAuthorization, { type: 'CUSTOM' }>,
    headers: Record<string, string>,
    query: Record<string, string>,
    requestContext: Record<string, unknown>,
  ): Promise<Record<string, unknown> | number> {
    for (const source of authorization.identitySource) {
      if (readIdentitySource(source, { headers, query, context: requestContext }) === undefined) return 401;
    }
    const lambda = this.options.lambdas.get(authorization.functionKey);
    if (!lambda) return 500;
    const event = {
      type: 'REQUEST',
      methodArn: `arn:aws:execute-api:${this.options.region}:${this.options.accountId}:${this.options.api.logicalId}/${this.stage}/$connect`,
      headers,
      multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
      queryStringParameters: query,
      multiValueQueryStringParameters: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])),
      stageVariables: {},
      requestContext,
    };
    let result: AuthorizerResult | undefined;
    try {
      result = await lambda.invoke<AuthorizerResult>(event);
    } catch (error) {
      if ((error as Error).message === 'Unauthorized') return 401;
      this.log(`authorizer failed: ${(error as Error).message}`);
      return 500;
    }
    const statements = result?.policyDocument?.Statement ?? [];
    const effects = statements.map((statement) => statement.Effect);
    if (effects.includes('Deny') || !effects.includes('Allow')) return 403;
    return { ...(result?.context ?? {}), principalId: result?.principalId };
  }

  /** Handles `/<stage>/@connections/{id}`; returns false when the path is not the Management API. */
  handleManagement(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://local');
    const prefix = `/${this.stage}/@connections/`;
    if (!url.pathname.startsWith(prefix)) return false;
    void this.management(req, res, decodeURIComponent(url.pathname.slice(prefix.length)));
    return true;
  }

  private async management(req: IncomingMessage, res: ServerResponse, connectionId: string): Promise<void> {
    const reply = (
      status: number,
      errorType?: string,
      body: unknown = errorType ? { message: errorType } : undefined,
    ) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(text)),
        ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
      });
      res.end(text);
    };
    const body = await readBody(req, MAX_MESSAGE_BYTES);
    // An oversized body is not kept, so its signature cannot be checked: answer 413 as API Gateway does.
    if (body === undefined) {
      reply(413, 'PayloadTooLargeException');
      return;
    }
    const faults = this.options.faults();
    const url = new URL(req.url ?? '/', 'http://local');
    const signed = await this.options.authorizers.verifyIam({
      method: req.method ?? 'GET',
      host: req.headers.host ?? this.options.domainName,
      path: url.pathname,
      query: url.searchParams,
      headers: headersOf(req),
      body,
    });
    if (!signed.ok) {
      reply(
        403,
        signed.reason === 'missing' ? 'MissingAuthenticationTokenException' : 'InvalidSignatureException',
      );
      return;
    }
    if (faults.latencyMs > 0) await sleep(faults.latencyMs);
    if (!this.rateLimiter.tryAcquire(faults.rateLimitPerSecond)) {
      reply(429, 'LimitExceededException');
      return;
    }
    const connection = this.connections.get(connectionId);
    if (!connection) {
      reply(410, 'GoneException');
      return;
    }
    switch (req.method) {
      case 'POST': {
        if (faults.slowRate > 0 && Math.random() < faults.slowRate) await sleep(faults.slowMs);
        if (faults.goneRate > 0 && Math.random() < faults.goneRate) {
          // The connection vanished without a $disconnect: exactly the case the fan-out must clean up.
          this.connections.delete(connectionId);
          connection.socket.terminate();
          reply(410, 'GoneException');
          return;
        }
        if (faults.throttleRate > 0 && Math.random() < faults.throttleRate) {
          reply(429, 'LimitExceededException');
          return;
        }
        if (faults.errorRate > 0 && Math.random() < faults.errorRate) {
          reply(500, 'InternalServerErrorException');
          return;
        }
        if (connection.socket.readyState !== WebSocket.OPEN) {
          reply(410, 'GoneException');
          return;
        }
        connection.socket.send(body.toString('utf8'));
        reply(200);
        return;
      }
      case 'GET':
        // The wire names are camelCase (the SDK maps them to ConnectedAt, Identity, LastActiveAt).
        reply(200, undefined, {
          connectedAt: new Date(connection.connectedAt).toISOString(),
          lastActiveAt: new Date(connection.lastActiveAt).toISOString(),
          identity: { sourceIp: connection.sourceIp, userAgent: connection.userAgent },
        });
        return;
      case 'DELETE':
        connection.socket.close(1000, 'Deleted');
        reply(204);
        return;
      default:
        reply(405, 'MethodNotAllowed');
    }
  }

  /**
   * Drops every connection at once, without close frames and without $disconnect, as when the gateway
   * process dies: the rows stay behind for the fan-out's 410 cleanup or the TTL. Returns how many.
   */
  dropAllConnections(): number {
    const dropped = this.connections.size;
    for (const connection of this.connections.values()) {
      if (connection.idleTimer) clearTimeout(connection.idleTimer);
      if (connection.maxTimer) clearTimeout(connection.maxTimer);
      connection.socket.terminate();
    }
    this.connections.clear();
    return dropped;
  }

  /** Closes every connection without running $disconnect: the gateway is going away. */
  async stop(): Promise<void> {
    this.dropAllConnections();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
