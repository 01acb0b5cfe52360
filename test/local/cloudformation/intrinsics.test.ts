import {
  createIntrinsicResolver,
  type IntrinsicsOptions,
  type ResourceValues,
} from '../../../local/cloudformation/intrinsics';
import {
  TemplateModelError,
  type Resource,
  type StackTemplate,
  type Template,
} from '../../../local/cloudformation/template';

/** A resource of any type: what a Ref or attribute of it means is the ResourceValues' to say. */
const resource = (Type: string): Resource => ({ Type, Properties: {} });

function stackTemplate(
  stackName: string,
  resources: Record<string, Resource>,
  outputs: Template['Outputs'] = {},
): StackTemplate {
  return { stackName, template: { Resources: resources, Outputs: outputs }, assemblyDir: '/tmp/assembly' };
}

const APP = stackTemplate('App', {
  Table: resource('AWS::DynamoDB::Table'),
  Fn: resource('AWS::Lambda::Function'),
});
const DATA = stackTemplate(
  'Data',
  { Table: resource('AWS::DynamoDB::Table') },
  {
    TableName: { Value: { Ref: 'Table' } },
    ExportedName: { Value: { 'Fn::GetAtt': ['Table', 'Arn'] }, Export: { Name: 'Data:TableArn' } },
  },
);

/** Marks each value with the stack and resource it came from, so an assertion shows where it resolved. */
const resourceValues: ResourceValues = {
  ref: (stack, logicalId) => `ref(${stack.stackName}/${logicalId})`,
  getAtt: (stack, logicalId, attribute) => `att(${stack.stackName}/${logicalId}.${attribute})`,
};

function resolverFor(stack: StackTemplate, options: Partial<IntrinsicsOptions> = {}) {
  return createIntrinsicResolver({
    stacks: [APP, DATA],
    region: 'eu-west-1',
    accountId: '123456789012',
    resources: resourceValues,
    ...options,
  })(stack);
}

describe('createIntrinsicResolver', () => {
  const resolve = resolverFor(APP);

  describe('Ref', () => {
    it.each([
      ['AWS::Region', 'eu-west-1'],
      ['AWS::AccountId', '123456789012'],
      ['AWS::Partition', 'aws'],
      ['AWS::URLSuffix', 'amazonaws.com'],
      ['AWS::StackName', 'App'],
    ])('resolves the pseudo parameter %s to %s', (name, expected) => {
      expect(resolve({ Ref: name })).toBe(expected);
    });

    it('resolves AWS::NoValue to undefined, so the property is left out', () => {
      expect(resolve({ Ref: 'AWS::NoValue' })).toBeUndefined();
    });

    it("asks the ResourceValues for a resource's Ref, with its stack, logical id and resource", () => {
      // Prepare
      const ref = jest.fn(() => 'App-Table');
      const resolveWithSpy = resolverFor(APP, { resources: { ...resourceValues, ref } });

      // Act
      const value = resolveWithSpy({ Ref: 'Table' });

      // Assess
      expect(value).toBe('App-Table');
      expect(ref).toHaveBeenCalledWith(APP, 'Table', resource('AWS::DynamoDB::Table'));
    });
  });

  describe('Fn::GetAtt', () => {
    it('resolves the list form [logicalId, attribute]', () => {
      expect(resolve({ 'Fn::GetAtt': ['Fn', 'Arn'] })).toBe('att(App/Fn.Arn)');
    });

    it('resolves the dotted string form logicalId.attribute', () => {
      expect(resolve({ 'Fn::GetAtt': 'Table.StreamArn' })).toBe('att(App/Table.StreamArn)');
    });
  });

  it('joins resolved parts with Fn::Join', () => {
    // Act
    const value = resolve({ 'Fn::Join': [':', ['arn', { Ref: 'AWS::Partition' }, { Ref: 'Table' }]] });

    // Assess
    expect(value).toBe('arn:aws:ref(App/Table)');
  });

  it('splits a resolved string with Fn::Split', () => {
    expect(resolve({ 'Fn::Split': ['.', { Ref: 'AWS::URLSuffix' }] })).toEqual(['amazonaws', 'com']);
  });

  describe('Fn::Select', () => {
    it('picks an element of a resolved list', () => {
      expect(resolve({ 'Fn::Select': [1, { 'Fn::Split': ['/', 'a/b/c'] }] })).toBe('b');
    });

    it('gives undefined for an index past the end or a value that is not a list', () => {
      expect(resolve({ 'Fn::Select': [5, ['a']] })).toBeUndefined();
      expect(resolve({ 'Fn::Select': [0, 'not a list'] })).toBeUndefined();
    });
  });

  describe('Fn::Sub', () => {
    it('substitutes resources, attributes and pseudo parameters in the string form', () => {
      // Act
      const value = resolve({ 'Fn::Sub': '${Table}|${Fn.Arn}|${AWS::Region}|${AWS::StackName}' });

      // Assess
      expect(value).toBe('ref(App/Table)|att(App/Fn.Arn)|eu-west-1|App');
    });

    it('prefers the variables of the list form, resolving their intrinsics', () => {
      // Act
      const value = resolve({
        'Fn::Sub': ['${Greeting}, ${Where} (${Table})', { Greeting: 'hello', Where: { Ref: 'AWS::Region' } }],
      });

      // Assess
      expect(value).toBe('hello, eu-west-1 (ref(App/Table))');
    });
  });

  it("resolves Fn::GetStackOutput in the stack that owns the output, so its Refs are that stack's", () => {
    // Act
    const value = resolve({ 'Fn::GetStackOutput': { StackName: 'Data', OutputName: 'TableName' } });

    // Assess
    expect(value).toBe('ref(Data/Table)');
  });

  it('resolves Fn::ImportValue through the Export.Name of an output, the name itself resolved first', () => {
    // Act
    const value = resolve({ 'Fn::ImportValue': { 'Fn::Join': [':', ['Data', 'TableArn']] } });

    // Assess
    expect(value).toBe('att(Data/Table.Arn)');
  });

  it('resolves inside plain objects and arrays, and leaves other values as they are', () => {
    // Act
    const value = resolve({
      Name: { Ref: 'Table' },
      Nested: { Variables: { ARN: { 'Fn::GetAtt': ['Fn', 'Arn'] } } },
      List: [{ Ref: 'AWS::Region' }, 3, true, null],
    });

    // Assess
    expect(value).toEqual({
      Name: 'ref(App/Table)',
      Nested: { Variables: { ARN: 'att(App/Fn.Arn)' } },
      List: ['eu-west-1', 3, true, null],
    });
  });

  it("applies finish to the stack's result and to a value taken from another stack before it is joined", () => {
    // Prepare
    const finish = (value: unknown): unknown => (typeof value === 'string' ? value.toUpperCase() : value);
    const resolveFinished = resolverFor(APP, { finish });

    // Act
    const joined = resolveFinished({
      'Fn::Split': [
        ',',
        {
          'Fn::Join': [',', ['a', { 'Fn::GetStackOutput': { StackName: 'Data', OutputName: 'TableName' } }]],
        },
      ],
    });
    const single = resolveFinished({ Ref: 'Table' });

    // Assess
    expect(joined).toEqual(['a', 'REF(DATA/TABLE)']);
    expect(single).toBe('REF(APP/TABLE)');
  });

  describe('errors', () => {
    it.each([
      [
        'a Ref to a resource the stack does not have',
        { Ref: 'Nowhere' },
        'Ref to unknown resource Nowhere in App',
      ],
      [
        'a Ref to an inherited property name',
        { Ref: 'constructor' },
        'Ref to unknown resource constructor in App',
      ],
      [
        'a GetAtt of a resource the stack does not have',
        { 'Fn::GetAtt': ['Nowhere', 'Arn'] },
        'GetAtt of unknown resource Nowhere in App',
      ],
      [
        'a Fn::Sub naming a resource the stack does not have',
        { 'Fn::Sub': '${Nowhere}' },
        'Ref to unknown resource Nowhere in App',
      ],
      [
        'a Fn::GetStackOutput of a stack that does not exist',
        { 'Fn::GetStackOutput': { StackName: 'Other', OutputName: 'TableName' } },
        'Output TableName of Other not found',
      ],
      [
        'a Fn::GetStackOutput of an output the stack does not have',
        { 'Fn::GetStackOutput': { StackName: 'Data', OutputName: 'Missing' } },
        'Output Missing of Data not found',
      ],
      [
        'a Fn::ImportValue nothing exports',
        { 'Fn::ImportValue': 'nobody:exports-this' },
        'Import nobody:exports-this is exported by no stack',
      ],
    ])('refuses %s with a TemplateModelError', (_case, value, message) => {
      // Act
      const act = (): unknown => resolve(value);

      // Assess
      expect(act).toThrow(TemplateModelError);
      expect(act).toThrow(message);
    });
  });
});
