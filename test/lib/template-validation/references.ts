import type { CfnSpec } from './cfn-spec';
import {
  intrinsicName,
  isPlainObject,
  PSEUDO_PARAMETERS,
  type CfnTemplate,
  type StackTemplate,
} from './model';
import { getAttTarget } from './property-types';

/** Intrinsic functions CloudFormation knows (Fn::Contains and friends only in Rules). */
const KNOWN_FUNCTIONS = new Set([
  'Ref',
  'Fn::GetAtt',
  'Fn::Join',
  'Fn::Sub',
  'Fn::Select',
  'Fn::Split',
  'Fn::If',
  'Fn::Equals',
  'Fn::And',
  'Fn::Or',
  'Fn::Not',
  'Fn::GetAZs',
  'Fn::Base64',
  'Fn::ImportValue',
  'Fn::GetStackOutput',
  'Fn::FindInMap',
  'Fn::Cidr',
  'Fn::Length',
  'Fn::ToJsonString',
  'Fn::Transform',
  'Fn::Contains',
  'Fn::EachMemberEquals',
  'Fn::EachMemberIn',
  'Fn::RefAll',
  'Fn::ValueOf',
  'Fn::ValueOfAll',
]);

/** Resource types whose attributes are whatever their provider returns. */
const isCustomResource = (type: string): boolean =>
  type === 'AWS::CloudFormation::CustomResource' || type.startsWith('Custom::');

/**
 * Checks that every reference in one stack's template resolves: each `Ref` to a resource, parameter or
 * pseudo parameter; each `Fn::GetAtt` (and `${Id.Attr}` in an Fn::Sub) to an attribute that resource's type
 * has; each condition and mapping named; each `Fn::GetStackOutput` to an output the named stack of the app
 * has, that stack being deployed before this one; each `Fn::ImportValue` to an export some stack makes.
 */
export class ReferenceChecker {
  private readonly resources: Readonly<Record<string, { readonly Type?: unknown }>>;

  constructor(
    private readonly spec: CfnSpec,
    private readonly stack: StackTemplate,
    private readonly app: readonly StackTemplate[],
    private readonly report: (path: string, message: string) => void,
  ) {
    this.resources = stack.template.Resources ?? {};
  }

  private get template(): CfnTemplate {
    return this.stack.template;
  }

  walk(node: unknown, path: string): void {
    if (Array.isArray(node)) {
      node.forEach((element, index) => this.walk(element, `${path}[${index}]`));
      return;
    }
    if (!isPlainObject(node)) return;
    const name = intrinsicName(node);
    if (name) {
      this.checkIntrinsic(name, node[name], `${path}.${name}`);
      return;
    }
    if (path.startsWith('Conditions') && Object.keys(node).length === 1 && 'Condition' in node) {
      this.checkCondition(node.Condition, `${path}.Condition`);
      return;
    }
    for (const [key, value] of Object.entries(node)) this.walk(value, `${path}.${key}`);
  }

  checkRefTarget(target: unknown, path: string): void {
    if (typeof target !== 'string') {
      this.report(path, `Ref takes a logical id, got ${JSON.stringify(target)}`);
      return;
    }
    const known =
      target in this.resources || target in (this.template.Parameters ?? {}) || PSEUDO_PARAMETERS.has(target);
    if (!known)
      this.report(path, `Ref to "${target}": no resource, parameter or pseudo parameter of that name`);
  }

  checkAttribute(logicalId: string | undefined, attribute: string | undefined, path: string): void {
    if (logicalId === undefined) {
      this.report(path, 'Fn::GetAtt must name a resource literally');
      return;
    }
    const resource = this.resources[logicalId];
    if (!resource) {
      this.report(path, `Fn::GetAtt of "${logicalId}": no resource of that name`);
      return;
    }
    const type = String(resource.Type);
    if (attribute === undefined || isCustomResource(type)) return;
    if (type === 'AWS::CloudFormation::Stack' && attribute.startsWith('Outputs.')) return;
    const spec = this.spec.resource(type);
    if (spec && !(attribute in spec.attributes)) {
      this.report(
        path,
        `Fn::GetAtt ${logicalId}.${attribute}: ${type} has no attribute "${attribute}" ` +
          `(it has ${Object.keys(spec.attributes).join(', ') || 'none'})`,
      );
    }
  }

  checkCondition(name: unknown, path: string): void {
    if (typeof name !== 'string' || !(name in (this.template.Conditions ?? {}))) {
      this.report(path, `condition ${JSON.stringify(name)} is not defined in Conditions`);
    }
  }

  private checkIntrinsic(name: string, argument: unknown, path: string): void {
    if (!KNOWN_FUNCTIONS.has(name)) {
      this.report(path, `${name} is not an intrinsic function`);
      return;
    }
    switch (name) {
      case 'Ref':
        return this.checkRefTarget(argument, path);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = getAttTarget(argument);
        this.checkAttribute(logicalId, attribute, path);
        if (Array.isArray(argument)) this.walk(argument.slice(1), path);
        return;
      }
      case 'Fn::Sub':
        return this.checkSub(argument, path);
      case 'Fn::If': {
        const [condition, ...branches] = Array.isArray(argument) ? (argument as unknown[]) : [];
        if (!Array.isArray(argument) || argument.length !== 3) {
          this.report(path, 'Fn::If takes [condition, value if true, value if false]');
        }
        this.checkCondition(condition, `${path}[0]`);
        return this.walk(branches, path);
      }
      case 'Fn::FindInMap': {
        const [mapName] = Array.isArray(argument) ? (argument as unknown[]) : [];
        if (typeof mapName === 'string' && !(mapName in (this.template.Mappings ?? {}))) {
          this.report(path, `mapping "${mapName}" is not defined in Mappings`);
        }
        return this.walk(argument, path);
      }
      case 'Fn::GetStackOutput':
        return this.checkStackOutput(argument, path);
      case 'Fn::ImportValue':
        return this.checkImport(argument, path);
      default:
        return this.walk(argument, path);
    }
  }

  /** `${Name}` is a Ref, `${Id.Attr}` a GetAtt, `${!Literal}` neither; names in the variable map are local. */
  private checkSub(argument: unknown, path: string): void {
    const [text, variables] = Array.isArray(argument) ? (argument as unknown[]) : [argument, undefined];
    if (typeof text !== 'string') {
      this.report(path, 'Fn::Sub takes a string, or [string, variables]');
      return;
    }
    const local = isPlainObject(variables) ? variables : {};
    for (const match of text.matchAll(/\$\{([^}]*)\}/g)) {
      const reference = match[1] ?? '';
      if (reference.startsWith('!') || reference in local) continue;
      const dot = reference.indexOf('.');
      if (dot >= 0 && !PSEUDO_PARAMETERS.has(reference)) {
        this.checkAttribute(reference.slice(0, dot), reference.slice(dot + 1), path);
      } else {
        this.checkRefTarget(reference, path);
      }
    }
    this.walk(local, path);
  }

  private checkStackOutput(argument: unknown, path: string): void {
    if (!isPlainObject(argument)) {
      this.report(path, 'Fn::GetStackOutput takes {StackName, OutputName, Region?, RoleArn?}');
      return;
    }
    const { StackName: stackName, OutputName: outputName, ...rest } = argument;
    for (const key of Object.keys(rest)) {
      if (key !== 'Region' && key !== 'RoleArn')
        this.report(`${path}.${key}`, 'is not a Fn::GetStackOutput key');
    }
    this.walk(rest, path);
    if (typeof stackName !== 'string' || typeof outputName !== 'string') {
      this.report(path, 'StackName and OutputName must be literal strings to be checked');
      return;
    }
    const producer = this.app.find((stack) => stack.stackName === stackName);
    if (!producer) {
      this.report(path, `Fn::GetStackOutput of stack "${stackName}", which is not a stack of this app`);
      return;
    }
    if (!(outputName in (producer.template.Outputs ?? {}))) {
      this.report(path, `Fn::GetStackOutput: stack "${stackName}" has no output "${outputName}"`);
    }
    if (!this.dependsOn(stackName)) {
      this.report(
        path,
        `reads an output of "${stackName}" but is not deployed after it (no stack dependency)`,
      );
    }
  }

  private checkImport(argument: unknown, path: string): void {
    if (typeof argument !== 'string') return this.walk(argument, path);
    const exporter = this.app.find((stack) =>
      Object.values(stack.template.Outputs ?? {}).some((output) => output.Export?.Name === argument),
    );
    if (!exporter) this.report(path, `Fn::ImportValue of "${argument}": no stack of this app exports it`);
    else if (!this.dependsOn(exporter.stackName)) {
      this.report(path, `imports "${argument}" from "${exporter.stackName}" but is not deployed after it`);
    }
  }

  /** Whether `stackName` is deployed before this stack: a direct or transitive dependency. */
  private dependsOn(stackName: string): boolean {
    const seen = new Set<string>();
    const pending = [...this.stack.dependencies];
    while (pending.length > 0) {
      const next = pending.pop() as string;
      if (next === stackName) return true;
      if (seen.has(next)) continue;
      seen.add(next);
      pending.push(...(this.app.find((stack) => stack.stackName === next)?.dependencies ?? []));
    }
    return false;
  }
}
