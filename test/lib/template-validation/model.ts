/** A CloudFormation template as JSON, and what validation reports about it. */

export interface CfnResource {
  readonly Type?: unknown;
  readonly Properties?: unknown;
  readonly DependsOn?: unknown;
  readonly Condition?: unknown;
  readonly [attribute: string]: unknown;
}

export interface CfnTemplate {
  readonly Parameters?: Readonly<Record<string, { readonly Type?: string }>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
  readonly Mappings?: Readonly<Record<string, unknown>>;
  readonly Rules?: Readonly<Record<string, unknown>>;
  readonly Resources?: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<
    Record<string, { readonly Value?: unknown; readonly Export?: { readonly Name?: unknown } }>
  >;
  readonly [section: string]: unknown;
}

/** One stack of an app: its template and the stacks it depends on (deployed before it). */
export interface StackTemplate {
  readonly stackName: string;
  readonly template: CfnTemplate;
  readonly dependencies: readonly string[];
}

export interface Problem {
  readonly stack: string;
  /** Where in the template, e.g. `Resources.Table.Properties.KeySchema[0].KeyType`. */
  readonly path: string;
  readonly message: string;
}

/** `{Ref: …}` or `{"Fn::…": …}`: a value CloudFormation computes, allowed wherever a value is. */
export function intrinsicName(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const keys = Object.keys(value);
  if (keys.length !== 1) return undefined;
  const [key] = keys as [string];
  return key === 'Ref' || key.startsWith('Fn::') ? key : undefined;
}

export const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The parameters CloudFormation defines in every stack. */
export const PSEUDO_PARAMETERS: ReadonlySet<string> = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);
