import type { CfnSpec, SpecProperty, SpecType } from './cfn-spec';
import { intrinsicName, isPlainObject, type CfnTemplate } from './model';

/** What an intrinsic function evaluates to, as far as a template shows it. */
type ResultKind = 'scalar' | 'list' | 'any';

/** What a property of a type needs: intrinsics returning something else cannot stand there. */
type ExpectedKind = 'scalar' | 'list' | 'object' | 'any';

const LIST_FUNCTIONS = new Set(['Fn::Split', 'Fn::GetAZs', 'Fn::Cidr']);
const ANY_FUNCTIONS = new Set(['Fn::If', 'Fn::FindInMap', 'Fn::Select']);

/**
 * Checks resource properties against the specification: no property the type does not have, every
 * required one present, each value of its type (strings, numbers, integers, booleans, arrays, maps,
 * nested types, tags, unions) and within the allowed values where the type lists them. An intrinsic
 * function is accepted wherever a value is, as long as what it returns can stand there (a list where a
 * list is expected, a single value where one is); both branches of an Fn::If are checked as the value.
 */
export class PropertyChecker {
  constructor(
    private readonly spec: CfnSpec,
    private readonly template: CfnTemplate,
    private readonly report: (path: string, message: string) => void,
  ) {}

  checkProperties(
    value: unknown,
    properties: Readonly<Record<string, SpecProperty>>,
    path: string,
    report = this.report,
  ): void {
    if (!isPlainObject(value)) {
      report(path, `must be an object of properties, got ${JSON.stringify(value)}`);
      return;
    }
    for (const [name, propertyValue] of Object.entries(value)) {
      const property = properties[name];
      if (!property) {
        report(`${path}.${name}`, 'is not a property of this type');
        continue;
      }
      this.checkValue(propertyValue, property.type, `${path}.${name}`, report);
    }
    for (const [name, property] of Object.entries(properties)) {
      if (property.required && !(name in value)) report(`${path}.${name}`, 'is required and missing');
    }
  }

  checkValue(value: unknown, type: SpecType, path: string, report = this.report): void {
    const intrinsic = intrinsicName(value);
    if (intrinsic) {
      this.checkIntrinsicValue(value as Record<string, unknown>, intrinsic, type, path, report);
      return;
    }
    const wrong = () => report(path, `must be ${this.spec.describe(type)}, got ${JSON.stringify(value)}`);
    switch (type.type) {
      case 'string':
      case 'date-time':
        if (typeof value !== 'string') return wrong();
        return this.checkAllowed(
          value,
          'allowedValues' in type ? type.allowedValues : undefined,
          path,
          report,
        );
      case 'number':
        if (!isNumeric(value)) return wrong();
        return;
      case 'integer':
        if (!isNumeric(value) || !Number.isInteger(Number(value))) return wrong();
        return this.checkAllowed(Number(value), type.allowedValues, path, report);
      case 'boolean':
        if (typeof value !== 'boolean' && value !== 'true' && value !== 'false') return wrong();
        return;
      case 'null':
        if (value !== null) return wrong();
        return;
      case 'json':
        return;
      case 'tag':
        return this.checkProperties(value, TAG_PROPERTIES, path, report);
      case 'array':
        if (!Array.isArray(value)) return wrong();
        value.forEach((element, index) =>
          this.checkValue(element, type.element, `${path}[${index}]`, report),
        );
        return;
      case 'map':
        if (!isPlainObject(value)) return wrong();
        for (const [key, element] of Object.entries(value)) {
          this.checkValue(element, type.element, `${path}.${key}`, report);
        }
        return;
      case 'ref':
        return this.checkProperties(value, this.spec.typeDefinition(type).properties, path, report);
      case 'union':
        return this.checkUnion(value, type.types, path, report);
    }
  }

  /** Valid when any member accepts it; otherwise the problems of the member that came closest. */
  private checkUnion(
    value: unknown,
    members: readonly SpecType[],
    path: string,
    report: (path: string, message: string) => void,
  ): void {
    let closest: [string, string][] | undefined;
    for (const member of members) {
      const found: [string, string][] = [];
      this.checkValue(value, member, path, (where, message) => found.push([where, message]));
      if (found.length === 0) return;
      if (!closest || found.length < closest.length) closest = found;
    }
    for (const [where, message] of closest ?? []) report(where, message);
  }

  private checkAllowed<T extends string | number>(
    value: T,
    allowed: readonly T[] | undefined,
    path: string,
    report: (path: string, message: string) => void,
  ): void {
    if (allowed && allowed.length > 0 && !allowed.includes(value)) {
      report(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
    }
  }

  private checkIntrinsicValue(
    value: Record<string, unknown>,
    name: string,
    type: SpecType,
    path: string,
    report: (path: string, message: string) => void,
  ): void {
    if (name === 'Fn::If') {
      const branches = Array.isArray(value[name]) ? (value[name] as unknown[]).slice(1, 3) : [];
      branches.forEach((branch, index) => {
        const noValue = isPlainObject(branch) && branch.Ref === 'AWS::NoValue';
        if (!noValue) this.checkValue(branch, type, `${path}.Fn::If[${index + 1}]`, report);
      });
      return;
    }
    const result = this.resultKind(value, name);
    const expected = expectedKind(type);
    if (result === 'any' || expected === 'any' || result === expected) return;
    report(path, `must be ${this.spec.describe(type)}, but ${name} returns a ${result}`);
  }

  private resultKind(value: Record<string, unknown>, name: string): ResultKind {
    if (LIST_FUNCTIONS.has(name)) return 'list';
    if (ANY_FUNCTIONS.has(name)) return 'any';
    if (name === 'Ref') {
      const target = String(value.Ref);
      const parameterType = this.template.Parameters?.[target]?.Type ?? '';
      const list = target === 'AWS::NotificationARNs' || /^(List<|CommaDelimitedList)/.test(parameterType);
      return list ? 'list' : 'scalar';
    }
    if (name === 'Fn::GetAtt') {
      const [logicalId, attribute] = getAttTarget(value['Fn::GetAtt']);
      const resourceType = this.template.Resources?.[logicalId ?? '']?.Type;
      const spec = typeof resourceType === 'string' ? this.spec.resource(resourceType) : undefined;
      const attributeType = attribute === undefined ? undefined : spec?.attributes[attribute]?.type;
      if (!attributeType || attributeType.type === 'json' || attributeType.type === 'union') return 'any';
      return attributeType.type === 'array' ? 'list' : 'scalar';
    }
    return 'scalar';
  }
}

/** `["Id", "Attr"]` or `"Id.Attr"`: the resource and the attribute, when written literally. */
export function getAttTarget(argument: unknown): [string | undefined, string | undefined] {
  if (typeof argument === 'string') {
    const dot = argument.indexOf('.');
    return dot < 0 ? [argument, undefined] : [argument.slice(0, dot), argument.slice(dot + 1)];
  }
  if (Array.isArray(argument)) {
    const [logicalId, attribute] = argument as unknown[];
    return [
      typeof logicalId === 'string' ? logicalId : undefined,
      typeof attribute === 'string' ? attribute : undefined,
    ];
  }
  return [undefined, undefined];
}

function expectedKind(type: SpecType): ExpectedKind {
  switch (type.type) {
    case 'array':
      return 'list';
    case 'map':
    case 'ref':
    case 'tag':
      return 'object';
    case 'json':
    case 'union':
      return 'any';
    default:
      return 'scalar';
  }
}

/** CloudFormation takes numbers as numbers or as numeric strings ("5"). */
function isNumeric(value: unknown): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value));
}

/** The resource specification's builtin tag type: `{Key, Value}`, both strings. */
const TAG_PROPERTIES: Readonly<Record<string, SpecProperty>> = {
  Key: { type: { type: 'string' }, required: true },
  Value: { type: { type: 'string' }, required: true },
};
