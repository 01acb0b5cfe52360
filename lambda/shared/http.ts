import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError, PayloadTooLargeError, ServiceUnavailableError, ValidationError } from './errors';
import { countMetric, logger } from './telemetry';
import { MetricNames } from '../../contracts/telemetry-names';

/** HTTP API (payload format 2.0) helpers shared by the comments and broadcast APIs. */

export type HttpResult = APIGatewayProxyStructuredResultV2;

/** Bodies above this are refused before parsing: no route of ours needs more. */
export const MAX_JSON_BODY_BYTES = 64 * 1024;

export function json(statusCode: number, body: unknown): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

/** Errors use FastAPI's `{detail}` shape, as the original backend did, so existing clients keep working. */
export function errorResponse(statusCode: number, detail: string): HttpResult {
  return json(statusCode, { detail });
}

// fatal: a byte sequence that is not UTF-8 is refused, never stored as U+FFFD in its place.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request body as text. API Gateway hands over a body it could not pass as text base64-encoded; one
 * that is not valid UTF-8 is a 400, rather than text with replacement characters in place of its bytes.
 */
export function rawBody(event: APIGatewayProxyEventV2): string {
  if (event.body === undefined || event.body === null) return '';
  if (!event.isBase64Encoded) return event.body;
  try {
    return strictUtf8.decode(Buffer.from(event.body, 'base64'));
  } catch {
    throw new ValidationError('Request body is not valid UTF-8');
  }
}

export function parseJsonBody(event: APIGatewayProxyEventV2, maxBytes = MAX_JSON_BODY_BYTES): unknown {
  const body = rawBody(event);
  if (Buffer.byteLength(body, 'utf8') > maxBytes) {
    throw new PayloadTooLargeError(`Request body exceeds ${maxBytes} bytes`);
  }
  if (body.trim() === '') {
    throw new ValidationError('Request body must be a JSON object');
  }
  try {
    return JSON.parse(body);
  } catch {
    throw new ValidationError('Request body is not valid JSON');
  }
}

/**
 * Maps what a route threw to a response: domain errors to their status with `{detail}`, anything else to
 * a 500 that says nothing internal, after logging and counting it.
 */
export function toErrorResponse(error: unknown): HttpResult {
  if (error instanceof ServiceUnavailableError) {
    const response = errorResponse(error.statusCode, error.message);
    return { ...response, headers: { ...response.headers, 'retry-after': String(error.retryAfterSeconds) } };
  }
  if (error instanceof DomainError) {
    return errorResponse(error.statusCode, error.message);
  }
  if (isCapacityRefusal(error)) {
    logger.warn('Refused for capacity; answering 503', { errorName: (error as Error).name });
    countMetric(MetricNames.capacityRefusals);
    return toErrorResponse(new ServiceUnavailableError('The service is busy; try again in a moment'));
  }
  logger.error('Unhandled error', { error: error as Error });
  countMetric(MetricNames.unhandledErrors);
  return errorResponse(500, 'Internal server error');
}

/** DynamoDB's (and Lambda's) own words for "too much right now": nothing was done, a retry may work. */
const CAPACITY_ERROR_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'StoreBusyError',
  'SeqContentionError',
]);

function isCapacityRefusal(error: unknown): boolean {
  return error instanceof Error && CAPACITY_ERROR_NAMES.has(error.name);
}
