import { isRecord } from '../../contracts/json';
import { resourceOf, TemplateModelError, type Resource, type StackTemplate } from './template';

/**
 * CloudFormation's intrinsic functions and pseudo parameters, evaluated over synthesized templates as
 * CloudFormation evaluates them at deploy time: `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Split`,
 * `Fn::Sub`, `Fn::ImportValue`, and CDK's `Fn::GetStackOutput` (cross-stack references without exports).
 * What a resource's Ref or attribute stands for is the caller's to say: locally it is a local name or URL,
 * not what AWS would have created.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
 */

/** The value a `Ref` or `Fn::GetAtt` of one of the templates' resources resolves to. */
export interface ResourceValues {
  ref(stack: StackTemplate, logicalId: string, resource: Resource): unknown;
  getAtt(stack: StackTemplate, logicalId: string, attribute: string, resource: Resource): unknown;
}

export interface IntrinsicsOptions {
  /** Every stack of the assembly: imports and stack outputs are looked up among them. */
  stacks: readonly StackTemplate[];
  /** `AWS::Region`. */
  region: string;
  /** `AWS::AccountId`. */
  accountId: string;
  resources: ResourceValues;
  /**
   * Applied to whatever a stack's resolver returns, and to a value taken from another stack's output
   * before it is used here, so a rewrite (such as URLs to local ones) sees each stack's values whole.
   * @default the value as resolved
   */
  finish?: (value: unknown) => unknown;
}

export type Resolve = (value: unknown) => unknown;

const PSEUDO_PARAMETERS = new Set([
  'AWS::Region',
  'AWS::AccountId',
  'AWS::Partition',
  'AWS::URLSuffix',
  'AWS::StackName',
  'AWS::NoValue',
]);

/**
 * Returns the resolver of each stack: it replaces every intrinsic inside a value (an environment variable,
 * an output, a property), however deeply nested, and leaves everything else as it is. A logical id in a
 * `Ref` or `Fn::GetAtt` names a resource of that stack.
 */
export function createIntrinsicResolver(options: IntrinsicsOptions): (stack: StackTemplate) => Resolve {
  const { stacks, resources } = options;
  const finish = options.finish ?? ((value: unknown) => value);
  const exportsByName = new Map<string, { stack: StackTemplate; value: unknown }>();
  for (const stack of stacks) {
    for (const output of Object.values(stack.template.Outputs ?? {})) {
      if (output.Export && typeof output.Export.Name === 'string') {
        exportsByName.set(output.Export.Name, { stack, value: output.Value });
      }
    }
  }

  const resolverOf = (stack: StackTemplate): Resolve => {
    const ref = (name: string): unknown => {
      if (PSEUDO_PARAMETERS.has(name)) return pseudoParameter(name, stack, options);
      const resource = resourceOf(stack, name);
      if (!resource) throw new TemplateModelError(`Ref to unknown resource ${name} in ${stack.stackName}`);
      return resources.ref(stack, name, resource);
    };

    const getAtt = (logicalId: string, attribute: string): unknown => {
      const resource = resourceOf(stack, logicalId);
      if (!resource) {
        throw new TemplateModelError(`GetAtt of unknown resource ${logicalId} in ${stack.stackName}`);
      }
      return resources.getAtt(stack, logicalId, attribute, resource);
    };

    const resolveEach = (value: Record<string, unknown>): Record<string, unknown> =>
      Object.fromEntries(Object.entries(value).map(([key, nested]) => [key, resolve(nested)]));

    const resolve = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(resolve);
      if (!isRecord(value)) return value;
      const keys = Object.keys(value);
      // An intrinsic is an object of exactly one key; anything else is a plain object to resolve inside.
      if (keys.length !== 1) return resolveEach(value);
      const [fn] = keys as [string];
      const arg = value[fn];
      switch (fn) {
        case 'Ref':
          return ref(String(arg));
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split('.');
          return getAtt(String(logicalId), String(attribute));
        }
        case 'Fn::Join': {
          const [separator, parts] = arg as [string, unknown[]];
          return parts.map((part) => String(resolve(part))).join(separator);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [number, unknown];
          const resolved = resolve(list);
          return Array.isArray(resolved) ? resolved[Number(index)] : undefined;
        }
        case 'Fn::Split': {
          const [separator, source] = arg as [string, unknown];
          return String(resolve(source)).split(separator);
        }
        case 'Fn::Sub': {
          const template = Array.isArray(arg) ? String(arg[0]) : String(arg);
          const variables = Array.isArray(arg) && isRecord(arg[1]) ? arg[1] : {};
          return template.replace(/\$\{([^}]+)\}/g, (_match, name: string) => {
            if (name in variables) return String(resolve(variables[name]));
            const [logicalId = '', attribute = ''] = name.split('.');
            return String(name.includes('.') ? getAtt(logicalId, attribute) : ref(name));
          });
        }
        case 'Fn::GetStackOutput': {
          const { StackName, OutputName } = arg as { StackName: unknown; OutputName: unknown };
          const source = stacks.find((s) => s.stackName === resolve(StackName));
          const output = source?.template.Outputs?.[String(resolve(OutputName))];
          if (!source || !output) {
            throw new TemplateModelError(`Output ${String(OutputName)} of ${String(StackName)} not found`);
          }
          // The output's value is an expression of its own stack, so it resolves there.
          return finish(resolverOf(source)(output.Value));
        }
        case 'Fn::ImportValue': {
          const name = String(resolve(arg));
          const exported = exportsByName.get(name);
          if (!exported) throw new TemplateModelError(`Import ${name} is exported by no stack`);
          return finish(resolverOf(exported.stack)(exported.value));
        }
        default:
          return resolveEach(value);
      }
    };
    return resolve;
  };

  return (stack) => {
    const resolve = resolverOf(stack);
    return (value) => finish(resolve(value));
  };
}

/** AWS's own values of the pseudo parameters, with the configured region and account. */
function pseudoParameter(name: string, stack: StackTemplate, options: IntrinsicsOptions): unknown {
  switch (name) {
    case 'AWS::Region':
      return options.region;
    case 'AWS::AccountId':
      return options.accountId;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return stack.stackName;
    default:
      // AWS::NoValue: the property is left out.
      return undefined;
  }
}
