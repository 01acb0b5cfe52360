import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RouteAuthorizers } from '../auth/authorizers';
import {
  AsyncInvocations,
  errorOf,
  type AsyncInvokeStats,
  type DeadLetterRecord,
  type StreamDeadLetter,
} from './async-invocations';
import type { LocalLambda } from './lambda-runtime';
import type { LocalFunction } from '../cloudformation/local-model';
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
 *   A function with reserved concurrency runs at most that many at once: an event beyond it is throttled
 *   and waits in the queue, as on Lambda (this is what keeps the fan-out workers to their cap).
 * - `RequestResponse` (the default): invokes and answers the result, or 200 with `X-Amz-Function-Error`;
 *   429 TooManyRequestsException when the function is at its reserved concurrency.
 * - `DryRun`: 204 once the function is found and the caller is authorised.
 * FunctionName is the function's local name (what a `Ref` to it resolves to), its ARN or partial ARN.
 */
export const INVOKE_PATH = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/;
/** Lambda's payload quotas: https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html */
export const MAX_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;
export const MAX_ASYNC_PAYLOAD_BYTES = 1024 * 1024;

export type { AsyncInvokeStats, DeadLetter, DeadLetterRecord, StreamDeadLetter } from './async-invocations';

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

export class LocalLambdaInvokeApi {
  private readonly byName = new Map<string, LocalFunction>();
  private readonly events: AsyncInvocations;

  constructor(private readonly options: LambdaInvokeApiOptions) {
    for (const fn of options.functions) this.byName.set(fn.functionName, fn);
    this.events = new AsyncInvocations({
      lambdas: options.lambdas,
      functionArn: (fn) => this.functionArn(fn),
      ...(options.retryDelayMs === undefined ? {} : { retryDelayMs: options.retryDelayMs }),
      ...(options.log ? { log: options.log } : {}),
    });
  }

  get deadLetters(): readonly DeadLetterRecord[] {
    return this.events.deadLetters;
  }

  /** Keeps what a stream event source mapping gave up on in the same list, in the order it happened. */
  addStreamDeadLetter(letter: StreamDeadLetter): void {
    this.events.addStreamDeadLetter(letter);
  }

  clearDeadLetters(): void {
    this.events.clearDeadLetters();
  }

  stats(): AsyncInvokeStats {
    return this.events.stats();
  }

  /** Resolves once no accepted Event invocation is running or waiting for a retry. */
  idle(): Promise<void> {
    return this.events.idle();
  }

  /** Drops the retries still waiting; runs in flight finish (or fail) without being retried. */
  stop(): void {
    this.events.stop();
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
        this.events.accept(fn, payload, requestId);
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
    if (!this.events.acquire(fn)) {
      return reply(
        res,
        429,
        { message: 'Rate Exceeded.', Reason: 'ReservedFunctionConcurrentInvocationLimitExceeded' },
        'TooManyRequestsException',
        requestId,
      );
    }
    try {
      const result = await lambda.invoke(payload);
      reply(res, 200, result ?? null, undefined, requestId, { 'x-amz-executed-version': '$LATEST' });
    } catch (error) {
      const { name, message } = errorOf(error);
      reply(res, 200, { errorType: name, errorMessage: message, trace: [] }, undefined, requestId, {
        'x-amz-executed-version': '$LATEST',
        'x-amz-function-error': 'Unhandled',
      });
    } finally {
      this.events.release(fn);
    }
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
