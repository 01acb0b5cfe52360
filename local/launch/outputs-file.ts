import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

/**
 * stack name → output key → value: the shape of the JSON `cdk deploy --outputs-file` writes, which the
 * local stack writes too, so that the e2e suite and the benchmark read a deployed stage and the local
 * stack the same way.
 */
export type StackOutputs = Record<string, Record<string, string>>;

export interface OutputsFile {
  readonly file: string;
  readonly outputs: StackOutputs;
  /** The value of an output in whichever stack has it; throws `Output <key> missing from <file>`. */
  required(key: string): string;
  /** The value of an output in whichever stack has it; undefined when none does. */
  optional(key: string): string | undefined;
}

/**
 * An output by key, from whichever stack has it. Output keys are unique across the app's stacks, so the
 * caller need not know which stack exports what. An empty value counts as missing.
 */
export function findOutput(outputs: StackOutputs, key: string): string | undefined {
  for (const stack of Object.values(outputs)) {
    if (stack[key] !== undefined) return stack[key] || undefined;
  }
  return undefined;
}

export function readOutputsFile(file: string): OutputsFile {
  const outputs = JSON.parse(readFileSync(file, 'utf8')) as StackOutputs;
  return {
    file,
    outputs,
    required: (key) => {
      const value = findOutput(outputs, key);
      if (value === undefined) throw new Error(`Output ${key} missing from ${file}`);
      return value;
    },
    optional: (key) => findOutput(outputs, key),
  };
}

export async function writeOutputsFile(file: string, outputs: StackOutputs): Promise<void> {
  await writeFile(file, `${JSON.stringify(outputs, null, 2)}\n`);
}
