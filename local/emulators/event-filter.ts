import { isRecord } from '../../contracts/json';

/**
 * Lambda event filtering (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html), the
 * EventBridge pattern language as an event source mapping applies it to each record before batching.
 *
 * A pattern is a JSON object whose leaves are arrays of matchers. Fields are AND-ed, the matchers of one
 * field are OR-ed, and the filters of one FilterCriteria are OR-ed. Values are looked up by path, and arrays
 * met on the way are flattened as EventBridge does, so a field matches when any element matches. Matchers
 * only see leaf values (strings, numbers, booleans, null): that is why a DynamoDB pattern names the type key,
 * `{"dynamodb":{"NewImage":{"sk":{"S":[{"prefix":"event#"}]}}}}`, and why `N` values (strings in DynamoDB
 * JSON) never match `numeric`.
 *
 * Patterns are compiled once; a pattern AWS would refuse when the mapping is created (not JSON, an unknown
 * operator, a malformed operand) throws a FilterPatternError here, so a bad template fails at local start.
 */
export interface FilterCriteria {
  readonly Filters?: readonly { readonly Pattern?: string }[];
}

/** A compiled pattern (or a set of them): tells whether a record is handed to the function. */
export interface RecordFilter {
  matches(record: unknown): boolean;
}

export class FilterPatternError extends Error {
  /** Stable for callers that react to it; the message says what is wrong and where. */
  readonly code = 'INVALID_FILTER_PATTERN';

  constructor(message: string) {
    super(message);
    this.name = 'FilterPatternError';
  }
}

/** Lambda's limit on one filter's Pattern string. */
export const MAX_PATTERN_LENGTH = 4096;

type Leaf = string | number | boolean | null;
type ValueMatcher = (value: Leaf) => boolean;

/** One field of a pattern, or an `$or` of sub-patterns rooted at the same place. */
type Condition =
  | { readonly kind: 'field'; readonly path: readonly string[]; readonly test: FieldTest }
  | { readonly kind: 'or'; readonly path: readonly string[]; readonly alternatives: readonly Condition[][] };

/** `exists` looks at whether any leaf is there at all; every other matcher looks at the leaves. */
interface FieldTest {
  /** `{"exists": true}` is one of the field's matchers. */
  readonly matchesAnyPresentValue: boolean;
  /** `{"exists": false}` is one of the field's matchers. */
  readonly matchesAbsence: boolean;
  readonly matchers: readonly ValueMatcher[];
}

const MATCH_EVERYTHING: RecordFilter = { matches: () => true };

/** Compiles every filter of a mapping's FilterCriteria; no filter at all lets every record through. */
export function compileFilterCriteria(criteria: FilterCriteria | undefined): RecordFilter {
  const filters = criteria?.Filters ?? [];
  if (filters.length === 0) return MATCH_EVERYTHING;
  const compiled = filters.map((filter, index) => {
    if (typeof filter.Pattern !== 'string') {
      throw new FilterPatternError(`FilterCriteria.Filters[${index}] has no Pattern string`);
    }
    try {
      return compileFilterPattern(filter.Pattern);
    } catch (error) {
      if (error instanceof FilterPatternError) {
        throw new FilterPatternError(`FilterCriteria.Filters[${index}]: ${error.message}`);
      }
      throw error;
    }
  });
  return { matches: (record) => compiled.some((filter) => filter.matches(record)) };
}

/** Compiles one Pattern string (the JSON text, as CloudFormation carries it). */
export function compileFilterPattern(pattern: string): RecordFilter {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new FilterPatternError(
      `the pattern is ${pattern.length} characters, over the ${MAX_PATTERN_LENGTH} limit`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(pattern);
  } catch (error) {
    throw new FilterPatternError(`the pattern is not valid JSON (${(error as Error).message}): ${pattern}`);
  }
  if (!isRecord(parsed)) throw new FilterPatternError(`the pattern must be a JSON object: ${pattern}`);
  const conditions = compileObject(parsed, []);
  return { matches: (record) => conditions.every((condition) => holds(condition, [record])) };
}

function compileObject(pattern: Record<string, unknown>, path: readonly string[]): Condition[] {
  const conditions: Condition[] = [];
  for (const [key, value] of Object.entries(pattern)) {
    if (key === '$or') {
      conditions.push(compileOr(value, path));
    } else if (Array.isArray(value)) {
      conditions.push({ kind: 'field', path: [...path, key], test: compileField(value, [...path, key]) });
    } else if (isRecord(value)) {
      conditions.push(...compileObject(value, [...path, key]));
    } else {
      throw new FilterPatternError(
        `"${[...path, key].join('.')}" must be an array of matchers or a nested object, not ${JSON.stringify(value)}`,
      );
    }
  }
  return conditions;
}

function compileOr(value: unknown, path: readonly string[]): Condition {
  const where = [...path, '$or'].join('.');
  if (!Array.isArray(value) || value.length < 2 || !value.every(isRecord)) {
    throw new FilterPatternError(`"${where}" must be an array of at least two pattern objects`);
  }
  return { kind: 'or', path, alternatives: value.map((alternative) => compileObject(alternative, [])) };
}

/** An empty matcher list is accepted and matches nothing, as no value can be one of zero values. */
function compileField(matchers: unknown[], path: readonly string[]): FieldTest {
  const where = path.join('.');
  let matchesAnyPresentValue = false;
  let matchesAbsence = false;
  const compiled: ValueMatcher[] = [];
  for (const matcher of matchers) {
    if (isRecord(matcher) && 'exists' in matcher) {
      if (Object.keys(matcher).length !== 1 || typeof matcher.exists !== 'boolean') {
        throw new FilterPatternError(`"${where}": "exists" takes true or false and nothing else`);
      }
      if (matcher.exists) matchesAnyPresentValue = true;
      else matchesAbsence = true;
    } else {
      compiled.push(compileMatcher(matcher, where));
    }
  }
  return { matchesAnyPresentValue, matchesAbsence, matchers: compiled };
}

function compileMatcher(matcher: unknown, where: string): ValueMatcher {
  if (matcher === null || ['string', 'number', 'boolean'].includes(typeof matcher)) {
    return (value) => value === matcher;
  }
  if (!isRecord(matcher)) {
    throw new FilterPatternError(
      `"${where}": a matcher is a value or an operator object, not ${JSON.stringify(matcher)}`,
    );
  }
  const keys = Object.keys(matcher);
  const [operator] = keys;
  if (keys.length !== 1 || operator === undefined) {
    throw new FilterPatternError(
      `"${where}": an operator object has exactly one key: ${JSON.stringify(matcher)}`,
    );
  }
  const operand = matcher[operator];
  switch (operator) {
    case 'prefix':
      return compileAffix(operand, where, operator, (value, affix) => value.startsWith(affix));
    case 'suffix':
      return compileAffix(operand, where, operator, (value, affix) => value.endsWith(affix));
    case 'equals-ignore-case': {
      const expected = requireString(operand, where, operator).toLowerCase();
      return (value) => typeof value === 'string' && value.toLowerCase() === expected;
    }
    case 'anything-but':
      return compileAnythingBut(operand, where);
    case 'numeric':
      return compileNumeric(operand, where);
    default:
      throw new FilterPatternError(`"${where}": unknown filter operator "${operator}"`);
  }
}

/** `prefix`/`suffix` take a string, or `{"equals-ignore-case": string}` to compare without case. */
function compileAffix(
  operand: unknown,
  where: string,
  operator: string,
  test: (value: string, affix: string) => boolean,
): ValueMatcher {
  if (isRecord(operand) && Object.keys(operand).length === 1 && 'equals-ignore-case' in operand) {
    const affix = requireString(operand['equals-ignore-case'], where, `${operator}.equals-ignore-case`);
    return (value) => typeof value === 'string' && test(value.toLowerCase(), affix.toLowerCase());
  }
  const affix = requireString(operand, where, operator);
  return (value) => typeof value === 'string' && test(value, affix);
}

/**
 * `anything-but` matches a value that is there and is not one of the listed ones (or does not start or end
 * with the given text); a missing field never matches it.
 */
function compileAnythingBut(operand: unknown, where: string): ValueMatcher {
  if (isRecord(operand)) {
    const [operator] = Object.keys(operand);
    if (operator !== 'prefix' && operator !== 'suffix' && operator !== 'equals-ignore-case') {
      throw new FilterPatternError(
        `"${where}": anything-but takes values, prefix, suffix or equals-ignore-case`,
      );
    }
    const inner = compileMatcher(operand, `${where}.anything-but`);
    return (value) => typeof value === 'string' && !inner(value);
  }
  const excluded: unknown[] = Array.isArray(operand) ? operand : [operand];
  if (
    excluded.length === 0 ||
    !excluded.every((item) => typeof item === 'string' || typeof item === 'number')
  ) {
    throw new FilterPatternError(
      `"${where}": anything-but takes a string, a number or a non-empty list of them`,
    );
  }
  const excludedValues = new Set<unknown>(excluded);
  return (value) => !excludedValues.has(value);
}

const LOWER_BOUNDS: Record<string, (value: number, bound: number) => boolean> = {
  '>': (value, bound) => value > bound,
  '>=': (value, bound) => value >= bound,
};
const UPPER_BOUNDS: Record<string, (value: number, bound: number) => boolean> = {
  '<': (value, bound) => value < bound,
  '<=': (value, bound) => value <= bound,
};

/** `numeric`: `["=", n]`, or one lower and/or one upper bound such as `[">", 0, "<=", 5]`. */
function compileNumeric(operand: unknown, where: string): ValueMatcher {
  const fail = (why: string): never => {
    throw new FilterPatternError(`"${where}": numeric ${JSON.stringify(operand)} ${why}`);
  };
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) {
    return fail('takes one or two (operator, number) pairs');
  }
  const tests: ((value: number) => boolean)[] = [];
  let lower: number | undefined;
  let upper: number | undefined;
  for (let index = 0; index < operand.length; index += 2) {
    const operator: unknown = operand[index];
    const bound: unknown = operand[index + 1];
    if (typeof bound !== 'number' || !Number.isFinite(bound))
      return fail(`needs a number after "${operator}"`);
    if (operator === '=') {
      if (operand.length !== 2) return fail('cannot combine "=" with a range');
      tests.push((value) => value === bound);
    } else if (typeof operator === 'string' && operator in LOWER_BOUNDS && lower === undefined) {
      lower = bound;
      tests.push((value) => LOWER_BOUNDS[operator]!(value, bound));
    } else if (typeof operator === 'string' && operator in UPPER_BOUNDS && upper === undefined) {
      upper = bound;
      tests.push((value) => UPPER_BOUNDS[operator]!(value, bound));
    } else {
      return fail(`has an unknown or repeated operator "${String(operator)}"`);
    }
  }
  if (lower !== undefined && upper !== undefined && lower >= upper) return fail('is an empty range');
  return (value) => typeof value === 'number' && tests.every((test) => test(value));
}

function requireString(operand: unknown, where: string, operator: string): string {
  if (typeof operand !== 'string') {
    throw new FilterPatternError(`"${where}": ${operator} takes a string, not ${JSON.stringify(operand)}`);
  }
  return operand;
}

function holds(condition: Condition, roots: readonly unknown[]): boolean {
  if (condition.kind === 'or') {
    const bases = descend(roots, condition.path);
    return condition.alternatives.some((alternative) => alternative.every((inner) => holds(inner, bases)));
  }
  const leaves = descend(roots, condition.path).filter(isLeaf);
  const { matchesAnyPresentValue, matchesAbsence, matchers } = condition.test;
  if (leaves.length === 0) return matchesAbsence;
  return matchesAnyPresentValue || leaves.some((leaf) => matchers.some((matcher) => matcher(leaf)));
}

/** Every value at `path` below any of `roots`, arrays flattened at every level (EventBridge's rule). */
function descend(roots: readonly unknown[], path: readonly string[]): unknown[] {
  let values = roots.flatMap(flatten);
  for (const key of path) {
    values = values.flatMap((value) => (isRecord(value) && key in value ? flatten(value[key]) : []));
  }
  return values;
}

function flatten(value: unknown): unknown[] {
  return Array.isArray(value) ? value.flatMap(flatten) : [value];
}

function isLeaf(value: unknown): value is Leaf {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}
