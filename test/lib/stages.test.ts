import type { Template } from 'aws-cdk-lib/assertions';
import { STAGE_NAMES, stageConfigs, type StageName } from '../../lib/config/stage-config';
import { synthStage, type StackPart } from './synth-stage';
import { logicalIdOf } from './template-queries';

/** What each stage promises about its data, logs, tracing and alarms, across all its stacks. */

/** Declarations only; test/bin bundles the whole app. */
const bundle: readonly StackPart[] = [];

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}

const templatesOf = (stage: StageName): Template[] => Object.values(synthStage(stage, bundle).templates);

const resourcesOf = (template: Template, type: string): [string, Resource][] =>
  Object.entries(template.findResources(type) as Record<string, Resource>);

const allOf = (stage: StageName, type: string): Resource[] =>
  templatesOf(stage).flatMap((template) => resourcesOf(template, type).map(([, resource]) => resource));

/** What prod keeps when a stack goes or a resource is replaced; dev deletes them. */
const RETAINED_TYPES = [
  'AWS::DynamoDB::Table',
  'AWS::Cognito::UserPool',
  'AWS::Logs::LogGroup',
  'AWS::SQS::Queue',
  'AWS::KMS::Key',
];

describe('per stage', () => {
  beforeAll(() => {
    for (const stage of STAGE_NAMES) synthStage(stage, bundle);
  });

  describe('prod', () => {
    it('retains the tables and the user pool, on deletion and on replacement', () => {
      const stateful = [...allOf('prod', 'AWS::DynamoDB::Table'), ...allOf('prod', 'AWS::Cognito::UserPool')];
      expect(stateful).toHaveLength(3);
      for (const resource of stateful) {
        expect(resource).toMatchObject({
          DeletionPolicy: 'RetainExceptOnCreate',
          UpdateReplacePolicy: 'Retain',
        });
      }
    });

    it('keeps every retained resource only once it exists: a failed first create rolls back without orphans', () => {
      // Tables, user pool, 10 log groups, 2 queues, the alarm key.
      const retained = RETAINED_TYPES.flatMap((type) => allOf('prod', type));
      expect(retained).toHaveLength(16);
      for (const resource of retained) {
        expect(resource).toMatchObject({
          DeletionPolicy: 'RetainExceptOnCreate',
          UpdateReplacePolicy: 'Retain',
        });
      }
      const plainRetain = templatesOf('prod').flatMap((template) =>
        Object.values(template.toJSON().Resources as Record<string, Resource>).filter(
          (resource) => resource.DeletionPolicy === 'Retain',
        ),
      );
      expect(plainRetain).toEqual([]);
    });

    it('has point-in-time recovery and deletion protection on every table', () => {
      for (const table of allOf('prod', 'AWS::DynamoDB::Table')) {
        expect(table.Properties).toMatchObject({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          DeletionProtectionEnabled: true,
        });
      }
    });

    it('has alarms, each sending to the alarm topic', () => {
      const { stacks, templates } = synthStage('prod', bundle);
      const topic = { Ref: logicalIdOf(stacks.operations.operations.alarmTopic) };
      const alarms = resourcesOf(templates.operations, 'AWS::CloudWatch::Alarm');
      expect(alarms.length).toBeGreaterThan(0);
      expect(allOf('prod', 'AWS::CloudWatch::Alarm')).toHaveLength(alarms.length);
      for (const [, alarm] of alarms) {
        expect(alarm.Properties.AlarmActions).toEqual([topic]);
      }
    });
  });

  describe('dev', () => {
    it('deletes the tables and the user pool with the stack', () => {
      const stateful = [...allOf('dev', 'AWS::DynamoDB::Table'), ...allOf('dev', 'AWS::Cognito::UserPool')];
      expect(stateful).toHaveLength(3);
      for (const resource of stateful) {
        expect(resource).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
      }
      for (const table of allOf('dev', 'AWS::DynamoDB::Table')) {
        expect(table.Properties).toMatchObject({
          PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
          DeletionProtectionEnabled: false,
        });
      }
    });

    it('deletes its logs, queues and alarm key with the stack too', () => {
      const resources = RETAINED_TYPES.flatMap((type) => allOf('dev', type));
      expect(resources).toHaveLength(16);
      for (const resource of resources) {
        expect(resource).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
      }
    });

    it('has no alarms, but has the dashboard', () => {
      expect(allOf('dev', 'AWS::CloudWatch::Alarm')).toEqual([]);
      expect(allOf('dev', 'AWS::CloudWatch::Dashboard')).toHaveLength(1);
    });
  });

  describe.each(STAGE_NAMES)('%s functions', (stage) => {
    it('each log to a log group of their own stack, kept for the stage retention', () => {
      const retention = stageConfigs[stage].logRetention;
      const seen = new Set<string>();
      let functions = 0;
      for (const template of templatesOf(stage)) {
        const logGroups = Object.fromEntries(resourcesOf(template, 'AWS::Logs::LogGroup'));
        for (const [id, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
          functions += 1;
          const ref = (fn.Properties.LoggingConfig as { LogGroup?: { Ref?: string } } | undefined)?.LogGroup
            ?.Ref;
          expect({ id, logGroup: ref !== undefined && ref in logGroups }).toEqual({ id, logGroup: true });
          expect(logGroups[String(ref)]?.Properties.RetentionInDays).toBe(retention);
          expect(logGroups[String(ref)]?.DeletionPolicy).toBe(
            stage === 'prod' ? 'RetainExceptOnCreate' : 'Delete',
          );
          seen.add(String(ref));
        }
      }
      expect(functions).toBe(7);
      // One log group per function, none shared.
      expect(seen.size).toBe(functions);
    });

    it('are each traced with X-Ray (active tracing)', () => {
      const functions = allOf(stage, 'AWS::Lambda::Function');
      expect(functions).toHaveLength(7);
      for (const fn of functions) {
        expect(fn.Properties.TracingConfig).toEqual({ Mode: 'Active' });
      }
    });
  });
});
