import type { FilterCriteria } from './event-filter';
import type { DeliverySettings } from './stream-batch-delivery';

/** The AWS::Lambda::EventSourceMapping properties that shape delivery, named as in the template. */
export interface StreamEventSourceMappingSettings {
  readonly StartingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** @default 100 */
  readonly BatchSize?: number;
  /** @default 0 */
  readonly MaximumBatchingWindowInSeconds?: number;
  readonly FilterCriteria?: FilterCriteria;
  /** -1 is infinite. @default -1 */
  readonly MaximumRetryAttempts?: number;
  /** -1 is infinite. @default -1 */
  readonly MaximumRecordAgeInSeconds?: number;
  /** @default false */
  readonly BisectBatchOnFunctionError?: boolean;
  /** Concurrent batches per shard, split by partition key. @default 1 */
  readonly ParallelizationFactor?: number;
  readonly FunctionResponseTypes?: readonly string[];
}

export interface ResolvedMappingSettings extends DeliverySettings {
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly parallelization: number;
}

/**
 * Defaults applied and ranges checked as CreateEventSourceMapping checks them, so that a template AWS would
 * refuse fails the local stack too (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html).
 */
export function resolveMappingSettings(settings: StreamEventSourceMappingSettings): ResolvedMappingSettings {
  const integer = (
    name: keyof StreamEventSourceMappingSettings,
    fallback: number,
    min: number,
    max: number,
  ) => {
    const value = settings[name] ?? fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(value)}`);
    }
    return value;
  };
  if (settings.StartingPosition !== 'TRIM_HORIZON' && settings.StartingPosition !== 'LATEST') {
    throw new Error(
      `StartingPosition must be TRIM_HORIZON or LATEST for a DynamoDB stream, not ${settings.StartingPosition}`,
    );
  }
  const responseTypes = settings.FunctionResponseTypes ?? [];
  const unknownType = responseTypes.find((type) => type !== 'ReportBatchItemFailures');
  if (unknownType !== undefined)
    throw new Error(`FunctionResponseTypes has an unknown value "${unknownType}"`);
  const maxRecordAge = integer('MaximumRecordAgeInSeconds', -1, -1, 604_800);
  if (maxRecordAge >= 0 && maxRecordAge < 60) {
    throw new Error(`MaximumRecordAgeInSeconds must be -1 or from 60 to 604800, not ${maxRecordAge}`);
  }
  return {
    startingPosition: settings.StartingPosition,
    batchSize: integer('BatchSize', 100, 1, 10_000),
    batchingWindowMs: integer('MaximumBatchingWindowInSeconds', 0, 0, 300) * 1000,
    maxRetryAttempts: integer('MaximumRetryAttempts', -1, -1, 10_000),
    maxRecordAgeMs: maxRecordAge === -1 ? Infinity : maxRecordAge * 1000,
    bisectOnFunctionError: settings.BisectBatchOnFunctionError ?? false,
    reportBatchItemFailures: responseTypes.includes('ReportBatchItemFailures'),
    parallelization: integer('ParallelizationFactor', 1, 1, 10),
  };
}
