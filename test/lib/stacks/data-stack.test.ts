import { Match, type Template } from 'aws-cdk-lib/assertions';
import { stageConfigs } from '../../../lib/config/stage-config';
import { TABLE_SCHEMA_METADATA_KEY } from '../../../contracts/cfn-metadata';
import { synthConfig, synthStage, type StackPart } from '../synth-stage';
import { logicalIdOf } from '../template-queries';

/** The data stack has no functions: nothing to bundle. */
const bundle: readonly StackPart[] = [];

describe('DataStack', () => {
  let dev: Template;
  let prod: Template;

  beforeAll(() => {
    dev = synthStage('dev', bundle).templates.data;
    prod = synthStage('prod', bundle).templates.data;
  });

  it('holds the two tables, the user pool and its client, and nothing else', () => {
    for (const template of [dev, prod]) {
      const types = Object.values(template.toJSON().Resources as Record<string, { Type: string }>)
        .map((resource) => resource.Type)
        .sort();
      expect(types).toEqual([
        'AWS::Cognito::UserPool',
        'AWS::Cognito::UserPoolClient',
        'AWS::DynamoDB::Table',
        'AWS::DynamoDB::Table',
      ]);
    }
  });

  it('keeps the prod user pool (retained, deletion protection) and lets the dev one go', () => {
    prod.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({ UserPoolName: 'realtime-comments-prod', DeletionProtection: 'ACTIVE' }),
    });
    dev.hasResource('AWS::Cognito::UserPool', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ UserPoolName: 'realtime-comments-dev', DeletionProtection: 'INACTIVE' }),
    });
  });

  const tableOf = (template: Template, schema: 'Connections' | 'Comments'): Record<string, unknown> => {
    const tables = Object.values(
      template.findResources('AWS::DynamoDB::Table', { Metadata: { [TABLE_SCHEMA_METADATA_KEY]: schema } }),
    );
    expect(tables).toHaveLength(1);
    return (tables[0] as { Properties: Record<string, unknown> }).Properties;
  };

  it('keys the connections table by generic pk and sk, with TTL, no secondary index and no stream', () => {
    for (const template of [dev, prod]) {
      expect(tableOf(template, 'Connections')).toMatchObject({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        // Subscriber rows are keyed by post in the base table: a fan-out is a strongly consistent Query.
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
      });
      expect(tableOf(template, 'Connections')).not.toHaveProperty('GlobalSecondaryIndexes');
      expect(tableOf(template, 'Connections')).not.toHaveProperty('StreamSpecification');
    }
  });

  it('keys the comments table by post partition and sort key, without indexes, with TTL for events', () => {
    for (const template of [dev, prod]) {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: Match.absent(),
        // Only event items carry expiresAt: posts and comments never expire.
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
      });
    }
  });

  it('streams the new image of every comments table change: the outbox events are published from', () => {
    for (const template of [dev, prod]) {
      expect(tableOf(template, 'Comments')).toMatchObject({
        StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      });
    }
  });

  it('exports the comments stream ARN (for the publisher in the realtime stack), and no other stream', () => {
    for (const stage of ['dev', 'prod'] as const) {
      const { stacks, templates } = synthStage(stage, bundle);
      const streamArns = Object.values(templates.data.toJSON().Outputs as Record<string, { Value: unknown }>)
        .map((output) => output.Value)
        .filter((value) => JSON.stringify(value).includes('"StreamArn"'));
      expect(streamArns).toEqual([{ 'Fn::GetAtt': [logicalIdOf(stacks.data.commentsTable), 'StreamArn'] }]);
    }
  });

  it("names each table's schema in its metadata", () => {
    dev.hasResource('AWS::DynamoDB::Table', {
      Metadata: { [TABLE_SCHEMA_METADATA_KEY]: 'Connections' },
      Properties: Match.objectLike({
        KeySchema: Match.arrayWith([{ AttributeName: 'pk', KeyType: 'HASH' }]),
        StreamSpecification: Match.absent(),
      }),
    });
    dev.hasResource('AWS::DynamoDB::Table', {
      Metadata: { [TABLE_SCHEMA_METADATA_KEY]: 'Comments' },
      Properties: Match.objectLike({
        KeySchema: Match.arrayWith([{ AttributeName: 'pk', KeyType: 'HASH' }]),
        StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
      }),
    });
  });

  it('bills on demand and encrypts every table in every stage', () => {
    for (const template of [dev, prod]) {
      const tables = template.findResources('AWS::DynamoDB::Table', {
        Properties: { BillingMode: 'PAY_PER_REQUEST', SSESpecification: { SSEEnabled: true } },
      });
      expect(Object.keys(tables)).toHaveLength(2);
    }
  });

  it('lets dev tables go with the stack', () => {
    const tables = dev.findResources('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Delete',
      UpdateReplacePolicy: 'Delete',
      Properties: {
        DeletionProtectionEnabled: false,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
      },
    });
    expect(Object.keys(tables)).toHaveLength(2);
  });

  it('retains prod tables (unless their creation fails), with point-in-time recovery and deletion protection', () => {
    const tables = prod.findResources('AWS::DynamoDB::Table', {
      DeletionPolicy: 'RetainExceptOnCreate',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        DeletionProtectionEnabled: true,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    });
    expect(Object.keys(tables)).toHaveLength(2);
  });

  it('turns on termination protection for the prod data stack only', () => {
    expect(synthStage('prod', bundle).stacks.data.terminationProtection).toBe(true);
    expect(synthStage('dev', bundle).stacks.data.terminationProtection).toBe(false);
  });

  it('outputs both table names', () => {
    for (const template of [dev, prod]) {
      template.hasOutput('ConnectionsTableName', { Value: { Ref: Match.stringLikeRegexp('^Connections') } });
      template.hasOutput('CommentsTableName', { Value: { Ref: Match.stringLikeRegexp('^Comments') } });
    }
  });

  it('outputs the user pool, its client and the token issuer', () => {
    for (const template of [dev, prod]) {
      const userPool = { Ref: Match.stringLikeRegexp('^IdentityUserPool[0-9A-F]{8}$') };
      template.hasOutput('UserPoolId', { Value: userPool });
      template.hasOutput('UserPoolClientId', {
        Value: { Ref: Match.stringLikeRegexp('^IdentityUserPoolWebClient[0-9A-F]{8}$') },
      });
      template.hasOutput('AuthIssuer', {
        Value: {
          'Fn::Join': [
            '',
            ['https://cognito-idp.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/', userPool],
          ],
        },
      });
    }
  });

  it('outputs the issuer and audience of an OIDC identity, and has no user pool then', () => {
    const oidc = synthConfig({
      ...stageConfigs.dev,
      identity: { kind: 'oidc', issuerUrl: 'https://login.example.com', audience: 'comments' },
    }).templates.data;
    oidc.resourceCountIs('AWS::Cognito::UserPool', 0);
    oidc.hasOutput('AuthIssuer', { Value: 'https://login.example.com' });
    oidc.hasOutput('AuthAudience', { Value: 'comments' });
    expect(Object.keys(oidc.toJSON().Outputs as object)).not.toContain('UserPoolId');
  });

  it.each(['dev', 'prod'] as const)('matches the %s snapshot', (stage) => {
    expect(synthStage(stage, bundle).templates.data.toJSON()).toMatchSnapshot();
  });
});
