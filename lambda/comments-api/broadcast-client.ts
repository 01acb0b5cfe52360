import { BroadcastRoutes, PREFER_HEADER, RESPOND_ASYNC } from '../../contracts/broadcast-routes';
import { CORRELATION_ID_HEADER } from '../../contracts/correlation';
import { isRecord } from '../../contracts/json';
import type { CommentChangeEvent } from '../../contracts/protocol';
import { countMetric, logger } from '../shared/telemetry';
import { MetricNames } from '../../contracts/telemetry-names';

/** How the comments API tells connected clients about a change: the port the comment service depends on. */
export interface BroadcastPublisher {
  /**
   * Never throws and never takes longer than its timeout: the change is already stored, and a client
   * that missed the push will still see it on its next read.
   */
  publish(event: CommentChangeEvent): Promise<void>;
  /** Live WebSocket connections. Throws when the broadcast API cannot say. */
  connectionCount(): Promise<number>;
}

export interface TransportRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/** The part of a fetch Response this client reads, so a transport need not build a full Response. */
export type TransportResponse = Pick<Response, 'ok' | 'status' | 'text'>;

/**
 * Sends one HTTP request. The only place requests leave this client: the IAM-authorised broadcast API
 * gets a transport that signs with SigV4 and then calls fetch (sigv4-transport.ts, wired in handler.ts).
 */
export type HttpTransport = (url: string, request: TransportRequest) => Promise<TransportResponse>;

export interface HttpBroadcastClientOptions {
  /** Broadcast API base URL, stage included, e.g. https://{apiId}.execute-api.{region}.amazonaws.com/dev */
  baseUrl: string;
  timeoutMs: number;
  /** @default global fetch, looked up per request */
  send?: HttpTransport;
  /**
   * The correlation id of the request being served, sent as `x-correlation-id` so that the broadcast and
   * its fan-out workers log under it. Part of the signed headers when the transport signs.
   * @default none: no header
   */
  correlationId?: () => string | undefined;
}

/** Enough of an error body to diagnose it, not enough to flood the log. */
const BODY_EXCERPT_CHARS = 500;

// Resolved at call time rather than captured, so a fetch replaced after this module loads is honoured.
const fetchTransport: HttpTransport = (url, request) => fetch(url, request);

/**
 * Settles with `work`, or rejects with the signal's reason as soon as it aborts. fetch honours the signal
 * by itself; this also bounds a transport that ignores it, and reading the body.
 */
function beforeAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function excerpt(text: string): string {
  return text.length > BODY_EXCERPT_CHARS ? `${text.slice(0, BODY_EXCERPT_CHARS)}…` : text;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function numberField(value: unknown, field: string): number | undefined {
  if (!isRecord(value)) return undefined;
  const candidate = value[field];
  return typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 0
    ? candidate
    : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The broadcast HTTP API (lambda/broadcast) as a BroadcastPublisher, the original's HTTP-to-WebSocket bridge. */
export class HttpBroadcastClient implements BroadcastPublisher {
  private readonly broadcastUrl: string;
  private readonly countUrl: string;
  private readonly timeoutMs: number;
  private readonly send: HttpTransport;
  private readonly correlationId: () => string | undefined;

  constructor({
    baseUrl,
    timeoutMs,
    send = fetchTransport,
    correlationId = () => undefined,
  }: HttpBroadcastClientOptions) {
    let base: URL;
    try {
      base = new URL(baseUrl);
    } catch {
      throw new Error(`Broadcast base URL must be an absolute http(s) URL, got "${baseUrl}"`);
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') {
      throw new Error(`Broadcast base URL must be an absolute http(s) URL, got "${baseUrl}"`);
    }
    if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
      throw new Error(`Broadcast timeout must be a positive number of milliseconds, got ${timeoutMs}`);
    }
    const root = baseUrl.replace(/\/+$/, '');
    this.broadcastUrl = root + BroadcastRoutes.broadcastComments.path;
    this.countUrl = root + BroadcastRoutes.connectionCount.path;
    this.timeoutMs = timeoutMs;
    this.send = send;
    this.correlationId = correlationId;
  }

  async publish(event: CommentChangeEvent): Promise<void> {
    const context = { type: event.type, postId: event.data.postId };
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const { ok, status, text } = await this.request(this.broadcastUrl, {
        method: BroadcastRoutes.broadcastComments.method,
        // The broadcast answers once the publish is queued, so a write never waits for its fan-out.
        headers: this.headers({ 'content-type': 'application/json', [PREFER_HEADER]: RESPOND_ASYNC }),
        body: JSON.stringify(event),
        signal,
      });
      if (!ok) {
        logger.error('Broadcast rejected', { ...context, status, body: excerpt(text) });
        countMetric(MetricNames.broadcastFailures);
        return;
      }
      logger.info('Broadcast sent', {
        ...context,
        connectionCount: numberField(parseJson(text), 'connectionCount'),
      });
    } catch (error) {
      if (signal.aborted) {
        logger.error('Broadcast timed out', { ...context, timeoutMs: this.timeoutMs });
        countMetric(MetricNames.broadcastTimeouts);
      } else {
        logger.error('Broadcast failed', { ...context, error: describe(error) });
        countMetric(MetricNames.broadcastFailures);
      }
    }
  }

  async connectionCount(): Promise<number> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    let answer: { ok: boolean; status: number; text: string };
    try {
      answer = await this.request(this.countUrl, {
        method: BroadcastRoutes.connectionCount.method,
        headers: this.headers({ accept: 'application/json' }),
        signal,
      });
    } catch (error) {
      if (signal.aborted) {
        throw new Error(`Broadcast API did not answer within ${this.timeoutMs} ms`, { cause: error });
      }
      throw new Error(`Broadcast API unreachable: ${describe(error)}`, { cause: error });
    }
    if (!answer.ok) throw new Error(`Broadcast API answered HTTP ${answer.status}`);
    const count = numberField(parseJson(answer.text), 'count');
    if (count === undefined) throw new Error('Broadcast API answer has no "count"');
    return count;
  }

  private headers(headers: Record<string, string>): Record<string, string> {
    const correlationId = this.correlationId();
    return correlationId === undefined ? headers : { ...headers, [CORRELATION_ID_HEADER]: correlationId };
  }

  /** One request, body included, bounded by the signal. Transport errors, even synchronous ones, reject. */
  private async request(
    url: string,
    request: TransportRequest,
  ): Promise<{ ok: boolean; status: number; text: string }> {
    const response = await beforeAbort(
      Promise.resolve().then(() => this.send(url, request)),
      request.signal,
    );
    const text = await beforeAbort(response.text(), request.signal);
    return { ok: response.ok, status: response.status, text };
  }
}
