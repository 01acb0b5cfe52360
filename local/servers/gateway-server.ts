import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FaultSettings } from '../devtools/faults';
import { MAX_HTTP_API_PAYLOAD_BYTES, type LocalHttpApi } from '../emulators/http-api';
import type { LocalWebSocketGateway } from '../emulators/websocket-gateway';
import { readHttpRequest, refuseUnparsableRequest, refuseUpgrade, send, sendJson } from '../http-io';
import { guardRequests, guardUpgrades } from './request-guard';

/** A handler that answers the requests of its own paths and returns false for every other. */
export type RequestRoute = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface GatewayServerOptions {
  /**
   * Answered even while the gateway is down: the dev tools, and the Lambda Invoke API, which is Lambda's
   * and not API Gateway's.
   */
  alwaysUp: readonly RequestRoute[];
  /** A gateway outage (devtools/gateway-outage.ts): 503 for everything else, upgrades refused. */
  isDown(): boolean;
  webSocketGateways: readonly LocalWebSocketGateway[];
  /** HTTP APIs with a named stage (the broadcast API), served under `/<stage>/` as on execute-api. */
  httpApis: readonly LocalHttpApi[];
  faults(): FaultSettings;
  /** Takes a request that reached an HTTP API while that fault is on (devtools/crash-after-commit.ts). */
  crashAfterCommit?: RequestRoute;
  log: (message: string) => void;
}

/**
 * The gateway port: what a deployed stage serves on `execute-api` — WebSocket upgrades, the Management
 * API and stage-prefixed HTTP APIs — plus the local Lambda Invoke API and the dev tools that act on them.
 */
export function createGatewayServer(options: GatewayServerOptions): Server {
  const server = createServer(
    guardRequests(async (req, res, url) => {
      for (const route of options.alwaysUp) if (route(req, res)) return;
      if (options.isDown()) return sendJson(res, 503, { message: 'Service Unavailable' });
      for (const gateway of options.webSocketGateways) if (gateway.handleManagement(req, res)) return;
      const http = options.httpApis.find((h) => url.pathname.startsWith(`/${h.api.stageName}/`));
      if (!http) return sendJson(res, 404, { message: 'Not Found' });
      if (options.faults().broadcastUnavailable) {
        return sendJson(res, 503, { message: 'Service Unavailable' });
      }
      if (options.crashAfterCommit?.(req, res)) return;
      const pathBelowStage = url.pathname.slice(http.api.stageName.length + 1);
      const request = await readHttpRequest(req, url, pathBelowStage, MAX_HTTP_API_PAYLOAD_BYTES);
      if (!request) return sendJson(res, 413, { message: 'Request Entity Too Large' });
      send(res, await http.handle(request));
    }, options.log),
  );
  server.on(
    'upgrade',
    guardUpgrades((req, socket, head) => {
      if (options.isDown()) return refuseUpgrade(socket, 503);
      for (const gateway of options.webSocketGateways) if (gateway.handleUpgrade(req, socket, head)) return;
      refuseUpgrade(socket, 404);
    }, options.log),
  );
  server.on('clientError', refuseUnparsableRequest);
  return server;
}
