import { Stack, type App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { CfnSpec } from './cfn-spec';
import { isPlainObject, type CfnTemplate, type Problem, type StackTemplate } from './model';
import { PropertyChecker } from './property-types';
import { ReferenceChecker } from './references';

const SECTIONS = new Set([
  'AWSTemplateFormatVersion',
  'Description',
  'Metadata',
  'Parameters',
  'Rules',
  'Mappings',
  'Conditions',
  'Transform',
  'Resources',
  'Outputs',
]);
const RESOURCE_ATTRIBUTES = new Set([
  'Type',
  'Properties',
  'DependsOn',
  'Metadata',
  'Condition',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'CreationPolicy',
  'UpdatePolicy',
]);
const DELETION_POLICIES = new Set(['Delete', 'Retain', 'RetainExceptOnCreate', 'Snapshot']);
const REPLACE_POLICIES = new Set(['Delete', 'Retain', 'Snapshot']);

/** The CDK's own analytics resource (off in this app: versionReporting false); not a registry type. */
const CDK_METADATA = 'AWS::CDK::Metadata';

/** Every stack of a synthesized app, with the stacks each depends on. */
export function appTemplates(app: App): StackTemplate[] {
  return app.node.children.filter(Stack.isStack).map((stack) => ({
    stackName: stack.stackName,
    template: Template.fromStack(stack).toJSON() as CfnTemplate,
    dependencies: stack.dependencies.map((dependency) => dependency.stackName),
  }));
}

/**
 * Validates each template of an app against the CloudFormation resource specification (types, properties,
 * required properties, allowed values) and checks that every reference resolves, within the template and
 * across the app's stacks. Returns every problem found; none means the app passed.
 */
export function validateTemplates(app: readonly StackTemplate[]): Problem[] {
  const spec = CfnSpec.load();
  const problems: Problem[] = [];
  for (const stack of app) {
    const report = (path: string, message: string) =>
      problems.push({ stack: stack.stackName, path, message });
    const { template } = stack;
    for (const section of Object.keys(template)) {
      if (!SECTIONS.has(section)) report(section, 'is not a template section');
    }
    const properties = new PropertyChecker(spec, template, report);
    const references = new ReferenceChecker(spec, stack, app, report);
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      const path = `Resources.${logicalId}`;
      checkResourceAttributes(resource, template, path, report, references);
      const type = resource.Type;
      if (typeof type !== 'string') {
        report(`${path}.Type`, 'is required');
        continue;
      }
      if (
        type === CDK_METADATA ||
        type.startsWith('Custom::') ||
        type === 'AWS::CloudFormation::CustomResource'
      ) {
        if (type !== CDK_METADATA && !isPlainObject(resource.Properties)) {
          report(`${path}.Properties`, 'a custom resource needs Properties with its ServiceToken');
        }
      } else {
        const resourceSpec = spec.resource(type);
        if (!resourceSpec) report(`${path}.Type`, `"${type}" is not a CloudFormation resource type`);
        else
          properties.checkProperties(
            resource.Properties ?? {},
            resourceSpec.properties,
            `${path}.Properties`,
          );
      }
      references.walk(resource.Properties, `${path}.Properties`);
    }
    references.walk(template.Conditions, 'Conditions');
    references.walk(template.Rules, 'Rules');
    for (const [name, output] of Object.entries(template.Outputs ?? {})) {
      if (output.Value === undefined) report(`Outputs.${name}.Value`, 'is required');
      references.walk(output, `Outputs.${name}`);
    }
  }
  checkExportsUnique(app, problems);
  return problems;
}

function checkResourceAttributes(
  resource: Readonly<Record<string, unknown>>,
  template: CfnTemplate,
  path: string,
  report: (path: string, message: string) => void,
  references: ReferenceChecker,
): void {
  for (const attribute of Object.keys(resource)) {
    if (!RESOURCE_ATTRIBUTES.has(attribute)) report(`${path}.${attribute}`, 'is not a resource attribute');
  }
  const { DeletionPolicy: deletion, UpdateReplacePolicy: replace, DependsOn: dependsOn } = resource;
  if (deletion !== undefined && !DELETION_POLICIES.has(String(deletion))) {
    report(
      `${path}.DeletionPolicy`,
      `must be one of ${[...DELETION_POLICIES].join(', ')}, got ${String(deletion)}`,
    );
  }
  if (replace !== undefined && !REPLACE_POLICIES.has(String(replace))) {
    report(
      `${path}.UpdateReplacePolicy`,
      `must be one of ${[...REPLACE_POLICIES].join(', ')}, got ${String(replace)}`,
    );
  }
  for (const target of dependsOn === undefined ? [] : ([] as unknown[]).concat(dependsOn)) {
    if (typeof target !== 'string' || !(target in (template.Resources ?? {}))) {
      report(`${path}.DependsOn`, `${JSON.stringify(target)} is not a resource of this template`);
    }
  }
  if (resource.Condition !== undefined) references.checkCondition(resource.Condition, `${path}.Condition`);
}

function checkExportsUnique(app: readonly StackTemplate[], problems: Problem[]): void {
  const exporters = new Map<string, string>();
  for (const { stackName, template } of app) {
    for (const [name, output] of Object.entries(template.Outputs ?? {})) {
      const exportName = output.Export?.Name;
      if (typeof exportName !== 'string') continue;
      const other = exporters.get(exportName);
      if (other) {
        problems.push({
          stack: stackName,
          path: `Outputs.${name}.Export.Name`,
          message: `"${exportName}" is exported by ${other} too`,
        });
      }
      exporters.set(exportName, stackName);
    }
  }
}
