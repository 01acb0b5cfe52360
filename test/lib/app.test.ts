import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { stackName } from '../../lib/app';
import { STAGE_NAMES, stageConfigs, type StageName } from '../../lib/config/stage-config';
import { ENTRY_METADATA_KEY } from '../../contracts/cfn-metadata';
import { REPO_ROOT } from '../../lib/constructs/handler-function';
import { synthStage, type StackPart } from './synth-stage';
import { actionsOf, logicalIdOf, type PolicyStatement } from './template-queries';

/** Asserts on declarations only; test/bin covers bundling the whole app. */
const bundle: readonly StackPart[] = [];

const templatesOf = (stage: StageName): Template[] => Object.values(synthStage(stage, bundle).templates);

const resourcesOf = (stage: StageName, type: string): Record<string, Record<string, unknown>>[] =>
  templatesOf(stage).flatMap((template) => Object.values(template.findResources(type)));

describe('buildApp', () => {
  beforeAll(() => {
    for (const stage of STAGE_NAMES) synthStage(stage, bundle);
  });

  it.each(STAGE_NAMES)('names the %s stacks after the stage', (stage) => {
    const { stacks } = synthStage(stage, bundle);
    expect([stacks.data.stackName, stacks.realtime.stackName, stacks.commentsApi.stackName]).toEqual([
      `RealtimeComments-${stage}-Data`,
      `RealtimeComments-${stage}-Realtime`,
      `RealtimeComments-${stage}-CommentsApi`,
    ]);
    expect(stackName(stageConfigs[stage], 'Data')).toBe(stacks.data.node.id);
  });

  it('deploys the data stack first, then the realtime stack, then the comments API', () => {
    const { stacks } = synthStage('dev', bundle);
    expect(stacks.data.dependencies).toEqual([]);
    expect(stacks.realtime.dependencies).toEqual([stacks.data]);
    expect(stacks.commentsApi.dependencies).toEqual(expect.arrayContaining([stacks.data, stacks.realtime]));
  });

  it('leaves the stacks environment-agnostic when no env is given', () => {
    const { stacks } = synthStage('dev', bundle);
    expect(Token.isUnresolved(stacks.data.account)).toBe(true);
    expect(Token.isUnresolved(stacks.data.region)).toBe(true);
  });

  it.each(STAGE_NAMES)(
    'declares seven %s functions, one per entry, each from an existing source file',
    (stage) => {
      const functions = resourcesOf(stage, 'AWS::Lambda::Function');
      const entries = functions.map((fn) => (fn.Metadata as Record<string, string>)[ENTRY_METADATA_KEY]);
      expect(entries.sort()).toEqual([
        'lambda/broadcast/handler.ts',
        'lambda/comments-api/handler.ts',
        'lambda/event-publisher/handler.ts',
        'lambda/fan-out-worker/handler.ts',
        'lambda/websocket-authorizer/handler.ts',
        'lambda/websocket-connection/handler.ts',
        'lambda/websocket-messages/handler.ts',
      ]);
      for (const entry of entries) {
        expect(existsSync(path.join(REPO_ROOT, entry ?? ''))).toBe(true);
      }
      // The functions that fan out get the stage's fanOutMemoryMb (CPU for their cold starts); the rest 256 MB.
      const fanOutEntries = [
        'lambda/broadcast/handler.ts',
        'lambda/event-publisher/handler.ts',
        'lambda/fan-out-worker/handler.ts',
      ];
      for (const fn of functions) {
        const entry = (fn.Metadata as Record<string, string>)[ENTRY_METADATA_KEY] ?? '';
        expect(fn.Properties).toMatchObject({
          Runtime: 'nodejs24.x',
          Architectures: ['arm64'],
          Handler: 'index.handler',
          MemorySize: fanOutEntries.includes(entry) ? stageConfigs[stage].fanOutMemoryMb : 256,
          Environment: { Variables: { STAGE: stage, POWERTOOLS_SERVICE_NAME: expect.any(String) } },
        });
      }
    },
  );

  it.each(STAGE_NAMES)(
    'gives every %s function and API stage its own log group with the stage retention',
    (stage) => {
      const config = stageConfigs[stage];
      const logGroups = resourcesOf(stage, 'AWS::Logs::LogGroup');
      // Seven functions, three API Gateway stages (WebSocket, broadcast, comments).
      expect(logGroups).toHaveLength(10);
      for (const logGroup of logGroups) {
        expect(logGroup).toMatchObject({
          Properties: { RetentionInDays: config.logRetention },
          DeletionPolicy: stage === 'prod' ? 'RetainExceptOnCreate' : 'Delete',
        });
      }
    },
  );

  it('grants no wildcard actions, no managed policies, and no wildcard resource but connection ids, X-Ray and ListStreams', () => {
    for (const stage of STAGE_NAMES) {
      const publisherRole = logicalIdOf(
        synthStage(stage, bundle).stacks.realtime.eventPublishing.handler.role,
      );
      const policies = resourcesOf(stage, 'AWS::IAM::Policy').map(
        (policy) =>
          policy.Properties as {
            PolicyDocument: { Statement: PolicyStatement[] };
            Roles: { Ref?: string }[];
          },
      );
      expect(policies.length).toBeGreaterThan(0);
      for (const policy of policies) {
        const isPublisher = policy.Roles.some((role) => role.Ref === publisherRole);
        for (const statement of policy.PolicyDocument.Statement) {
          expect(actionsOf(statement).filter((action) => action.includes('*'))).toEqual([]);
          if (statement.Resource === '*') {
            // X-Ray's write actions take no resource (acknowledged in HandlerFunction). The stream publisher's
            // role also gets dynamodb:ListStreams on `*` from DynamoEventSource, in the same statement.
            expect(actionsOf(statement).sort()).toEqual([
              ...(isPublisher ? ['dynamodb:ListStreams'] : []),
              'xray:PutTelemetryRecords',
              'xray:PutTraceSegments',
            ]);
            continue;
          }
          // The one wildcard left is the connection id of PostToConnection (acknowledged, see nag.test.ts).
          const wildcards = JSON.stringify(statement.Resource).match(/[^"]*\*[^"]*/g) ?? [];
          expect(wildcards.filter((w) => w !== `/${stage}/POST/@connections/*`)).toEqual([]);
        }
      }
      for (const role of resourcesOf(stage, 'AWS::IAM::Role')) {
        expect((role.Properties as Record<string, unknown>).ManagedPolicyArns).toBeUndefined();
      }
    }
  });
});
