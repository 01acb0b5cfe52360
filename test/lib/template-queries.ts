import { CfnElement, Stack } from 'aws-cdk-lib';
import type { IApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import type { HandlerFunction } from '../../lib/constructs/handler-function';

/** Small queries over synthesized templates, shared by the stack tests. */

export interface PolicyStatement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
}

interface PolicyResource {
  readonly Properties: {
    readonly PolicyDocument: { readonly Statement: PolicyStatement[] };
    readonly Roles: { readonly Ref: string }[];
  };
}

interface RouteResource {
  readonly Properties: {
    readonly ApiId: { readonly Ref: string };
    readonly RouteKey: string;
    readonly Target?: unknown;
  };
}

interface IntegrationResource {
  readonly Properties: { readonly IntegrationUri: unknown };
}

/** The logical id of an L2 construct's CloudFormation resource in its own stack. */
export function logicalIdOf(construct: IConstruct): string {
  const resource = construct instanceof CfnElement ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnElement)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource`);
  }
  return Stack.of(resource).getLogicalId(resource);
}

export const actionsOf = (statement: PolicyStatement): string[] =>
  typeof statement.Action === 'string' ? [statement.Action] : statement.Action;

/** True when a (possibly cross-stack) value refers to the given resource. */
export const refersTo = (value: unknown, construct: IConstruct): boolean =>
  JSON.stringify(value).includes(logicalIdOf(construct));

/** Every statement in the identity policies attached to a function's role. */
export function statementsOf(template: Template, handler: HandlerFunction): PolicyStatement[] {
  const roleId = logicalIdOf(handler.role);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')) as PolicyResource[];
  return policies
    .filter((policy) => policy.Properties.Roles.some((role) => role.Ref === roleId))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

/** Actions a function's role is allowed on a resource (matched by reference, so cross-stack too). */
export function actionsOn(template: Template, handler: HandlerFunction, resource: IConstruct): string[] {
  return statementsOf(template, handler)
    .filter((statement) => refersTo(statement.Resource, resource))
    .flatMap(actionsOf)
    .sort();
}

/** Route key to the logical id of the Lambda function it invokes, for one API. */
export function routesOf(template: Template, api: IApi): Record<string, string> {
  const apiId = logicalIdOf(api);
  const integrations = template.findResources('AWS::ApiGatewayV2::Integration') as Record<
    string,
    IntegrationResource
  >;
  const functions = Object.keys(template.findResources('AWS::Lambda::Function'));
  const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as RouteResource[];
  const result: Record<string, string> = {};
  for (const route of routes.filter((r) => r.Properties.ApiId.Ref === apiId)) {
    const target = JSON.stringify(route.Properties.Target);
    const integrationId = Object.keys(integrations).find((id) => target.includes(`"${id}"`));
    const integration = integrationId === undefined ? undefined : integrations[integrationId];
    const uri = JSON.stringify(integration?.Properties.IntegrationUri);
    result[route.Properties.RouteKey] = functions.find((id) => uri.includes(`"${id}"`)) ?? '(none)';
  }
  return result;
}

/**
 * How a stack refers to a value that another stack outputs (the app's cross-stack references are
 * `Fn::GetStackOutput`): fails unless the producer's template has an output holding exactly `value`.
 */
export function importedOutput(producer: Stack, producerTemplate: Template, value: unknown): unknown {
  const outputs = (producerTemplate.toJSON().Outputs ?? {}) as Record<string, { Value: unknown }>;
  const matching = Object.keys(outputs).filter(
    (name) => JSON.stringify(outputs[name]?.Value) === JSON.stringify(value),
  );
  if (matching.length !== 1) {
    throw new Error(`${producer.stackName} has ${matching.length} outputs of ${JSON.stringify(value)}`);
  }
  return {
    'Fn::GetStackOutput': {
      StackName: producer.stackName,
      Region: { Ref: 'AWS::Region' },
      OutputName: matching[0],
    },
  };
}
