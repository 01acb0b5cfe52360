import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { NotFoundError, PayloadTooLargeError, ValidationError } from '../../../lambda/shared/errors';
import {
  errorResponse,
  json,
  MAX_JSON_BODY_BYTES,
  parseJsonBody,
  rawBody,
  toErrorResponse,
} from '../../../lambda/shared/http';
import { logger, metrics } from '../../../lambda/shared/telemetry';

function httpEvent(body: string | undefined, isBase64Encoded = false): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /things',
    rawPath: '/things',
    rawQueryString: '',
    headers: {},
    isBase64Encoded,
    body,
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path: '/things',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.1',
        userAgent: 'jest',
      },
      requestId: 'req-1',
      routeKey: 'POST /things',
      stage: '$default',
      time: '26/Nov/2026:06:00:00 +0000',
      timeEpoch: 1_795_000_000_000,
    },
  };
}

afterEach(() => jest.restoreAllMocks());

describe('responses', () => {
  it('json sets the status, the content type and the serialised body', () => {
    // Act
    const response = json(201, { id: 'x' });

    // Assess
    expect(response).toEqual({
      statusCode: 201,
      headers: { 'content-type': 'application/json' },
      body: '{"id":"x"}',
    });
  });

  it('errorResponse uses the {detail} shape', () => {
    // Act
    const response = errorResponse(404, 'Not Found');

    // Assess
    expect(response.statusCode).toBe(404);
    expect(JSON.parse(String(response.body))).toEqual({ detail: 'Not Found' });
  });
});

describe('request bodies', () => {
  it('decodes base64 bodies', () => {
    // Prepare
    const event = httpEvent(Buffer.from('{"a":1}').toString('base64'), true);

    // Act / Assess
    expect(rawBody(event)).toBe('{"a":1}');
    expect(parseJsonBody(event)).toEqual({ a: 1 });
  });

  it('treats a missing body as empty', () => {
    // Act / Assess
    expect(rawBody(httpEvent(undefined))).toBe('');
  });

  it.each([
    ['a missing body', undefined],
    ['a blank body', '  '],
    ['invalid JSON', '{"a":'],
  ])('refuses %s with a ValidationError', (_name, body) => {
    // Act
    const parse = (): unknown => parseJsonBody(httpEvent(body));

    // Assess
    expect(parse).toThrow(ValidationError);
  });

  it('refuses a body over the limit with a PayloadTooLargeError', () => {
    // Prepare
    const event = httpEvent(JSON.stringify({ pad: 'x'.repeat(MAX_JSON_BODY_BYTES) }));

    // Act
    const parse = (): unknown => parseJsonBody(event);

    // Assess
    expect(parse).toThrow(PayloadTooLargeError);
  });
});

describe('toErrorResponse', () => {
  it.each([
    [new ValidationError('bad'), 400],
    [new NotFoundError('missing'), 404],
    [new PayloadTooLargeError('big'), 413],
  ])('maps %p to its status with its message as detail', (error, status) => {
    // Act
    const response = toErrorResponse(error);

    // Assess
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(String(response.body))).toEqual({ detail: error.message });
  });

  it('answers anything else with a 500 that reveals nothing, and logs and counts it', () => {
    // Prepare
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = toErrorResponse(new Error('table xyz throttled'));

    // Assess
    expect(response.statusCode).toBe(500);
    expect(JSON.parse(String(response.body))).toEqual({ detail: 'Internal server error' });
    expect(logError).toHaveBeenCalled();
    expect(addMetric).toHaveBeenCalledWith('UnhandledErrors', 'Count', 1);
  });
});
