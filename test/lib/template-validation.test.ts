import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { STAGE_NAMES, stageConfigs, type StageConfig } from '../../lib/config/stage-config';
import { synthConfig, synthStage } from './synth-stage';
import type { Problem, StackTemplate } from './template-validation/model';
import { appTemplates, validateTemplates } from './template-validation/validate-templates';

/**
 * Every resource of every synthesized stack, in both stages, validated against the CloudFormation resource
 * specification the CDK is generated from (@aws-cdk/aws-service-spec): property names and types, required
 * properties, allowed values; and every Ref, Fn::GetAtt, Fn::GetStackOutput and Fn::ImportValue resolved.
 * What CloudFormation would refuse at deploy time fails here, offline.
 */

/** Two stacks with one mistake of each kind the validation catches (test/lib/fixtures). */
function brokenFixture(): StackTemplate[] {
  const file = path.join(__dirname, 'fixtures', 'broken-templates.json');
  const stacks = JSON.parse(readFileSync(file, 'utf8')) as Record<string, Omit<StackTemplate, 'stackName'>>;
  return Object.entries(stacks).map(([stackName, stack]) => ({ stackName, ...stack }));
}

const summary = (problems: Problem[]): string[] => problems.map((p) => `${p.stack} ${p.path}: ${p.message}`);

describe('CloudFormation template validation', () => {
  it.each(STAGE_NAMES)('finds nothing wrong in any stack of %s', (stage) => {
    const templates = appTemplates(synthStage(stage, []).app);
    expect(templates.map((stack) => stack.stackName)).toEqual([
      `RealtimeComments-${stage}-Data`,
      `RealtimeComments-${stage}-Realtime`,
      `RealtimeComments-${stage}-CommentsApi`,
      `RealtimeComments-${stage}-Operations`,
    ]);
    expect(summary(validateTemplates(templates))).toEqual([]);
  });

  it.each([
    ['an OIDC issuer', { identity: { kind: 'oidc', issuerUrl: 'https://id.example.com', audience: 'api' } }],
    ['anonymous subscribers', { allowAnonymousSubscribers: true }],
    [
      'an SES e-mail sender',
      {
        identity: {
          kind: 'cognito',
          threatProtection: true,
          email: {
            sesSourceArn: 'arn:aws:ses:eu-west-1:111122223333:identity/example.com',
            from: 'Realtime comments <no-reply@example.com>',
            configurationSet: 'auth-mail',
          },
        },
      },
    ],
  ] as const)('finds nothing wrong with %s (prod)', (_name, overrides) => {
    const { app } = synthConfig({ ...stageConfigs.prod, ...overrides } as StageConfig);
    expect(summary(validateTemplates(appTemplates(app)))).toEqual([]);
  });

  describe('on a deliberately broken fixture', () => {
    let problems: string[];

    beforeAll(() => {
      problems = summary(validateTemplates(brokenFixture()));
    });

    it('passes the stack that has nothing wrong', () => {
      expect(problems.filter((problem) => problem.startsWith('Producer '))).toEqual([]);
    });

    it.each([
      [
        'an unknown resource type',
        'Resources.Topic.Type: "AWS::SNS::Topicc" is not a CloudFormation resource type',
      ],
      [
        'a property the type does not have',
        'Resources.Table.Properties.PointInTimeRecoveryEnabled: is not a property',
      ],
      [
        'a missing required property',
        'Resources.Role.Properties.AssumeRolePolicyDocument: is required and missing',
      ],
      ['a value of the wrong type', 'Resources.Queue.Properties.MessageRetentionPeriod: must be integer'],
      [
        'a value outside the allowed ones',
        'Resources.LogGroup.Properties.RetentionInDays: must be one of 1, 3, 5, 7',
      ],
      ['a tag without its value', 'Resources.Queue.Properties.Tags[0].Value: is required and missing'],
      [
        'a single value where a list goes',
        'Resources.Function.Properties.Layers: must be Array<string>, but Ref',
      ],
      ['an unknown deletion policy', 'Resources.Table.DeletionPolicy: must be one of'],
      ['a DependsOn on nothing', 'Resources.Function.DependsOn: "Missing" is not a resource'],
      ['a Ref to nothing', 'Ref to "Tabel": no resource, parameter or pseudo parameter'],
      ['an attribute the type does not have', 'AWS::IAM::Role has no attribute "RoleArn"'],
      ['an attribute in an Fn::Sub', 'AWS::SQS::Queue has no attribute "QueueUrll"'],
      ['an output the producer does not have', 'stack "Producer" has no output "TableNam"'],
      ['an output of a stack not in the app', 'stack "Elsewhere", which is not a stack of this app'],
      [
        'an output read without a stack dependency',
        'reads an output of "Producer" but is not deployed after it',
      ],
      [
        'an import nobody exports',
        'Fn::ImportValue of "nobody-exports-this": no stack of this app exports it',
      ],
      [
        'an import without a stack dependency',
        'imports "producer-table-arn" from "Producer" but is not deployed after it',
      ],
    ])('reports %s', (_kind, expected) => {
      expect(problems.filter((problem) => problem.includes(expected))).not.toEqual([]);
    });

    it('reports nothing it was not given', () => {
      expect(problems).toHaveLength(18);
    });
  });
});
