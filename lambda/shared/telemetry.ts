import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';

/**
 * One logger and one metrics sink per function. The service name comes from POWERTOOLS_SERVICE_NAME,
 * which each function's construct sets; metrics go out as CloudWatch Embedded Metric Format log lines.
 */
export const logger = new Logger();
export const metrics = new Metrics({ namespace: 'RealtimeComments' });

export { MetricUnit };

export function countMetric(name: string, value = 1): void {
  if (value > 0) metrics.addMetric(name, MetricUnit.Count, value);
}

/** Wraps a handler so stored metrics are flushed after every invocation, even a failed one. */
export function instrumented<E, R>(handler: (event: E) => Promise<R>): (event: E) => Promise<R> {
  return async (event: E) => {
    try {
      return await handler(event);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
