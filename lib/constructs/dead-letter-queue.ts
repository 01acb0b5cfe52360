import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { StageConfig } from '../config/stage-config';

/**
 * An SQS queue that holds what a function could not do, for an operator to read and redrive: encrypted
 * (SSE-SQS), refusing requests without TLS, keeping messages as long as SQS allows (14 days).
 */
export function createDeadLetterQueue(
  scope: Construct,
  id: string,
  stageConfig: StageConfig,
  /** Whose failures it holds, for the acknowledgement of its own missing DLQ. */
  holds: string,
): sqs.Queue {
  const queue = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy: stageConfig.removalPolicy,
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      `This queue is itself a dead-letter queue: ${holds}. Its records are read by an operator (and ` +
      'redriven), never by a consumer that could fail them again, so a DLQ behind it would only ever stay empty.',
  });
  return queue;
}
