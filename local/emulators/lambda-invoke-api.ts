import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteAuthorizers } from '../auth/authorizers';
import type { LocalLambda } from './lambda-runtime';
import type { StreamOnFailureRecord } from './stream-records';
import { DEFAULT_ASYNC_RETRY_ATTEMPTS, type LocalFunction } from '../cloudformation/local-model';
import { DEAD_LETTERS_PATH } from '../devtools/control-paths';
import { decodeComponent, errorTypeHeader, headersOf, readBody, requestUrl, sendJson } from '../http-io';

/**
 * The local stand-in for the Lambda Invoke API (`POST /2015-03-31/functions/{FunctionName}/invocations`),
 * which the functions reach through the SDK's LambdaClient with `endpoint` set to the local gateway
 * (LAMBDA_ENDPOINT). Requests are SigV4-verified like every other local AWS endpoint. It runs:
 * - `X-Amz-Invocation-Type: Event`: answers 202 at once and invokes the function in the background. A
 *   failed run (an error or a timeout) is retried as Lambda does, as many times as the function's
 *   EventInvokeConfig says (2 by default), with a delay that doubles; then the event is dead-lettered:
 *   logged, counted, and kept in a list shaped like the records Lambda sends to an on-failure destination
 *   (the dev tools serve it at `GET /_local/dead-letters`).
 * - `RequestResponse` (the default): invokes and answers the result, or 200 with `X-Amz-Function-Error`.
 * - `DryRun`: 204 once the function is found and the caller is authorised.
 * FunctionName is the function's local name (what a `Ref` to it resolves to), its ARN or partial ARN.
 */
export const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
/** Lambda's payload quotas: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
export const MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
export const MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024;
/** Lambda waits about a minute before the first retry and two before the second; locally it is seconds. */
export const DEFAULT_ASYNC_RETRY_DELAY_MS = 1000;

/** An exhausted async event, in the shape of the record Lambda sends to an on-failure destination. */
export interface DeadLetter {
  version: '1.0';
  timestamp: string;
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetriesExhausted' | 'EventAgeExceeded';
    approximateInvokeCount: number;
  };
  requestPayload: unknown;
  responseContext: { statusCode: 200; executedVersion: '$LATEST'; functionError: 'Unhandled' };
  responsePayload: { errorType: string; errorMessage: string };
  /** The on-failure destination the template configures (its local ARN); absent when there is none. */
  destination?: string;
}

/**
 * What a stream event source mapping sends to its on-failure destination for a batch it gave up on (where
 * the records are in the stream, not the records), tagged with that destination as a DeadLetter is.
 */
export type StreamDeadLetter = StreamOnFailureRecord & { destination?: string };

/** One entry of the dead-letter list: an exhausted async event, or a stream batch given up on. */
export type DeadLetterRecord = DeadLetter | StreamDeadLetter;

export interface AsyncInvokeStats {
  /** Event invocations accepted (202). */
  accepted: number;
  /** Runs retried after a failure. */
  retried: number;
  deadLettered: number;
  /** Events accepted and not yet finished: running, or waiting for a retry. */
  pending: number;
}

export interface LambdaInvokeApiOptions {
  functions: Iterable<LocalFunction>;
  /** By function key, as the gateways take them. */
  lambdas: Map<string, Pick<LocalLambda, 'invoke'>>;
  authorizers: RouteAuthorizers;
  region: string;
  accountId: string;
  /** Delay before the first retry of a failed Event invocation, doubled for each next one. */
  retryDelayMs?: number;
  log?: (message: string) => void;
}

interface AsyncEvent {
  fn: LocalFunction;
  payload: unknown;
  requestId: string;
  receivedAt: number;
  attempts: number;
}

interface LambdaError {
  name: string;
  message: string;
}

const errorOf = (error: unknown): LambdaError =>
  error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };

export class LocalLambdaInvokeApi {
  private readonly byName = new Map<string, LocalFunction>();
  private readonly retryDelayMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly letters: DeadLetterRecord[] = [];
  private readonly counts: AsyncInvokeStats = { accepted: 0, retried: 0, deadLettered: 0, pending: 0 };
  private stopped = false;

  constructor(private readonly options: LambdaInvokeApiOptions) {
    for (const fn of options.functions) this.byName.set(fn.functionName, fn);
    this.retryDelayMs = options.retryDelayMs ?? DEFAULT_ASYNC_RETRY_DELAY_MS;
  }

  get deadLetters(): readonly DeadLetterRecord[] {
    return this.letters;
  }

  /** Keeps what a stream event source mapping gave up on in the same list, in the order it happened. */
  addStreamDeadLetter(letter: StreamDeadLetter): void {
    this.letters.push(letter);
  }

  stats(): AsyncInvokeStats {
    return { ...this.counts };
  }

  /** Resolves once no accepted Event invocation is running or waiting for a retry. */
  idle(): Promise<void> {
    if (this.counts.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops the retries still waiting; runs in flight finish (or fail) without being retried. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  clearDeadLetters(): void {
    this.letters.length = 0;
  }

  /** Handles the Invoke API; returns false when the path is not an invocation. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = requestUrl(req);
    const match = url && INVOKE_PATH.exec(url.pathname);
    if (!match) return false;
    const name = decodeComponent(match[1] ?? '');
    if (name === undefined) {
      reply(res, 400, { message: 'Invalid function name' }, 'InvalidParameterValueException');
      return true;
    }
    this.invoke(req, res, url, name).catch((error: Error) => {
      if (res.headersSent) res.destroy();
      else reply(res, 500, { message: error.message }, 'ServiceException');
    });
    return true;
  }

  /** A function name, a full ARN or a partial ARN (`<account>:function:<name>`), with an optional `:$LATEST`. */
  private lookup(functionName: string, qualifier: string | null): LocalFunction | undefined {
    const match =
      /^(?:arn:[^:]+:lambda:[^:]*:)?(?:\d{12}:)?(?:function:)?([A-Za-z0-9_.-]+)(?::([^:]+))?$/.exec(
        functionName,
      );
    const version = match?.[2] ?? qualifier ?? '$LATEST';
    if (!match?.[1] || version !== '$LATEST') return undefined;
    return this.byName.get(match[1]);
  }

  private functionArn(fn: LocalFunction): string {
    return `arn:aws:lambda:${this.options.region}:${this.options.accountId}:function:${fn.functionName}`;
  }

  private async invoke(req: IncomingMessage, res: ServerResponse, url: URL, name: string): Promise<void> {
    if (req.method !== 'POST') return reply(res, 405, { message: 'Use POST' });
    const body = await readBody(req, MAX_SYNC_PAYLOAD_BYTES);
    if (body === undefined) {
      return reply(
        res,
        413,
        { message: `Request must be smaller than ${MAX_SYNC_PAYLOAD_BYTES} bytes` },
        'RequestTooLargeException',
      );
    }
    const headers = headersOf(req);
    const invocationType = headers['x-amz-invocation-type'] ?? 'RequestResponse';
    // Checked with the sync quota, before the signature and the JSON: an oversized event is a 413 whatever
    // else is wrong with it.
    if (invocationType === 'Event' && body.length > MAX_ASYNC_PAYLOAD_BYTES) {
      return reply(
        res,
        413,
        {
          message: `Request must be smaller than ${MAX_ASYNC_PAYLOAD_BYTES} bytes for the Event invocation type`,
        },
        'RequestTooLargeException',
      );
    }
    const signed = await this.options.authorizers.verifyIam({
      method: 'POST',
      host: req.headers.host ?? 'localhost',
      path: url.pathname,
      query: url.searchParams,
      headers,
      body,
    });
    if (!signed.ok) {
      const type =
        signed.reason === 'missing' ? 'MissingAuthenticationTokenException' : 'InvalidSignatureException';
      return reply(res, 403, { message: `Request refused: ${signed.reason}` }, type);
    }
    const fn = this.lookup(name, url.searchParams.get('Qualifier'));
    if (!fn) {
      return reply(res, 404, { message: `Function not found: ${name}` }, 'ResourceNotFoundException');
    }
    let payload: unknown = {};
    if (body.length > 0) {
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch {
        return reply(
          res,
          400,
          { message: 'Could not parse request body into json' },
          'InvalidRequestContentException',
        );
      }
    }
    const requestId = randomUUID();
    switch (invocationType) {
      case 'DryRun':
        return reply(res, 204, undefined, undefined, requestId);
      case 'Event':
        this.accept({ fn, payload, requestId, receivedAt: Date.now(), attempts: 0 });
        return reply(res, 202, undefined, undefined, requestId);
      case 'RequestResponse':
        return this.invokeSync(res, fn, payload, requestId);
      default:
        return reply(
          res,
          400,
          { message: `Invalid invocation type ${invocationType}` },
          'InvalidParameterValueException',
        );
    }
  }

  private async invokeSync(
    res: ServerResponse,
    fn: LocalFunction,
    payload: unknown,
    requestId: string,
  ): Promise<void> {
    const lambda = this.options.lambdas.get(fn.key);
    if (!lambda)
      return reply(
        res,
        404,
        { message: `Function not found: ${fn.functionName}` },
        'ResourceNotFoundException',
      );
    try {
      const result = await lambda.invoke(payload);
      reply(res, 200, result ?? null, undefined, requestId, { 'x-amz-executed-version': '$LATEST' });
    } catch (error) {
      const { name, message } = errorOf(error);
      reply(res, 200, { errorType: name, errorMessage: message, trace: [] }, undefined, requestId, {
        'x-amz-executed-version': '$LATEST',
        'x-amz-function-error': 'Unhandled',
      });
    }
  }

  private accept(event: AsyncEvent): void {
    this.counts.accepted += 1;
    this.counts.pending += 1;
    setImmediate(() => void this.run(event));
  }

  private async run(event: AsyncEvent): Promise<void> {
    const { fn } = event;
    const lambda = this.options.lambdas.get(fn.key);
    event.attempts += 1;
    try {
      if (!lambda) throw new Error(`No local runtime for ${fn.key}`);
      await lambda.invoke(event.payload);
      this.finish();
    } catch (error) {
      if (this.stopped) return this.finish();
      const failure = errorOf(error);
      const maxRetries = fn.asyncInvoke?.maximumRetryAttempts ?? DEFAULT_ASYNC_RETRY_ATTEMPTS;
      const maxAgeMs = (fn.asyncInvoke?.maximumEventAgeSeconds ?? Number.POSITIVE_INFINITY) * 1000;
      const delayMs = this.retryDelayMs * 2 ** (event.attempts - 1);
      if (event.attempts > maxRetries) return this.deadLetter(event, failure, 'RetriesExhausted');
      if (Date.now() + delayMs - event.receivedAt > maxAgeMs) {
        return this.deadLetter(event, failure, 'EventAgeExceeded');
      }
      this.counts.retried += 1;
      this.log(
        `${fn.functionName}: async invocation ${event.requestId} failed (attempt ${event.attempts} of ` +
          `${maxRetries + 1}): ${failure.name}: ${failure.message}; retrying in ${delayMs} ms`,
      );
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.run(event);
      }, delayMs);
      this.timers.add(timer);
    }
  }

  private deadLetter(
    event: AsyncEvent,
    failure: LambdaError,
    condition: DeadLetter['requestContext']['condition'],
  ): void {
    const letter: DeadLetter = {
      version: '1.0',
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: event.requestId,
        functionArn: `${this.functionArn(event.fn)}:$LATEST`,
        condition,
        approximateInvokeCount: event.attempts,
      },
      requestPayload: event.payload,
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      responsePayload: { errorType: failure.name, errorMessage: failure.message },
    };
    if (event.fn.asyncInvoke?.onFailure) letter.destination = event.fn.asyncInvoke.onFailure;
    this.letters.push(letter);
    this.counts.deadLettered += 1;
    this.log(
      `${event.fn.functionName}: async invocation ${event.requestId} dead-lettered after ${event.attempts} ` +
        `attempts (${condition}): ${failure.name}: ${failure.message} — see ${DEAD_LETTERS_PATH}`,
    );
    this.finish();
  }

  private finish(): void {
    this.counts.pending -= 1;
    if (this.counts.pending === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private log(message: string): void {
    this.options.log?.(message);
  }
}

/** Lambda's restJson1 answers: errors carry their type in `x-amzn-errortype`, as the SDK expects. */
function reply(
  res: ServerResponse,
  statusCode: number,
  body: unknown,
  errorType?: string,
  requestId: string = randomUUID(),
  extraHeaders: Record<string, string> = {},
): void {
  sendJson(res, statusCode, body, {
    'x-amzn-requestid': requestId,
    ...errorTypeHeader(errorType),
    ...extraHeaders,
  });
}
