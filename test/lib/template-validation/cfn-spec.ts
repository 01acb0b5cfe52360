import { loadAwsServiceSpecSync } from '@aws-cdk/aws-service-spec';

/**
 * The CloudFormation resource specification the CDK itself is generated from: npm @aws-cdk/aws-service-spec
 * (db.json.gz), built from the CloudFormation registry schemas. Only what template validation reads is
 * typed here: resource types, their properties (type, required, allowed values) and their attributes.
 */

export type SpecType =
  | { readonly type: 'string'; readonly allowedValues?: readonly string[] }
  | { readonly type: 'integer'; readonly allowedValues?: readonly number[] }
  | { readonly type: 'number' | 'boolean' | 'json' | 'date-time' | 'null' | 'tag' }
  | { readonly type: 'ref'; readonly reference: { readonly $ref: string } }
  | { readonly type: 'array' | 'map'; readonly element: SpecType }
  | { readonly type: 'union'; readonly types: readonly SpecType[] };

export interface SpecProperty {
  readonly type: SpecType;
  readonly required?: boolean;
}

export interface SpecResource {
  readonly cloudFormationType: string;
  readonly properties: Readonly<Record<string, SpecProperty>>;
  readonly attributes: Readonly<Record<string, { readonly type: SpecType }>>;
}

interface SpecTypeDefinition {
  readonly name: string;
  readonly properties: Readonly<Record<string, SpecProperty>>;
}

/** The database's lookups this validation uses (tskb's Database, narrowed). */
interface SpecDatabase {
  lookup(collection: 'resource', index: 'cloudFormationType', op: 'equals', value: string): unknown[];
  get(collection: 'typeDefinition', id: string): unknown;
}

export class CfnSpec {
  private static loaded: CfnSpec | undefined;
  private readonly resources = new Map<string, SpecResource | undefined>();

  private constructor(private readonly db: SpecDatabase) {}

  /** Loads the database once per test file (about 2.5 s). */
  static load(): CfnSpec {
    CfnSpec.loaded ??= new CfnSpec(loadAwsServiceSpecSync() as unknown as SpecDatabase);
    return CfnSpec.loaded;
  }

  resource(type: string): SpecResource | undefined {
    if (!this.resources.has(type)) {
      const [found] = this.db.lookup('resource', 'cloudFormationType', 'equals', type);
      this.resources.set(type, found as SpecResource | undefined);
    }
    return this.resources.get(type);
  }

  typeDefinition(type: { readonly reference: { readonly $ref: string } }): SpecTypeDefinition {
    return this.db.get('typeDefinition', type.reference.$ref) as SpecTypeDefinition;
  }

  /** How a type reads in a message: `string`, `Array<KeySchema>`, `integer (one of 1, 3, …)`. */
  describe(type: SpecType): string {
    switch (type.type) {
      case 'ref':
        return this.typeDefinition(type).name;
      case 'array':
        return `Array<${this.describe(type.element)}>`;
      case 'map':
        return `Map<${this.describe(type.element)}>`;
      case 'union':
        return type.types.map((member) => this.describe(member)).join(' | ');
      default:
        return type.type;
    }
  }
}
