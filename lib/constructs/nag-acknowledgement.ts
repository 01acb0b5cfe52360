import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

type CfnValue = string | { readonly [key: string]: unknown } | readonly unknown[] | undefined;

/**
 * A resolved CloudFormation value as cdk-nag spells it in a granular finding id: joins flattened, `Ref`
 * as `<LogicalId>`, `Fn::GetAtt` as `<LogicalId.Attribute>`, anything else as JSON.
 */
export function flattenForNag(value: CfnValue): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (Array.isArray(value)) return JSON.stringify(value);
  const node = value as Record<string, unknown>;
  if (node['Fn::Join']) {
    const [delimiter, items] = node['Fn::Join'] as [string, CfnValue[]];
    return items.map(flattenForNag).join(delimiter);
  }
  if (node['Fn::Sub']) return flattenForNag(node['Fn::Sub'] as CfnValue);
  if (node['Fn::GetAtt']) {
    const [resource, attribute] = node['Fn::GetAtt'] as [CfnValue, CfnValue];
    return `<${flattenForNag(resource)}.${flattenForNag(attribute)}>`;
  }
  if (node['Fn::ImportValue']) return flattenForNag(node['Fn::ImportValue'] as CfnValue);
  if (node.Ref) return `<${flattenForNag(node.Ref as CfnValue)}>`;
  return JSON.stringify(node);
}

/**
 * Acknowledges AwsSolutions-IAM5 for exactly one wildcard resource ARN on `scope` (a role or policy), by
 * the granular id cdk-nag reports for it. The id is computed from the ARN as the stack resolves it, so it
 * stays exact whether the stack is environment-agnostic (`<AWS::Region>`) or pinned (`eu-west-1`).
 */
export function acknowledgeWildcardResource(scope: IConstruct, resourceArn: string, reason: string): string {
  const id = `AwsSolutions-IAM5[Resource::${flattenForNag(Stack.of(scope).resolve(resourceArn) as CfnValue)}]`;
  Validations.of(scope).acknowledge({ id, reason });
  return id;
}
