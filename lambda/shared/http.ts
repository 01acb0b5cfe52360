import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError, PayloadTooLargeError, ValidationError } from './errors';
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

export function rawBody(event: APIGatewayProxyEventV2): string {
  if (event.body === undefined || event.body === null) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
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
  if (error instanceof DomainError) {
    return errorResponse(error.statusCode, error.message);
  }
  logger.error('Unhandled error', { error: error as Error });
  countMetric(MetricNames.unhandledErrors);
  return errorResponse(500, 'Internal server error');
}
