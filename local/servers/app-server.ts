import { createServer, type Server } from 'node:http';
import { createApiDescriptionRoute } from '../devtools/api-description';
import type { StaticFiles } from '../devtools/static-files';
import { MAX_HTTP_API_PAYLOAD_BYTES, type LocalHttpApi } from '../emulators/http-api';
import {
  readHttpRequest,
  refuseUnparsableRequest,
  send,
  sendJson,
  type HttpRequest,
  type HttpResponse,
} from '../http-io';
import { guardRequests } from './request-guard';

export interface AppServerOptions {
  /** HTTP APIs on the `$default` stage (the comments API), served from the root as on execute-api. */
  httpApis: readonly LocalHttpApi[];
  /** Everything under `/_local/`: the dev-only routes (devtools/dev-token-routes.ts). */
  devRoutes(request: HttpRequest): Promise<HttpResponse>;
  /** The demo page, for GET and HEAD requests no API route takes. */
  staticFiles: StaticFiles;
  log: (message: string) => void;
}

/** The app port: the comments API and the demo page on one origin, so the page needs no CORS. */
export function createAppServer(options: AppServerOptions): Server {
  const apiDescription = createApiDescriptionRoute();
  const server = createServer(
    guardRequests(async (req, res, url) => {
      const request = await readHttpRequest(req, url, url.pathname, MAX_HTTP_API_PAYLOAD_BYTES);
      if (!request) return sendJson(res, 413, { message: 'Request Entity Too Large' });
      if (url.pathname.startsWith('/_local/')) return send(res, await options.devRoutes(request));
      const description = apiDescription(request.method, url.pathname);
      if (description) return send(res, description);
      const http = options.httpApis.find((h) => h.matches(request.method, request.path));
      if (http) return send(res, await http.handle(request));
      const file =
        req.method === 'GET' || req.method === 'HEAD' ? await options.staticFiles(url.pathname) : undefined;
      if (file) return send(res, file);
      sendJson(res, 404, { message: 'Not Found' });
    }, options.log),
  );
  server.on('clientError', refuseUnparsableRequest);
  return server;
}
