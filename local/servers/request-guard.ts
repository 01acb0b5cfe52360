import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  BAD_REQUEST,
  hasMalformedEncoding,
  refuseUpgrade,
  requestUrl,
  sendInternalError,
  sendJson,
} from '../http-io';

/**
 * What stands between a socket and the local stack's routes, so that no request can take the stack down.
 * A target that is not a path, or whose path or query has malformed percent-encoding, is refused with 400
 * before any route sees it, as API Gateway and Lambda refuse it; after that every route can decode and parse
 * its URL without a URIError. A route that throws or rejects all the same is logged and costs its own
 * request a 500: an exception in a request listener would otherwise end the whole process.
 */
export type GuardedRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;
export type GuardedUpgrade = (
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  url: URL,
) => void | Promise<void>;

/** The URL of a request the local stack serves, or undefined for one it refuses with 400. */
function acceptedUrl(req: IncomingMessage): URL | undefined {
  const url = requestUrl(req);
  if (!url || hasMalformedEncoding(url.pathname, url.search.slice(1))) return undefined;
  return url;
}

/** Runs a handler so that neither a throw nor a rejection escapes it. */
function runGuarded(run: () => void | Promise<void>, onFailure: (error: unknown) => void): void {
  try {
    const pending = run();
    if (pending) pending.catch(onFailure);
  } catch (error) {
    onFailure(error);
  }
}

export function guardRequests(
  route: GuardedRoute,
  log: (message: string) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const url = acceptedUrl(req);
    if (!url) return sendJson(res, 400, BAD_REQUEST);
    runGuarded(
      () => route(req, res, url),
      (error) => {
        log(`${req.method ?? '?'} ${url.pathname} failed: ${describe(error)}`);
        sendInternalError(res);
      },
    );
  };
}

export function guardUpgrades(
  upgrade: GuardedUpgrade,
  log: (message: string) => void,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  return (req, socket, head) => {
    // A client that vanishes mid-handshake must cost its socket, never the whole local stack.
    socket.on('error', () => socket.destroy());
    const url = acceptedUrl(req);
    if (!url) return refuseUpgrade(socket, 400);
    runGuarded(
      () => upgrade(req, socket, head, url),
      (error) => {
        log(`upgrade ${url.pathname} failed: ${describe(error)}`);
        if (socket.writable) refuseUpgrade(socket, 500);
        else socket.destroy();
      },
    );
  };
}

const describe = (error: unknown): string => (error instanceof Error ? error.message : String(error));
