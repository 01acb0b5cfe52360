import { marshall } from '@aws-sdk/util-dynamodb';
import type { Template } from 'aws-cdk-lib/assertions';
import type { AttributeValue } from 'aws-lambda';
import { ENTRY_METADATA_KEY } from '../../../contracts/cfn-metadata';
import { commentKeys } from '../../../contracts/table-schema';
import { STAGE_NAMES, stageConfigs, type StageName } from '../../../lib/config/stage-config';
import { claimTtlMs, PUBLISHER_TIMEOUT } from '../../../lib/constructs/event-publishing';
import { compileFilterCriteria, type FilterCriteria } from '../../../local/emulators/event-filter';
import type { StreamLambdaRecord } from '../../../local/emulators/stream-records';
import { synthStage, type StackPart, type SynthesizedStage } from '../synth-stage';
import { importedOutput, logicalIdOf, refersTo } from '../template-queries';

/** Declarations only: nothing here reads a bundle. */
const bundle: readonly StackPart[] = [];

/**
 * The stage configs' publishing settings, spelled out: what a reviewer expects each stage to deploy.
 * Record ages and retries are bounded so that a poisoned record reaches the failure queue within hours.
 */
const MAPPING: Readonly<
  Record<StageName, { parallelizationFactor: number; maxRetryAttempts: number; maxRecordAgeSeconds: number }>
> = {
  dev: { parallelizationFactor: 2, maxRetryAttempts: 20, maxRecordAgeSeconds: 60 * 60 },
  prod: { parallelizationFactor: 10, maxRetryAttempts: 100, maxRecordAgeSeconds: 6 * 60 * 60 },
};

/** The filter as the mapping carries it: inserted rows whose sort key starts with `event#`, nothing else. */
const EVENT_ROW_PATTERN =
  '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"sk":{"S":[{"prefix":"event#"}]}}}}';

interface MappingProperties {
  FunctionName: unknown;
  EventSourceArn: unknown;
  StartingPosition: string;
  BatchSize: number;
  BisectBatchOnFunctionError: boolean;
  MaximumRetryAttempts: number;
  MaximumRecordAgeInSeconds: number;
  ParallelizationFactor: number;
  FunctionResponseTypes: string[];
  DestinationConfig: unknown;
  FilterCriteria: FilterCriteria;
}

function mappingOf(template: Template): MappingProperties {
  const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
  expect(mappings).toHaveLength(1);
  return (mappings[0] as { Properties: MappingProperties }).Properties;
}

describe.each(STAGE_NAMES)('EventPublishing (%s)', (stage) => {
  let synthesized: SynthesizedStage;
  let template: Template;

  beforeAll(() => {
    synthesized = synthStage(stage, bundle);
    template = synthesized.templates.realtime;
  });

  const publisher = () => synthesized.stacks.realtime.eventPublishing;
  const envOf = (): Record<string, unknown> =>
    template.toJSON().Resources[logicalIdOf(publisher().handler.function)].Properties.Environment.Variables;

  describe('stream event source mapping', () => {
    it("feeds the publisher from the comments table's stream, oldest record first", () => {
      const { data } = synthesized.stacks;
      const mapping = mappingOf(template);
      expect(mapping.FunctionName).toEqual({ Ref: logicalIdOf(publisher().handler.function) });
      expect(mapping.EventSourceArn).toEqual(
        importedOutput(data, synthesized.templates.data, {
          'Fn::GetAtt': [logicalIdOf(data.commentsTable), 'StreamArn'],
        }),
      );
      expect(mapping.StartingPosition).toBe('TRIM_HORIZON');
    });

    it('batches, retries, bisects and ages records out as the stage config says', () => {
      expect(mappingOf(template)).toMatchObject({
        BatchSize: 10,
        ParallelizationFactor: MAPPING[stage].parallelizationFactor,
        MaximumRetryAttempts: MAPPING[stage].maxRetryAttempts,
        MaximumRecordAgeInSeconds: MAPPING[stage].maxRecordAgeSeconds,
        BisectBatchOnFunctionError: true,
      });
      expect(stageConfigs[stage].publishing).toEqual({ batchSize: 10, ...MAPPING[stage] });
    });

    it('takes partial batch failures, so a failed record does not replay the ones published before it', () => {
      expect(mappingOf(template).FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    });

    it('sends what failed every retry to the failure queue', () => {
      expect(mappingOf(template).DestinationConfig).toEqual({
        OnFailure: { Destination: { 'Fn::GetAtt': [logicalIdOf(publisher().failureQueue), 'Arn'] } },
      });
    });

    it('filters on exactly one pattern: inserted event rows', () => {
      expect(mappingOf(template).FilterCriteria).toEqual({ Filters: [{ Pattern: EVENT_ROW_PATTERN }] });
    });

    it('is created only after the publisher, which waits for its role policy (the stream reads)', () => {
      const resources = template.toJSON().Resources as Record<string, { DependsOn?: string[] }>;
      const fn = resources[logicalIdOf(publisher().handler.function)];
      const [defaultPolicy] = Object.keys(
        template.findResources('AWS::IAM::Policy', {
          Properties: { Roles: [{ Ref: logicalIdOf(publisher().handler.role) }] },
        }),
      ).filter((id) => id.includes('DefaultPolicy'));
      expect(fn?.DependsOn).toEqual(expect.arrayContaining([defaultPolicy]));
    });
  });

  describe('publisher function', () => {
    it('runs 60 s, reserves no concurrency and names its entry', () => {
      template.hasResource('AWS::Lambda::Function', {
        Properties: {
          Timeout: 60,
          Environment: { Variables: { POWERTOOLS_SERVICE_NAME: 'event-publisher' } },
        },
        Metadata: { [ENTRY_METADATA_KEY]: 'lambda/event-publisher/handler.ts' },
      });
      expect(
        template.toJSON().Resources[logicalIdOf(publisher().handler.function)].Properties
          .ReservedConcurrentExecutions,
      ).toBeUndefined();
    });

    it('gets both tables, the endpoint, the worker, the fan-out settings and a claim TTL past its timeout', () => {
      const { data, realtime } = synthesized.stacks;
      const { fanOutRetry, fanOutConcurrency, fanOutBatchSize } = stageConfigs[stage];
      const broadcastEnv = template.toJSON().Resources[logicalIdOf(realtime.broadcastHandler.function)]
        .Properties.Environment.Variables as Record<string, unknown>;
      const env = envOf();
      expect(env).toEqual({
        STAGE: stage,
        POWERTOOLS_SERVICE_NAME: 'event-publisher',
        COMMENTS_TABLE_NAME: expect.anything(),
        CONNECTIONS_TABLE_NAME: expect.anything(),
        WEBSOCKET_MANAGEMENT_ENDPOINT: broadcastEnv.WEBSOCKET_MANAGEMENT_ENDPOINT,
        FAN_OUT_CONCURRENCY: String(fanOutConcurrency),
        FAN_OUT_BATCH_SIZE: String(fanOutBatchSize),
        FAN_OUT_MAX_ATTEMPTS: String(fanOutRetry.maxAttempts),
        FAN_OUT_RETRY_BASE_MS: String(fanOutRetry.baseMs),
        FAN_OUT_RETRY_MAX_MS: String(fanOutRetry.maxMs),
        FAN_OUT_WORKER_FUNCTION_NAME: { Ref: logicalIdOf(realtime.fanOutWorker.handler.function) },
        PUBLISH_CLAIM_TTL_MS: '61000',
      });
      expect(refersTo(env.COMMENTS_TABLE_NAME, data.commentsTable)).toBe(true);
      expect(refersTo(env.CONNECTIONS_TABLE_NAME, data.connectionsTable)).toBe(true);
    });
  });
});

describe('claimTtlMs', () => {
  it("outlives the publisher's timeout by a second", () => {
    expect(PUBLISHER_TIMEOUT.toSeconds()).toBe(60);
    expect(claimTtlMs(PUBLISHER_TIMEOUT)).toBe('61000');
  });
});

describe('the synthesized filter, run through the local emulator', () => {
  const postId = 'p1';
  let seq = 0;

  /** A stream record as Lambda hands it to the publisher (NEW_IMAGE view). */
  function streamRecord(
    eventName: StreamLambdaRecord['eventName'],
    item: Record<string, unknown>,
  ): StreamLambdaRecord {
    seq += 1;
    const image = marshall(item, { removeUndefinedValues: true }) as Record<string, AttributeValue>;
    const keys = { pk: image.pk, sk: image.sk } as Record<string, AttributeValue>;
    return {
      eventID: `event-${seq}`,
      eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'eu-west-1',
      dynamodb: {
        ApproximateCreationDateTime: 1_800_000_000,
        Keys: keys,
        // A REMOVE record carries no new image.
        ...(eventName === 'REMOVE' ? {} : { NewImage: image }),
        SequenceNumber: String(seq).padStart(21, '0'),
        SizeBytes: 100,
        StreamViewType: 'NEW_IMAGE',
      },
      eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Comments/stream/2026-11-26T00:00:00.000',
    };
  }

  const pk = commentKeys.postPartition(postId);
  const eventRow = {
    pk,
    sk: commentKeys.eventSortKey(7),
    eventId: '01JEVENT',
    seq: 7,
    type: 'comment.created',
    data: { postId, comment: { id: '01JCOMMENT', postId, userId: 'u1', content: 'hi' } },
    createdAt: '2026-11-26T00:00:00.000Z',
    expiresAt: 1_800_086_400,
  };

  const matches = (record: StreamLambdaRecord): boolean => {
    const filter = compileFilterCriteria(
      mappingOf(synthStage('dev', bundle).templates.realtime).FilterCriteria,
    );
    return filter.matches(record);
  };

  it('passes an inserted event row', () => {
    expect(matches(streamRecord('INSERT', eventRow))).toBe(true);
  });

  it.each([
    ['an inserted post', { pk, sk: commentKeys.postSortKey, title: 'Post', body: 'text' }],
    [
      'an inserted comment, even one whose content starts with "event#"',
      { pk, sk: commentKeys.commentSortKey('01JCOMMENT'), content: 'event#000000000007' },
    ],
    ["a post's first counter", { pk, sk: commentKeys.counterSortKey, lastSeq: 1 }],
    ["a post's first publish cursor", { pk, sk: commentKeys.publishSortKey, publishedSeq: 0 }],
    [
      'an idempotency record',
      { pk: commentKeys.idempotencyPartition('u1', 'key-1'), sk: commentKeys.idempotencySortKey },
    ],
  ])('drops %s', (_name, item) => {
    expect(matches(streamRecord('INSERT', item))).toBe(false);
  });

  it.each([
    ['a moved counter', { pk, sk: commentKeys.counterSortKey, lastSeq: 8 }],
    ['a moved publish cursor', { pk, sk: commentKeys.publishSortKey, publishedSeq: 7, claim: 'x' }],
    ['an edited comment', { pk, sk: commentKeys.commentSortKey('01JCOMMENT'), content: 'edited' }],
    ['a modified event row', eventRow],
  ])('drops %s (MODIFY)', (_name, item) => {
    expect(matches(streamRecord('MODIFY', item))).toBe(false);
  });

  it('drops an event row reaped by TTL (REMOVE)', () => {
    expect(matches(streamRecord('REMOVE', eventRow))).toBe(false);
  });
});
