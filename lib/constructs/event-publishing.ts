import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { EnvNames } from '../../contracts/env-names';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';
import { ServiceNames } from '../../contracts/telemetry-names';
import type { StageConfig } from '../config/stage-config';
import { createDeadLetterQueue } from './dead-letter-queue';
import { deliveryEnvironment } from './fan-out-worker';
import { grantInvoke, grantPostToConnection } from './grants';
import { HandlerFunction } from './handler-function';

export interface EventPublishingProps {
  readonly stageConfig: StageConfig;
  /** Its stream is the outbox; its events and publish cursors are read and moved. */
  readonly commentsTable: ITable;
  readonly connectionsTable: ITable;
  readonly webSocketStage: apigwv2.WebSocketStage;
  /** Large audiences are cut into batches for it. */
  readonly fanOutWorker: HandlerFunction;
}

/** How long the publisher may run on one batch: waits out a fast path's claim, then fans out. */
export const PUBLISHER_TIMEOUT = Duration.seconds(60);

/**
 * A publishing function's claim on an event outlives the function itself by a second, so that a claim is
 * only ever taken over from a holder that is certainly dead (docs/fan-out.md, "Publishing").
 */
export function claimTtlMs(timeout: Duration): string {
  return String(timeout.toMilliseconds() + 1000);
}

/**
 * The durable publishing path: a DynamoDB Stream on the comments table, filtered to inserted event rows,
 * consumed by the publisher function in seq order per post, with retries, bisection on error, a maximum
 * record age and a failure queue that holds exactly the records that were not published.
 */
export class EventPublishing extends Construct {
  readonly handler: HandlerFunction;
  /** Stream batches that failed every retry: each message names the records (shard, sequence numbers). */
  readonly failureQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: EventPublishingProps) {
    super(scope, id);
    const { stageConfig, commentsTable, connectionsTable, webSocketStage, fanOutWorker } = props;
    const { publishing } = stageConfig;
    this.failureQueue = createDeadLetterQueue(
      this,
      'FailureQueue',
      stageConfig,
      'the failure destination of the comments stream publisher (each message names the stream records not published)',
    );
    this.handler = new HandlerFunction(this, 'Handler', {
      entry: 'lambda/event-publisher/handler.ts',
      serviceName: ServiceNames.eventPublisher,
      description: 'Publishes every stored comment event the fast path did not (comments table stream)',
      stageConfig,
      timeout: PUBLISHER_TIMEOUT,
      memorySize: stageConfig.fanOutMemoryMb,
      wildcardGrant: {
        actions: ['dynamodb:ListStreams'],
        why:
          'the DynamoDB event source mapping needs it to find the stream, and ListStreams supports no ' +
          'resource-level permissions (the DynamoDB service authorization reference lists no resource type for it)',
      },
      environment: {
        ...deliveryEnvironment(stageConfig, webSocketStage),
        [EnvNames.fanOutBatchSize]: String(stageConfig.fanOutBatchSize),
        [EnvNames.fanOutWorkerFunctionName]: fanOutWorker.function.functionName,
        [EnvNames.publishClaimTtlMs]: claimTtlMs(PUBLISHER_TIMEOUT),
      },
    })
      .bindTable(EnvNames.commentsTable, commentsTable, 'readUpdate')
      .bindTable(EnvNames.connectionsTable, connectionsTable, 'readDelete');
    grantPostToConnection(webSocketStage, this.handler);
    grantInvoke(this.handler, fanOutWorker);
    this.handler.function.addEventSource(
      new DynamoEventSource(commentsTable, {
        // From the oldest record kept (24 h): a mapping created after events were written still publishes
        // them; those already published are skipped by their claim.
        startingPosition: lambda.StartingPosition.TRIM_HORIZON,
        batchSize: publishing.batchSize,
        parallelizationFactor: publishing.parallelizationFactor,
        retryAttempts: publishing.maxRetryAttempts,
        maxRecordAge: Duration.seconds(publishing.maxRecordAgeSeconds),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.failureQueue),
        // Only inserted event rows: posts, comments, counters and cursors change too, and are not events.
        filters: [
          lambda.FilterCriteria.filter({
            eventName: lambda.FilterRule.isEqual('INSERT'),
            dynamodb: {
              NewImage: {
                [commentsTableSchema.sortKey.name]: {
                  S: lambda.FilterRule.beginsWith(commentKeys.eventPrefix),
                },
              },
            },
          }),
        ],
      }),
    );
  }
}
