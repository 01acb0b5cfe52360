/**
 * The one environment reader. Configuration comes from the environment, read once at cold start (or at
 * process start, for the local stack and the benchmark). A missing variable fails with its name, rather
 * than surfacing later as an `undefined` deep inside a request; a malformed one fails with its name and
 * the value it holds.
 *
 * Unset and blank are the same thing: a variable that holds only spaces is missing.
 *
 * Each typed reader (intEnv, positiveIntEnv, booleanEnv, listEnv) has two forms, told apart by its second
 * argument:
 * - `intEnv(name, env?)` requires the variable: unset, it throws MissingEnvError. This is the form the
 *   functions use, because the stacks set every variable from the stage config, the one place defaults
 *   live; a default here too would be a second copy that could silently disagree.
 * - `intEnv(name, fallback, env?)` answers the fallback when the variable is unset. For tools run by hand
 *   (the local stack, the benchmark), whose environment sets little.
 * `env` is process.env unless given; tests pass a plain object.
 */
export class MissingEnvError extends Error {
  constructor(name: string) {
    super(`Missing required environment variable ${name}`);
    this.name = 'MissingEnvError';
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** The variable's value, or undefined when it is unset or blank. */
function valueOf(name: string, env: Env): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value;
}

export function requireEnv(name: string, env: Env = process.env): string {
  const value = valueOf(name, env);
  if (value === undefined) throw new MissingEnvError(name);
  return value;
}

export function optionalEnv(name: string, fallback: string, env: Env = process.env): string {
  return valueOf(name, env) ?? fallback;
}

/** Both forms of a typed reader: `(name, env?)` requires the variable, `(name, fallback, env?)` does not. */
function readTyped<T>(
  name: string,
  fallbackOrEnv: T | Env | undefined,
  env: Env | undefined,
  isFallback: (value: unknown) => value is T,
  parse: (raw: string) => T,
): T {
  if (isFallback(fallbackOrEnv)) {
    const raw = valueOf(name, env ?? process.env);
    return raw === undefined ? fallbackOrEnv : parse(raw);
  }
  return parse(requireEnv(name, (fallbackOrEnv as Env | undefined) ?? process.env));
}

const isNumber = (value: unknown): value is number => typeof value === 'number';
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isList = (value: unknown): value is readonly string[] => Array.isArray(value);

function wholeNumber(name: string, raw: string, min: 0 | 1): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    const kind = min === 0 ? 'a non-negative integer' : 'a positive integer';
    throw new Error(`Environment variable ${name} must be ${kind}, got "${raw}"`);
  }
  return value;
}

/** A whole number from 0 up: a delay in milliseconds, a number of seconds that may be 0. */
export function intEnv(name: string, env?: Env): number;
export function intEnv(name: string, fallback: number, env?: Env): number;
export function intEnv(name: string, fallbackOrEnv?: number | Env, env?: Env): number {
  return readTyped(name, fallbackOrEnv, env, isNumber, (raw) => wholeNumber(name, raw, 0));
}

/** A whole number from 1 up: a count, a size, a concurrency, a number of attempts. */
export function positiveIntEnv(name: string, env?: Env): number;
export function positiveIntEnv(name: string, fallback: number, env?: Env): number;
export function positiveIntEnv(name: string, fallbackOrEnv?: number | Env, env?: Env): number {
  return readTyped(name, fallbackOrEnv, env, isNumber, (raw) => wholeNumber(name, raw, 1));
}

/** "true" or "false", exactly. Anything else fails, so a typo (`TRUE`, `yes`) cannot flip a switch. */
export function booleanEnv(name: string, env?: Env): boolean;
export function booleanEnv(name: string, fallback: boolean, env?: Env): boolean;
export function booleanEnv(name: string, fallbackOrEnv?: boolean | Env, env?: Env): boolean {
  return readTyped(name, fallbackOrEnv, env, isBoolean, (raw) => {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new Error(`Environment variable ${name} must be "true" or "false", got "${raw}"`);
  });
}

/**
 * A comma-separated list, each item trimmed, empty items dropped (`a, b,,c` is `["a", "b", "c"]`). A value
 * with no item at all (`,,`) fails rather than reading as an empty list that no one meant.
 */
export function listEnv(name: string, env?: Env): readonly string[];
export function listEnv(name: string, fallback: readonly string[], env?: Env): readonly string[];
export function listEnv(name: string, fallbackOrEnv?: readonly string[] | Env, env?: Env): readonly string[] {
  return readTyped(name, fallbackOrEnv, env, isList, (raw) => {
    const items = raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
    if (items.length === 0) {
      throw new Error(`Environment variable ${name} must list at least one value, got "${raw}"`);
    }
    return items;
  });
}
