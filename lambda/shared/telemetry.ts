import { AsyncLocalStorage } from 'node:async_hooks';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context } from 'aws-lambda';
import { EnvNames } from '../../contracts/env-names';
import { optionalEnv } from '../../contracts/env-reader';
import { METRICS_NAMESPACE, type MetricName } from '../../contracts/telemetry-names';

/**
 * One logger, one metrics sink and one tracer per function. The service name comes from
 * POWERTOOLS_SERVICE_NAME, which each function's construct sets; logs are JSON lines, metrics go out as
 * CloudWatch Embedded Metric Format log lines.
 */
export const logger = new Logger();
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE });
/**
 * AWS X-Ray, through Powertools. On in Lambda, where every function has active tracing. Off, and silent,
 * wherever AWS_EXECUTION_ENV is not set (tests, the local stack) or POWERTOOLS_TRACE_ENABLED is `false`
 * (which test/setup.ts sets, and the local stack should, so that neither relies on the first rule): then
 * captureAWSv3Client hands clients back untouched and nothing looks for a trace context.
 */
export const tracer = new Tracer();

export { MetricUnit };

export function countMetric(name: MetricName, value = 1): void {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
}

export function durationMetric(name: MetricName, milliseconds: number): void {
  metrics.addMetric(name, MetricUnit.Milliseconds, Math.max(0, milliseconds));
}

interface InvocationState {
  readonly correlationId: string | undefined;
}

// The logger's keys are module state, which is right in Lambda (one invocation at a time per execution
// environment; where Lambda runs several at once it sets AWS_LAMBDA_MAX_CONCURRENCY and Powertools keeps
// the keys per invocation). The local stack runs concurrent invocations in one worker thread without
// that, so there a log line can miss its keys or show another invocation's. What leaves the function (a
// header, a worker event) therefore takes the correlation id from the invocation's own async context.
const invocation = new AsyncLocalStorage<InvocationState>();

/** The correlation id of the invocation this code runs in, or undefined outside {@link instrumented}. */
export function currentCorrelationId(): string | undefined {
  return invocation.getStore()?.correlationId;
}

export interface InstrumentedOptions<E> {
  /**
   * Reads the invocation's correlation id from its event: a valid `x-correlation-id` header, a field of
   * a worker event, an API Gateway request id.
   * @default Lambda's request id (context.awsRequestId)
   */
  readonly correlationId?: (event: E) => string | undefined;
}

export type InstrumentedHandler<E, R> = (event: E, context?: Context) => Promise<R>;

interface HandlerTrace {
  close(): void;
}

/**
 * A subsegment around the handler, annotated (and so searchable in X-Ray) with the cold start, the service
 * and the correlation id. The handler's response is not recorded: it can hold user content.
 */
function traceHandler(correlationId: string | undefined): HandlerTrace | undefined {
  if (!tracer.isTracingEnabled()) return undefined;
  const segment = tracer.getSegment();
  if (segment === undefined) return undefined;
  const subsegment = segment.addNewSubsegment(`## ${optionalEnv(EnvNames.lambdaHandler, 'handler')}`);
  tracer.setSegment(subsegment);
  tracer.annotateColdStart();
  tracer.addServiceNameAnnotation();
  if (correlationId !== undefined) tracer.putAnnotation('correlation_id', correlationId);
  return {
    close() {
      subsegment.close();
      tracer.setSegment(segment);
    },
  };
}

/**
 * Wraps a handler for Lambda. Per invocation it:
 * - starts the logger from a clean slate (resetKeys) and adds the Lambda context (request id, cold
 *   start) and `correlation_id`; and clears the keys again when done, so no id outlives its invocation;
 * - traces the handler in a subsegment of its own (in Lambda);
 * - flushes the stored metrics after every invocation, even a failed one.
 * Why not Powertools' middy middlewares (injectLambdaContext, captureLambdaHandler, logMetrics): they would
 * add middy to every bundle, and none runs the handler in the AsyncLocalStorage context above, which is how
 * the correlation id reaches what leaves the function (a header, a worker event) under concurrent invocations.
 */
export function instrumented<E, R>(
  handler: (event: E, context?: Context) => Promise<R>,
  options: InstrumentedOptions<E> = {},
): InstrumentedHandler<E, R> {
  return async (event: E, context?: Context) => {
    logger.resetKeys();
    if (context) logger.addContext(context);
    const correlationId = options.correlationId?.(event) ?? context?.awsRequestId;
    if (correlationId !== undefined) logger.appendKeys({ correlation_id: correlationId });
    const trace = traceHandler(correlationId);
    try {
      return await invocation.run({ correlationId }, () => handler(event, context));
    } catch (error) {
      if (trace) tracer.addErrorAsMetadata(error as Error);
      throw error;
    } finally {
      trace?.close();
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      logger.resetKeys();
    }
  };
}
