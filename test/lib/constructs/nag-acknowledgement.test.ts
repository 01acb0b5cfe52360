import { App, ArnFormat, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
// cdk-nag's own flattening, to prove ours spells finding ids the same way.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { acknowledgeWildcardResource, flattenForNag } from '../../../lib/constructs/nag-acknowledgement';
import { cdkJsonContext } from '../synth-stage';

const samples: unknown[] = [
  'arn:aws:s3:::bucket/*',
  'arn:${AWS::Partition}:logs:*',
  { Ref: 'Api1234' },
  { 'Fn::GetAtt': ['Table1234', 'Arn'] },
  { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Table1234', 'Arn'] }, '/index/*']] },
  { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':execute-api:', { Ref: 'Api1234' }, '/dev/*']] },
  { 'Fn::Sub': 'arn:${AWS::Partition}:sns:*' },
  { 'Fn::ImportValue': 'Exported' },
  { 'Fn::GetStackOutput': { StackName: 'Other', OutputName: 'Out' } },
];

describe('flattenForNag', () => {
  it.each(samples.map((sample) => [JSON.stringify(sample), sample]))(
    'spells %s as cdk-nag does',
    (_name, sample) => {
      expect(flattenForNag(sample as string)).toBe(flattenCfnReference(sample));
    },
  );
});

describe('acknowledgeWildcardResource', () => {
  function roleWith(env?: { region: string; account: string }): { stack: Stack; role: iam.Role } {
    const stack = new Stack(new App({ context: cdkJsonContext() }), 'Test', { env });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    return { stack, role };
  }
  const arnIn = (stack: Stack): string =>
    stack.formatArn({
      service: 'execute-api',
      resource: 'api123',
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      resourceName: 'dev/POST/@connections/*',
    });
  const acknowledged = (role: iam.Role): Record<string, string> =>
    Object.assign(
      {},
      ...role.node.metadata
        .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
        .map((entry) => entry.data as Record<string, string>),
    );

  it('acknowledges the exact IAM5 finding of an environment-agnostic ARN, with the reason', () => {
    const { stack, role } = roleWith();
    const id = acknowledgeWildcardResource(role, arnIn(stack), 'why');
    expect(id).toBe(
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:' +
        'api123/dev/POST/@connections/*]',
    );
    expect(Object.entries(acknowledged(role))).toEqual([[expect.stringContaining(id), 'why']]);
  });

  it('follows a pinned environment', () => {
    const { stack, role } = roleWith({ region: 'eu-west-1', account: '123456789012' });
    expect(acknowledgeWildcardResource(role, arnIn(stack), 'why')).toBe(
      'AwsSolutions-IAM5[Resource::arn:aws:execute-api:eu-west-1:123456789012:api123/dev/POST/@connections/*]',
    );
  });
});
