import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import {
  DynamoDBServiceException,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
} from '@aws-sdk/client-dynamodb';
import { TooManyRequestsException } from '@aws-sdk/client-lambda';
import { SeqContentionError, StoreBusyError } from '../../../lambda/shared/comment-repository';
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  UnauthorizedError,
  UnprocessableEntityError,
  ValidationError,
} from '../../../lambda/shared/errors';
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

/** What `act` threw; a test that expects a throw fails here if nothing was thrown. */
function thrownBy(act: () => unknown): unknown {
  try {
    act();
  } catch (error) {
    return error;
  }
  throw new Error('Expected a throw');
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

  it('decodes a base64 body of multi-byte UTF-8 as it was sent', () => {
    // Prepare
    const event = httpEvent(Buffer.from('{"content":"héllo ✓ 😀"}', 'utf8').toString('base64'), true);

    // Act / Assess
    expect(parseJsonBody(event)).toEqual({ content: 'héllo ✓ 😀' });
  });

  it.each([
    ['a Latin-1 byte', Buffer.from('{"content":"caf\xe9"}', 'latin1')],
    ['a lone continuation byte', Buffer.from([0x7b, 0x80, 0x7d])],
    ['a truncated sequence', Buffer.from([0x22, 0xe2, 0x9c, 0x22])],
    ['an encoded surrogate', Buffer.from([0xed, 0xa0, 0x80])],
  ])('refuses a base64 body holding %s with a 400, storing no replacement characters', (_name, bytes) => {
    // Prepare
    const event = httpEvent(bytes.toString('base64'), true);

    // Act
    const read = (): unknown => rawBody(event);
    const parse = (): unknown => parseJsonBody(event);

    // Assess
    expect(read).toThrow(new ValidationError('Request body is not valid UTF-8'));
    expect(parse).toThrow(ValidationError);
    const response = toErrorResponse(thrownBy(parse));
    expect(response.statusCode).toBe(400);
    expect(JSON.parse(String(response.body))).toEqual({ detail: 'Request body is not valid UTF-8' });
  });

  it('leaves a body that is not base64-encoded as API Gateway passed it', () => {
    // Prepare: API Gateway has already decoded text bodies; a U+FFFD in one was sent as such
    const event = httpEvent('{"a":"\uFFFD"}');

    // Act / Assess
    expect(rawBody(event)).toBe('{"a":"\uFFFD"}');
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
    [new UnauthorizedError('who'), 401],
    [new ForbiddenError('not yours'), 403],
    [new ConflictError('not that event'), 409],
    [new UnprocessableEntityError('key reused'), 422],
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

  it('answers ServiceUnavailableError with a 503 and its Retry-After', () => {
    // Act
    const response = toErrorResponse(new ServiceUnavailableError('Too busy', 7));

    // Assess
    expect(response).toEqual({
      statusCode: 503,
      headers: { 'content-type': 'application/json', 'retry-after': '7' },
      body: JSON.stringify({ detail: 'Too busy' }),
    });
  });

  it('asks for a retry after one second unless told otherwise', () => {
    // Act
    const response = toErrorResponse(new ServiceUnavailableError('Too busy'));

    // Assess
    expect(response.headers).toMatchObject({ 'retry-after': '1' });
  });

  it.each([
    [
      'DynamoDB’s ProvisionedThroughputExceededException',
      new ProvisionedThroughputExceededException({ message: 'x', $metadata: {} }),
    ],
    ['DynamoDB’s RequestLimitExceeded', new RequestLimitExceeded({ message: 'x', $metadata: {} })],
    ['Lambda’s TooManyRequestsException', new TooManyRequestsException({ message: 'x', $metadata: {} })],
    [
      'an unmodelled ThrottlingException',
      new DynamoDBServiceException({
        name: 'ThrottlingException',
        $fault: 'client',
        $metadata: {},
        message: 'Rate exceeded',
      }),
    ],
    ['StoreBusyError', new StoreBusyError()],
    ['SeqContentionError', new SeqContentionError('P1', 50, 5000)],
  ])('answers %s with a 503 and Retry-After that reveals nothing, and counts it', (_name, error) => {
    // Prepare
    const logError = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const response = toErrorResponse(error);

    // Assess
    expect(response.statusCode).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1' });
    expect(JSON.parse(String(response.body))).toEqual({
      detail: 'The service is busy; try again in a moment',
    });
    expect(addMetric).toHaveBeenCalledWith('CapacityRefusals', 'Count', 1);
    expect(addMetric).not.toHaveBeenCalledWith('UnhandledErrors', 'Count', 1);
    expect(logError).not.toHaveBeenCalled();
  });

  it('answers a 500, not a 503, for an error that only mentions throttling in its message', () => {
    // Act
    const response = toErrorResponse(new Error('ThrottlingException'));

    // Assess
    expect(response.statusCode).toBe(500);
    expect(response.headers).not.toHaveProperty('retry-after');
  });
});
