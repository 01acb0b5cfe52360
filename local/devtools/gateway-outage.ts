import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, requestUrl, sendInternalError, sendJson } from '../http-io';
import { GATEWAY_CRASH_PATH } from './control-paths';

/** Longest outage the route accepts: ten minutes is long enough for any recovery test. */
const MAX_DOWN_MS = 600_000;
/** `{"downForMs": 600000}` and room to spare: anything bigger is not an outage request. */
const MAX_BODY_BYTES = 1024;

export interface GatewayOutageOptions {
  /** Drops every WebSocket connection without close frames or $disconnect; returns how many. */
  dropAllConnections(): number;
  log(message: string): void;
}

/**
 * `POST /_local/gateway/crash {"downForMs": n}`: the gateway dies — every connection drops without a
 * close frame or $disconnect — and answers nothing but 503 until it comes back, as API Gateway would
 * look to clients during an outage. Lambda (the Invoke API) keeps running, as it would on AWS, and so do
 * the dev tools.
 */
export class GatewayOutage {
  private downUntil = 0;

  constructor(private readonly options: GatewayOutageOptions) {}

  /** Whether the gateway is down now: its server then answers 503 and refuses upgrades. */
  isDown(): boolean {
    return Date.now() < this.downUntil;
  }

  /** Handles `/_local/gateway/crash`; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (requestUrl(req)?.pathname !== GATEWAY_CRASH_PATH) return false;
    this.answer(req, res).catch(() => sendInternalError(res));
    return true;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return sendJson(res, 405, { message: 'Use POST' });
    const body = await readBody(req, MAX_BODY_BYTES);
    // Never read as "no body, so the default outage": a body that is too big crashes nothing.
    if (body === undefined)
      return sendJson(res, 413, { message: `Body must be at most ${MAX_BODY_BYTES} bytes` });
    let downForMs: unknown;
    try {
      downForMs = (JSON.parse(body.toString('utf8') || '{}') as { downForMs?: unknown }).downForMs ?? 1000;
    } catch {
      return sendJson(res, 400, { message: 'Body must be JSON {"downForMs": <ms>}' });
    }
    if (
      typeof downForMs !== 'number' ||
      !Number.isInteger(downForMs) ||
      downForMs < 0 ||
      downForMs > MAX_DOWN_MS
    ) {
      return sendJson(res, 400, {
        message: `downForMs must be a whole number of milliseconds up to ${MAX_DOWN_MS}`,
      });
    }
    this.downUntil = Date.now() + downForMs;
    const dropped = this.options.dropAllConnections();
    this.options.log(`gateway crashed: ${dropped} connections dropped, back in ${downForMs} ms`);
    sendJson(res, 200, { dropped, downForMs });
  }
}
