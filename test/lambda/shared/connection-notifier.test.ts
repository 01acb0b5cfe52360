import {
  ApiGatewayManagementApiClient,
  ApiGatewayManagementApiServiceException,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import {
  encodeEvent,
  isRetryableDeliveryError,
  ManagementApiNotifier,
} from '../../../lambda/shared/connection-notifier';

const api = mockClient(ApiGatewayManagementApiClient);
const notifier = new ManagementApiNotifier(
  new ApiGatewayManagementApiClient({ endpoint: 'https://ws.example.com/dev' }),
);

beforeEach(() => api.reset());

describe('ManagementApiNotifier', () => {
  it('posts the payload bytes to that connection and reports delivered', async () => {
    // Prepare
    api.on(PostToConnectionCommand).resolves({});

    // Act
    const result = await notifier.send('conn-1', '{"type":"pong"}');

    // Assess
    expect(result).toEqual({ outcome: 'delivered' });
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 1);
    const input = api.commandCalls(PostToConnectionCommand)[0]?.args[0].input;
    expect(input?.ConnectionId).toBe('conn-1');
    expect(Buffer.from(input?.Data as Uint8Array).toString('utf8')).toBe('{"type":"pong"}');
  });

  it('reports a GoneException as gone', async () => {
    // Prepare
    api.on(PostToConnectionCommand).rejects(new GoneException({ message: 'gone', $metadata: {} }));

    // Act
    const result = await notifier.send('conn-1', 'x');

    // Assess
    expect(result).toEqual({ outcome: 'gone' });
  });

  it('reports a bare 410 as gone, as the SDK names it Unknown without the error-type header', async () => {
    // Prepare
    const error = new ApiGatewayManagementApiServiceException({
      name: 'Unknown',
      $fault: 'client',
      $metadata: { httpStatusCode: 410 },
    });
    api.on(PostToConnectionCommand).rejects(error);

    // Act
    const result = await notifier.send('conn-1', 'x');

    // Assess
    expect(result).toEqual({ outcome: 'gone' });
  });

  it('reports any other error as failed, with the error, and never throws', async () => {
    // Prepare
    const error = Object.assign(new Error('slow down'), { name: 'LimitExceededException' });
    api.on(PostToConnectionCommand).rejects(error);

    // Act
    const result = await notifier.send('conn-1', 'x');

    // Assess
    expect(result.outcome).toBe('failed');
    expect(result.error?.name).toBe('LimitExceededException');
    expect(result.retryable).toBe(true);
  });

  it('reports a 413 as a failure not worth retrying', async () => {
    // Prepare
    api.on(PostToConnectionCommand).rejects(serviceError('PayloadTooLargeException', 413));

    // Act
    const result = await notifier.send('conn-1', 'x');

    // Assess
    expect(result).toMatchObject({ outcome: 'failed', retryable: false });
  });
});

function serviceError(name: string, httpStatusCode: number): Error {
  return new ApiGatewayManagementApiServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });
}

describe('isRetryableDeliveryError', () => {
  it.each([
    ['429 LimitExceededException', serviceError('LimitExceededException', 429)],
    ['a throttle named so without a status', Object.assign(new Error('x'), { name: 'ThrottlingException' })],
    ['500', serviceError('InternalServerErrorException', 500)],
    ['503', serviceError('ServiceUnavailableException', 503)],
    ['a network error (no HTTP answer)', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ])('retries %s', (_name, error) => {
    expect(isRetryableDeliveryError(error)).toBe(true);
  });

  it.each([
    ['413 PayloadTooLargeException', serviceError('PayloadTooLargeException', 413)],
    ['403 ForbiddenException', serviceError('ForbiddenException', 403)],
    ['400 BadRequestException', serviceError('BadRequestException', 400)],
  ])('does not retry %s', (_name, error) => {
    expect(isRetryableDeliveryError(error)).toBe(false);
  });
});

describe('encodeEvent', () => {
  it('serialises the envelope as JSON', () => {
    // Act
    const payload = encodeEvent({ type: 'subscribed', data: { postId: 'p1' } });

    // Assess
    expect(JSON.parse(payload)).toEqual({ type: 'subscribed', data: { postId: 'p1' } });
  });
});
