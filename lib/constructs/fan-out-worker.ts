import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EnvNames } from '../../contracts/env-names';
import { ServiceNames } from '../../contracts/telemetry-names';
import type { StageConfig } from '../config/stage-config';
import { createDeadLetterQueue } from './dead-letter-queue';
import { grantInvokeSelf, grantPostToConnection } from './grants';
import { HandlerFunction } from './handler-function';

/** What every function that pushes to connections is given: where to push, and how (docs/fan-out.md). */
export function deliveryEnvironment(
  stageConfig: StageConfig,
  webSocketStage: apigwv2.WebSocketStage,
): Record<string, string> {
  return {
    [EnvNames.managementEndpoint]: webSocketStage.callbackUrl,
    [EnvNames.fanOutConcurrency]: String(stageConfig.fanOutConcurrency),
    [EnvNames.fanOutMaxAttempts]: String(stageConfig.fanOutRetry.maxAttempts),
    [EnvNames.fanOutRetryBaseMs]: String(stageConfig.fanOutRetry.baseMs),
    [EnvNames.fanOutRetryMaxMs]: String(stageConfig.fanOutRetry.maxMs),
  };
}

export interface FanOutWorkerProps {
  readonly stageConfig: StageConfig;
  readonly connectionsTable: ITable;
  readonly webSocketStage: apigwv2.WebSocketStage;
}

/**
 * The function that delivers one batch of a large audience per asynchronous invocation, its retries and
 * its dead-letter queue. At most `fanOutWorkerConcurrency` instances run at once; a batch Lambda could not
 * run (throttled) or that failed every retry is kept for `fanOutMaxEventAgeSeconds`, then dead-lettered
 * with exactly the connections it did not reach.
 */
export class FanOutWorker extends Construct {
  readonly handler: HandlerFunction;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: FanOutWorkerProps) {
    super(scope, id);
    const { stageConfig, connectionsTable, webSocketStage } = props;
    this.deadLetterQueue = createDeadLetterQueue(
      this,
      'DeadLetterQueue',
      stageConfig,
      "the on-failure destination of the fan-out worker (each record's requestPayload is a worker batch)",
    );
    this.handler = new HandlerFunction(this, 'Handler', {
      entry: 'lambda/fan-out-worker/handler.ts',
      serviceName: ServiceNames.fanOutWorker,
      description: 'Delivers one batch of a large broadcast (asynchronous invocations)',
      stageConfig,
      // A batch takes a fraction of a second; retries of a throttled batch can take seconds.
      timeout: Duration.seconds(60),
      reservedConcurrency: stageConfig.fanOutWorkerConcurrency,
      memorySize: stageConfig.fanOutMemoryMb,
      environment: {
        ...deliveryEnvironment(stageConfig, webSocketStage),
        [EnvNames.fanOutMaxGenerations]: String(stageConfig.fanOutMaxGenerations),
      },
    }).bindTable(EnvNames.connectionsTable, connectionsTable, 'readDelete');
    grantPostToConnection(webSocketStage, this.handler);
    // Lambda retries a failed event twice, then hands it to the queue (the grant to send comes with it).
    this.handler.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.seconds(stageConfig.fanOutMaxEventAgeSeconds),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
    // The worker hands the ids that still failed on to a new invocation of itself.
    grantInvokeSelf(this.handler, 'HandOnPolicy');
  }
}
