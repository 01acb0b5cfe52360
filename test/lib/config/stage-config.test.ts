import { RemovalPolicy } from 'aws-cdk-lib';
import { CommentsApiRoutes } from '../../../contracts/comments-api-routes';
import {
  DEFAULT_STAGE,
  STAGE_NAMES,
  UnknownStageError,
  resolveStageConfig,
  stageConfigs,
} from '../../../lib/config/stage-config';

describe('resolveStageConfig', () => {
  it('resolves dev when no stage is given', () => {
    expect(DEFAULT_STAGE).toBe('dev');
    expect(resolveStageConfig(undefined)).toBe(stageConfigs.dev);
  });

  it.each(STAGE_NAMES)('resolves %s to its own config', (stage) => {
    expect(resolveStageConfig(stage).stageName).toBe(stage);
  });

  it.each(['qa', 'Prod', '', 42, null])('rejects %p, naming the valid stages', (stage) => {
    expect(() => resolveStageConfig(stage)).toThrow(UnknownStageError);
    expect(() => resolveStageConfig(stage)).toThrow(/Valid stages: dev, prod/);
  });
});

describe('stageConfigs', () => {
  it('keeps prod data: retained (but not after a failed creation), point-in-time recoverable, deletion protected', () => {
    expect(stageConfigs.prod).toMatchObject({
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      pointInTimeRecovery: true,
      deletionProtection: true,
    });
  });

  it('lets dev data go', () => {
    expect(stageConfigs.dev).toMatchObject({
      removalPolicy: RemovalPolicy.DESTROY,
      pointInTimeRecovery: false,
      deletionProtection: false,
    });
  });

  it.each(STAGE_NAMES)('gives %s connection rows 2 hours plus a 15-minute margin', (stage) => {
    expect(stageConfigs[stage].connectionTtlSeconds).toBe(8100);
  });

  it.each(STAGE_NAMES)('keeps %s comment change events for replay 24 hours', (stage) => {
    expect(stageConfigs[stage].eventRetentionSeconds).toBe(24 * 60 * 60);
  });

  it.each(STAGE_NAMES)('gives %s positive throttles with a burst at least the rate', (stage) => {
    const { webSocketThrottle, httpThrottle, fanOutConcurrency, broadcastTimeoutMs } = stageConfigs[stage];
    for (const throttle of [webSocketThrottle, httpThrottle]) {
      expect(throttle.rateLimit).toBeGreaterThan(0);
      expect(throttle.burstLimit).toBeGreaterThanOrEqual(throttle.rateLimit);
    }
    expect(fanOutConcurrency).toBeGreaterThan(0);
    expect(broadcastTimeoutMs).toBeGreaterThan(0);
  });

  it.each(STAGE_NAMES)('keeps the %s stream mapping settings within what Lambda accepts', (stage) => {
    const { batchSize, parallelizationFactor, maxRetryAttempts, maxRecordAgeSeconds } =
      stageConfigs[stage].publishing;
    expect(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 10_000).toBe(true);
    expect(Number.isInteger(parallelizationFactor) && parallelizationFactor >= 1).toBe(true);
    expect(parallelizationFactor).toBeLessThanOrEqual(10);
    expect(Number.isInteger(maxRetryAttempts) && maxRetryAttempts >= 0).toBe(true);
    expect(maxRetryAttempts).toBeLessThanOrEqual(10_000);
    expect(maxRecordAgeSeconds).toBeGreaterThanOrEqual(60);
    // A stream keeps records 24 hours: a longer maximum age could never be reached.
    expect(maxRecordAgeSeconds).toBeLessThanOrEqual(24 * 60 * 60);
  });

  it.each(STAGE_NAMES)(
    'reserves a positive %s worker concurrency and keeps its batches 1 to 6 hours',
    (stage) => {
      const { fanOutWorkerConcurrency, fanOutMaxEventAgeSeconds } = stageConfigs[stage];
      expect(Number.isInteger(fanOutWorkerConcurrency) && fanOutWorkerConcurrency > 0).toBe(true);
      // Lambda keeps an asynchronous event at most 6 hours.
      expect(fanOutMaxEventAgeSeconds).toBeGreaterThanOrEqual(60 * 60);
      expect(fanOutMaxEventAgeSeconds).toBeLessThanOrEqual(6 * 60 * 60);
    },
  );

  it.each(STAGE_NAMES)(
    'gives %s a Cognito user pool, no anonymous subscribers and 20 subscriptions',
    (stage) => {
      expect(stageConfigs[stage]).toMatchObject({
        identity: { kind: 'cognito' },
        allowAnonymousSubscribers: false,
        maxSubscriptionsPerConnection: 20,
      });
    },
  );

  it('turns on Cognito threat protection in prod only', () => {
    expect(stageConfigs.prod.identity).toEqual({ kind: 'cognito', threatProtection: true });
    expect(stageConfigs.dev.identity).toEqual({ kind: 'cognito' });
  });

  it.each(STAGE_NAMES)(
    'throttles exactly the %s comments API write routes, each tighter than the stage',
    (stage) => {
      const { commentsApiRouteThrottle, httpThrottle } = stageConfigs[stage];
      expect(Object.keys(commentsApiRouteThrottle).sort()).toEqual(
        [
          CommentsApiRoutes.createPost,
          CommentsApiRoutes.createComment,
          CommentsApiRoutes.updateComment,
          CommentsApiRoutes.deleteComment,
        ].sort(),
      );
      for (const throttle of Object.values(commentsApiRouteThrottle)) {
        expect(throttle.rateLimit).toBeGreaterThan(0);
        expect(throttle.burstLimit).toBeGreaterThanOrEqual(throttle.rateLimit);
        expect(throttle.rateLimit).toBeLessThan(httpThrottle.rateLimit);
        expect(throttle.burstLimit).toBeLessThan(httpThrottle.burstLimit);
      }
    },
  );
});
