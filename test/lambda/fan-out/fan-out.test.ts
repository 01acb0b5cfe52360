import {
  ApiGatewayManagementApiClient,
  ApiGatewayManagementApiServiceException,
  GoneException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { mockClient } from 'aws-sdk-client-mock';
import type { RetryPolicy } from '../../../contracts/backoff';
import { fanOut, type FanOutDependencies } from '../../../lambda/fan-out/fan-out';
import { createManagementClient } from '../../../lambda/shared/aws-clients';
import { ManagementApiNotifier } from '../../../lambda/shared/connection-notifier';
import type { ConnectionAudience } from '../../../lambda/shared/connection-repository';
import { logger } from '../../../lambda/shared/telemetry';

const api = mockClient(ApiGatewayManagementApiClient);
const POLICY: RetryPolicy = { maxAttempts: 6, baseMs: 100, maxMs: 1000 };

function serviceError(name: string, httpStatusCode: number): Error {
  return new ApiGatewayManagementApiServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });
}

const throttled = (): Error => serviceError('LimitExceededException', 429);

/** The real notifier and SDK client (retries off, as the handlers build it) over a mocked Management API. */
function dependencies(overrides: Partial<FanOutDependencies> = {}): {
  deps: FanOutDependencies;
  removed: string[];
  delays: number[];
} {
  const removed: string[] = [];
  const delays: number[] = [];
  const connections = {
    removeConnection: jest.fn(async (connectionId: string) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      removed.push(connectionId);
      return 2;
    }),
  } as unknown as ConnectionAudience;
  const deps: FanOutDependencies = {
    connections,
    notifier: new ManagementApiNotifier(
      createManagementClient('https://ws.example.com/dev', { maxAttempts: 1 }),
    ),
    concurrency: 4,
    retry: POLICY,
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0.5,
    ...overrides,
  };
  return { deps, removed, delays };
}

const pushes = (connectionId: string): number =>
  api.commandCalls(PostToConnectionCommand).filter((call) => call.args[0].input.ConnectionId === connectionId)
    .length;

beforeEach(() => {
  api.reset();
  api.on(PostToConnectionCommand).resolves({});
  jest.restoreAllMocks();
});

describe('fanOut', () => {
  it('retries a throttled push (429) and counts it delivered with one retry', async () => {
    // Prepare
    api.on(PostToConnectionCommand, { ConnectionId: 'a' }).rejectsOnce(throttled()).resolves({});
    const { deps, delays } = dependencies();

    // Act
    const result = await fanOut([['a', 'b']], '{"type":"x"}', deps);

    // Assess
    expect(result).toMatchObject({ connectionCount: 2, delivered: 2, stale: 0, retried: 1, failed: 0 });
    expect(result.retryableFailedConnectionIds).toEqual([]);
    expect(pushes('a')).toBe(2);
    expect(pushes('b')).toBe(1);
    // Full jitter: random 0.5 of the first ceiling, baseMs.
    expect(delays).toEqual([50]);
  });

  it('gives up on a persistent 5xx after maxAttempts, backing off exponentially up to the cap', async () => {
    // Prepare
    api.on(PostToConnectionCommand, { ConnectionId: 'a' }).rejects(serviceError('InternalServerError', 500));
    const { deps, delays } = dependencies();
    const logError = jest.spyOn(logger, 'error');

    // Act
    const result = await fanOut([['a', 'b']], 'x', deps);

    // Assess
    expect(result).toMatchObject({ connectionCount: 2, delivered: 1, stale: 0, retried: 5, failed: 1 });
    expect(result.retryableFailedConnectionIds).toEqual(['a']);
    expect(pushes('a')).toBe(6);
    // Ceilings 100, 200, 400, 800, then capped at 1000; random 0.5 of each.
    expect(delays).toEqual([50, 100, 200, 400, 500]);
    expect(logError).toHaveBeenCalledWith(
      'Delivery to connection failed',
      expect.objectContaining({ connectionId: 'a', errorName: 'InternalServerError', attempts: 6 }),
    );
  });

  it('retries a network error, where no HTTP answer arrived', async () => {
    // Prepare
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    api.on(PostToConnectionCommand).rejectsOnce(reset).rejectsOnce(reset).resolves({});
    const { deps } = dependencies();

    // Act
    const result = await fanOut([['a']], 'x', deps);

    // Assess
    expect(result).toMatchObject({ delivered: 1, retried: 2, failed: 0 });
  });

  it('never retries a 410: it deletes the connection, awaited, and counts it stale', async () => {
    // Prepare
    api
      .on(PostToConnectionCommand, { ConnectionId: 'gone' })
      .rejects(new GoneException({ message: 'gone', $metadata: { httpStatusCode: 410 } }));
    const { deps, removed, delays } = dependencies();

    // Act
    const result = await fanOut([['gone', 'live']], 'x', deps);

    // Assess
    expect(result).toMatchObject({ connectionCount: 2, delivered: 1, stale: 1, retried: 0, failed: 0 });
    expect(pushes('gone')).toBe(1);
    expect(removed).toEqual(['gone']);
    expect(delays).toEqual([]);
  });

  it.each([
    ['413', serviceError('PayloadTooLargeException', 413)],
    ['403', serviceError('ForbiddenException', 403)],
  ])('counts a %s as failed at once, without a retry or a delete', async (_status, error) => {
    // Prepare
    api.on(PostToConnectionCommand).rejects(error);
    const { deps, removed, delays } = dependencies();
    const logError = jest.spyOn(logger, 'error');

    // Act
    const result = await fanOut([['a']], 'x', deps);

    // Assess
    expect(result).toMatchObject({ delivered: 0, stale: 0, retried: 0, failed: 1 });
    // Refused for good: nothing for a later generation to retry.
    expect(result.retryableFailedConnectionIds).toEqual([]);
    expect(pushes('a')).toBe(1);
    expect(removed).toEqual([]);
    expect(delays).toEqual([]);
    expect(logError).toHaveBeenCalledWith(
      'Delivery to connection failed',
      expect.objectContaining({ connectionId: 'a', errorName: error.name, retryable: false }),
    );
  });

  it('makes exactly one attempt per connection with maxAttempts 1', async () => {
    // Prepare
    api.on(PostToConnectionCommand).rejects(throttled());
    const { deps } = dependencies({ retry: { ...POLICY, maxAttempts: 1 } });

    // Act
    const result = await fanOut([['a', 'b']], 'x', deps);

    // Assess
    expect(result).toMatchObject({ delivered: 0, retried: 0, failed: 2 });
    expect(api).toHaveReceivedCommandTimes(PostToConnectionCommand, 2);
  });

  it('keeps a connection in its concurrency slot while it waits out its backoff', async () => {
    // Prepare: every first attempt is throttled; the sleep holds until released.
    const ids = ['a', 'b', 'c', 'd', 'e'];
    for (const id of ids) api.on(PostToConnectionCommand, { ConnectionId: id }).rejectsOnce(throttled());
    let sleeping = 0;
    let maxSleeping = 0;
    const { deps } = dependencies({
      concurrency: 2,
      sleep: async () => {
        sleeping += 1;
        maxSleeping = Math.max(maxSleeping, sleeping);
        await new Promise((resolve) => setTimeout(resolve, 5));
        sleeping -= 1;
      },
    });

    // Act
    const result = await fanOut([ids], 'x', deps);

    // Assess
    expect(result).toMatchObject({ delivered: 5, retried: 5, failed: 0 });
    expect(maxSleeping).toBeLessThanOrEqual(2);
  });

  it('treats a notifier that throws as a retryable failure', async () => {
    // Prepare
    const send = jest
      .fn()
      .mockRejectedValueOnce(new Error('broke its contract'))
      .mockResolvedValue({ outcome: 'delivered' });
    const { deps } = dependencies({ notifier: { send } });

    // Act
    const result = await fanOut([['a']], 'x', deps);

    // Assess
    expect(result).toMatchObject({ delivered: 1, retried: 1, failed: 0 });
  });
});
