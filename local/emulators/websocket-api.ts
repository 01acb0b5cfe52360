import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { isRecord } from '../../contracts/json';
import { isHttpToken, SEC_WEBSOCKET_PROTOCOL } from '../../contracts/websocket-auth';
import { runRequestAuthorizer } from '../auth/lambda-request-authorizer';
import type { LocalApi } from '../cloudformation/local-model';
import type { FaultSettings } from '../devtools/faults';
import { headersOf, refuseUpgrade, requestUrl } from '../http-io';
import type { LocalLambda } from './lambda-runtime';

/** API Gateway's WebSocket quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html */
export const MAX_MESSAGE_BYTES = 128 * 1024;
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
export const DEFAULT_MAX_CONNECTION_MS = 2 * 60 * 60 * 1000;
/** API Gateway's predefined routes: run on connect, on disconnect, or when nothing else matches. */
const SPECIAL_ROUTE_KEYS: ReadonlySet<string> = new Set(['$connect', '$disconnect', '$default']);

/** One open client connection, as the Management API reports it. */
export interface Connection {
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

export interface WebSocketApiOptions {
  api: LocalApi;
  lambdas: Map<string, LocalLambda>;
  domainName: string;
  accountId: string;
  region: string;
  faults: () => FaultSettings;
  idleTimeoutMs?: number;
  maxConnectionMs?: number;
  log?: (message: string) => void;
}

type RouteResult = { statusCode?: number; body?: string; headers?: Record<string, unknown> } | undefined;

/**
 * The client side of an API Gateway WebSocket API:
 * - upgrades on `/<stage>` run the `$connect` route (after its Lambda authorizer, if any); a non-2xx
 *   answer refuses the upgrade; a 2xx answer's `Sec-WebSocket-Protocol` header is the handshake's (API
 *   Gateway negotiates no subprotocol itself: without that header a client that offered some fails the
 *   handshake, as browsers and the `ws` client do);
 * - each text frame is routed on the route selection expression (`$request.body.action`), falling back to
 *   `$default`; a closed socket runs `$disconnect`;
 * - idle and maximum-duration limits close connections as API Gateway does (configurable for tests).
 */
export class LocalWebSocketApi {
  /** The subprotocol each pending upgrade answers with: the one its $connect integration returned. */
  private readonly selectedProtocols = new WeakMap<IncomingMessage, string>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    // Never ws's default (the first protocol offered, which may be the one carrying a token): only what
    // the integration answered, as on API Gateway.
    handleProtocols: (_offered, req) => this.selectedProtocols.get(req) ?? false,
  });
  private readonly connections = new Map<string, Connection>();
  private readonly routes = new Map<string, string>();
  private readonly idleTimeoutMs: number;
  private readonly maxConnectionMs: number;
  private readonly selectionField: string | undefined;

  constructor(private readonly options: WebSocketApiOptions) {
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

  connection(id: string): Connection | undefined {
    return this.connections.get(id);
  }

  /** The connection vanishes without a close frame or $disconnect, as when a client's network dies. */
  vanish(id: string): void {
    const connection = this.connections.get(id);
    this.connections.delete(id);
    connection?.socket.terminate();
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

  private async invokeRoute(routeKey: string, event: Record<string, unknown>): Promise<RouteResult> {
    const functionKey = this.routes.get(routeKey);
    if (!functionKey) return undefined;
    const lambda = this.options.lambdas.get(functionKey);
    if (!lambda) throw new Error(`No local function ${functionKey}`);
    const result = await lambda.invoke<RouteResult>(event);
    return result ?? {};
  }

  /** Handles an HTTP upgrade on this gateway's server; returns false when the path is not ours. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = requestUrl(req);
    if (!url || (url.pathname !== `/${this.stage}` && url.pathname !== `/${this.stage}/`)) return false;
    this.connect(req, socket, head, url).catch((error: Error) => {
      this.log(`$connect failed: ${error.message}`);
      if (socket.writable) refuseUpgrade(socket, 500);
    });
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
    const multiValueHeaders = multiValueHeadersOf(req);
    const event = {
      headers,
      multiValueHeaders,
      ...(url.search ? { queryStringParameters: query } : {}),
      requestContext: this.requestContext(pending, {
        routeKey: '$connect',
        eventType: 'CONNECT',
        messageDirection: 'IN',
      }),
      isBase64Encoded: false,
    };
    let authorizer: Record<string, unknown> | undefined;
    const connectAuthorization = this.options.api.routes.find(
      (r) => r.routeKey === '$connect',
    )?.authorization;
    if (connectAuthorization?.type === 'CUSTOM') {
      const { region, accountId, api } = this.options;
      const outcome = await runRequestAuthorizer({
        authorization: connectAuthorization,
        lambdas: this.options.lambdas,
        methodArn: `arn:aws:execute-api:${region}:${accountId}:${api.logicalId}/${this.stage}/$connect`,
        headers,
        multiValueHeaders,
        query,
        requestContext: event.requestContext,
        log: (message) => this.log(message),
      });
      if (typeof outcome === 'number') return refuseUpgrade(socket, outcome);
      authorizer = outcome;
      Object.assign(event.requestContext, { authorizer });
    }
    let statusCode: number;
    let protocol: string | undefined;
    try {
      const result = await this.invokeRoute('$connect', event);
      statusCode = result?.statusCode ?? 200;
      protocol = this.selectedProtocol(result?.headers, headers['sec-websocket-protocol']);
    } catch (error) {
      this.log(`$connect failed: ${(error as Error).message}`);
      statusCode = 500;
    }
    if (statusCode < 200 || statusCode > 299) return refuseUpgrade(socket, statusCode);
    if (protocol !== undefined) this.selectedProtocols.set(req, protocol);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      this.selectedProtocols.delete(req);
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

  /**
   * The `Sec-WebSocket-Protocol` the $connect integration answered with, passed on as it is (the client
   * checks it is one it offered). A client that offered protocols and gets none back fails the handshake:
   * said here, since the client cannot say why.
   */
  private selectedProtocol(
    responseHeaders: Record<string, unknown> | undefined,
    offered: string | undefined,
  ): string | undefined {
    const name = SEC_WEBSOCKET_PROTOCOL.toLowerCase();
    const answer = Object.entries(responseHeaders ?? {}).find(([key]) => key.toLowerCase() === name)?.[1];
    if (typeof answer === 'string' && isHttpToken(answer)) return answer;
    if (answer !== undefined) {
      this.log(`$connect answered an invalid ${SEC_WEBSOCKET_PROTOCOL} header; it is not sent`);
    } else if (offered !== undefined) {
      this.log(
        `$connect answered without ${SEC_WEBSOCKET_PROTOCOL}, but the client offered subprotocols: ` +
          'browsers fail this handshake',
      );
    }
    return undefined;
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

  /**
   * The route a message goes to. The selection expression only ever picks one of the API's own routes: the
   * special ones are not selectable by a message, so `{"action":"$disconnect"}` goes to `$default` like any
   * unmatched value, as on API Gateway (and never runs the handler that deletes the sender's rows).
   */
  private selectRoute(body: string): string {
    if (!this.selectionField) return '$default';
    try {
      const parsed: unknown = JSON.parse(body);
      if (isRecord(parsed)) {
        const value = parsed[this.selectionField];
        if (typeof value === 'string' && !SPECIAL_ROUTE_KEYS.has(value) && this.routes.has(value))
          return value;
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
    clearTimers(connection);
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
   * Drops every connection at once, without close frames and without $disconnect, as when the gateway
   * process dies: the rows stay behind for the fan-out's 410 cleanup or the TTL. Returns how many.
   */
  dropAllConnections(): number {
    const dropped = this.connections.size;
    for (const connection of this.connections.values()) {
      clearTimers(connection);
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

/** Every header's values, one entry per occurrence, names lower-cased: API Gateway's multiValueHeaders. */
function multiValueHeadersOf(req: IncomingMessage): Record<string, string[]> {
  const headers: Record<string, string[]> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values) headers[name.toLowerCase()] = values;
  }
  return headers;
}

function clearTimers(connection: Connection): void {
  if (connection.idleTimer) clearTimeout(connection.idleTimer);
  if (connection.maxTimer) clearTimeout(connection.maxTimer);
}
