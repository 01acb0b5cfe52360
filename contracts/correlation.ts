/**
 * Correlation ids: one id per comment request, carried from the comments API through the broadcast API to
 * every fan-out worker batch, and logged by each as `correlation_id`, so one CloudWatch Logs Insights
 * query (`filter correlation_id = "…"`) finds every line of one change across the functions.
 */
import { headerValue } from './headers';

/** The HTTP header a caller may set, and the comments API sets on its call to the broadcast API. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';

/**
 * The id alphabet of protocol.ts (`[A-Za-z0-9_-]`), plus `=`: an id that is not given is the API Gateway
 * request id (e.g. `JKJaXmPLvHcESHA=`, base64 with padding), which is also what the stage's access log
 * records as `requestId`. Anything else is not taken from a caller: a correlation id ends up in every log
 * line, so it must not be able to carry control characters, JSON or a megabyte of text.
 */
export const CORRELATION_ID_PATTERN = /^[A-Za-z0-9_=-]{1,64}$/;

export function isValidCorrelationId(value: unknown): value is string {
  return typeof value === 'string' && CORRELATION_ID_PATTERN.test(value);
}

/**
 * The caller's `x-correlation-id` when it is a valid id, else `fallback`. Header names are matched in any
 * case: HTTP API (payload 2.0) lower-cases them, other callers may not.
 */
export function correlationIdFromHeaders(
  headers: Readonly<Record<string, string | undefined>> | null | undefined,
  fallback: string | undefined,
): string | undefined {
  const given = headerValue(headers, CORRELATION_ID_HEADER);
  return isValidCorrelationId(given) ? given : fallback;
}
