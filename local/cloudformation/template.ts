/** The parts of a synthesized CloudFormation template the local stack reads. */
export type Template = {
  Resources?: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
};

export interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

/** One stack of a synthesized cloud assembly. */
export interface StackTemplate {
  stackName: string;
  template: Template;
  /** The cloud assembly directory: asset paths in metadata are relative to it. */
  assemblyDir: string;
}

/** A template the local stack cannot run: a dangling reference, a function without its bundle, … */
export class TemplateModelError extends Error {}

/** A resource of a stack by logical id; own properties only, so `constructor` is never a resource. */
export function resourceOf(stack: StackTemplate, logicalId: string): Resource | undefined {
  const resources = stack.template.Resources ?? {};
  return Object.hasOwn(resources, logicalId) ? resources[logicalId] : undefined;
}
