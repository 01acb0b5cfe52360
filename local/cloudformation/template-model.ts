/**
 * Reads the synthesized CloudFormation templates of one stage and turns them into what the local stack
 * runs: functions (with their bundled code and their own environment), WebSocket and HTTP APIs with their
 * routes, tables, and the stack outputs. Everything is derived from the templates, never restated by hand,
 * so what runs locally is what would be deployed.
 *
 * CloudFormation references are resolved to local values: a table's Ref becomes its local table name, an
 * API's URL (built by CDK from the API id, region and URL suffix) becomes the local server's URL.
 */

export type Template = {
  Resources?: Record<string, Resource>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
};

interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface StackTemplate {
  stackName: string;
  template: Template;
  /** The cloud assembly directory: asset paths in metadata are relative to it. */
  assemblyDir: string;
}

export interface LocalFunction {
  /** `<stack>/<logicalId>`: unique across stacks. */
  key: string;
  /**
   * `<stack>-<logicalId>`: what a `Ref` to the function resolves to (on AWS, its function name), the
   * name its runtime sees in AWS_LAMBDA_FUNCTION_NAME, and the name the local Invoke API is called with.
   */
  functionName: string;
  logicalId: string;
  stackName: string;
  /** Directory of the bundled asset (holds index.js). */
  assetDir: string;
  /** `index.handler` as in the template. */
  handler: string;
  /** The source entry recorded by the CDK construct, for messages and debugging. */
  entry?: string;
  environment: Record<string, string>;
  timeoutSeconds: number;
  /** From the function's AWS::Lambda::EventInvokeConfig, if it has one. */
  asyncInvoke?: AsyncInvokeConfig;
}

/** How Lambda handles a failed asynchronous (Event) invocation of a function. */
export interface AsyncInvokeConfig {
  /** Retries after the first failed attempt: 0 to 2. */
  maximumRetryAttempts: number;
  maximumEventAgeSeconds?: number;
  /** ARN of the on-failure destination (resolved to its local form), where exhausted events go. */
  onFailure?: string;
}

/** Lambda's default for functions without an EventInvokeConfig: two retries. */
export const DEFAULT_ASYNC_RETRY_ATTEMPTS = 2;

/** The local name of a function (see {@link LocalFunction.functionName}). */
export const localFunctionName = (stackName: string, logicalId: string): string =>
  `${stackName}-${logicalId}`;

/** How API Gateway authorizes a route, as declared in the template. */
export type RouteAuthorization =
  | { type: 'NONE' }
  | { type: 'AWS_IAM' }
  | { type: 'JWT'; identitySource: string[]; issuer: string; audience: string[] }
  | { type: 'CUSTOM'; identitySource: string[]; functionKey: string };

export interface LocalRoute {
  routeKey: string;
  functionKey: string;
  authorization: RouteAuthorization;
}

export interface LocalApi {
  key: string;
  logicalId: string;
  stackName: string;
  name: string;
  protocol: 'WEBSOCKET' | 'HTTP';
  /** The deployed stage name; `$default` means URLs have no stage prefix. */
  stageName: string;
  routeSelectionExpression?: string;
  routes: LocalRoute[];
  cors?: CorsConfiguration;
}

export interface CorsConfiguration {
  AllowOrigins?: string[];
  AllowMethods?: string[];
  AllowHeaders?: string[];
  ExposeHeaders?: string[];
  MaxAge?: number;
  AllowCredentials?: boolean;
}

export interface LocalTable {
  logicalId: string;
  stackName: string;
  tableName: string;
  /** The template's own table properties (KeySchema, AttributeDefinitions, GSIs, TTL). */
  properties: Record<string, unknown>;
}

export interface LocalEndpoints {
  /** Base URL (no stage) of the server that serves an API, e.g. http://localhost:3001. */
  httpBaseUrl(api: LocalApi): string;
  region: string;
  accountId: string;
  /** Issuer URL that stands in for every Cognito user pool of the app. */
  localIssuerUrl: string;
}

export interface LocalModel {
  functions: Map<string, LocalFunction>;
  apis: LocalApi[];
  tables: LocalTable[];
  /** stack name → output key → resolved value, the shape of `cdk deploy --outputs-file`. */
  outputs: Record<string, Record<string, string>>;
}

const LAMBDA_FUNCTION = 'AWS::Lambda::Function';
const DYNAMODB_TABLE = 'AWS::DynamoDB::Table';
const API = 'AWS::ApiGatewayV2::Api';
const AUTHORIZER = 'AWS::ApiGatewayV2::Authorizer';
const USER_POOL = 'AWS::Cognito::UserPool';
const STAGE = 'AWS::ApiGatewayV2::Stage';
const ROUTE = 'AWS::ApiGatewayV2::Route';
const INTEGRATION = 'AWS::ApiGatewayV2::Integration';
const EVENT_INVOKE_CONFIG = 'AWS::Lambda::EventInvokeConfig';
const SQS_QUEUE = 'AWS::SQS::Queue';

/** Marks an API id inside a resolved string, so URLs built from it can be rewritten to local ones. */
const API_ID_MARK = 'local-api-';
/** Marks a user pool id, so the Cognito issuer URL built from it can be pointed at the local issuer. */
const USER_POOL_MARK = 'local-user-pool-';
const ENTRY_METADATA_KEY = 'realtime-comments:entry';
const ASSET_PATH_METADATA_KEY = 'aws:asset:path';
const CDK_PLUMBING_OUTPUT = /^(ExportsOutput|PublishOutput)/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export class TemplateModelError extends Error {}

export function buildLocalModel(stacks: StackTemplate[], endpoints: LocalEndpoints): LocalModel {
  const resources = new Map<string, { stack: StackTemplate; logicalId: string; resource: Resource }>();
  const exportsByName = new Map<string, { stack: StackTemplate; value: unknown }>();
  for (const stack of stacks) {
    for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
      resources.set(`${stack.stackName}/${logicalId}`, { stack, logicalId, resource });
    }
    for (const output of Object.values(stack.template.Outputs ?? {})) {
      if (output.Export && typeof output.Export.Name === 'string') {
        exportsByName.set(output.Export.Name, { stack, value: output.Value });
      }
    }
  }

  const apis: LocalApi[] = [];
  const tables: LocalTable[] = [];

  const tableName = (stackName: string, logicalId: string): string => `${stackName}-${logicalId}`;
  const apiByKey = new Map<string, LocalApi>();

  const resolver = (stack: StackTemplate) => {
    const resolve = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(resolve);
      if (!isRecord(value)) return value;
      const keys = Object.keys(value);
      if (keys.length !== 1) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
      }
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
            return String(name.includes('.') ? getAtt(...(name.split('.') as [string, string])) : ref(name));
          });
        }
        case 'Fn::GetStackOutput': {
          // CDK's cross-stack references without exports: the value is another stack's output.
          const { StackName, OutputName } = arg as { StackName: unknown; OutputName: unknown };
          const source = stacks.find((s) => s.stackName === resolve(StackName));
          const output = source?.template.Outputs?.[String(resolve(OutputName))];
          if (!source || !output) {
            throw new TemplateModelError(`Output ${String(OutputName)} of ${String(StackName)} not found`);
          }
          return resolver(source)(output.Value);
        }
        case 'Fn::ImportValue': {
          const name = String(resolve(arg));
          const exported = exportsByName.get(name);
          if (!exported) throw new TemplateModelError(`Import ${name} is exported by no stack`);
          return resolver(exported.stack)(exported.value);
        }
        default:
          return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
      }
    };

    const ref = (name: string): unknown => {
      switch (name) {
        case 'AWS::Region':
          return endpoints.region;
        case 'AWS::AccountId':
          return endpoints.accountId;
        case 'AWS::Partition':
          return 'aws';
        case 'AWS::URLSuffix':
          return 'amazonaws.com';
        case 'AWS::StackName':
          return stack.stackName;
        case 'AWS::NoValue':
          return undefined;
      }
      const entry = resources.get(`${stack.stackName}/${name}`);
      if (!entry) throw new TemplateModelError(`Ref to unknown resource ${name} in ${stack.stackName}`);
      switch (entry.resource.Type) {
        case DYNAMODB_TABLE:
          return tableName(stack.stackName, name);
        case LAMBDA_FUNCTION:
          return localFunctionName(stack.stackName, name);
        case API:
          return `${API_ID_MARK}${stack.stackName}/${name}`;
        case USER_POOL:
          return `${USER_POOL_MARK}${stack.stackName}--${name}`;
        case STAGE:
          return String(entry.resource.Properties?.StageName ?? name);
        case INTEGRATION:
          return `${stack.stackName}/${name}`;
        default:
          return `${stack.stackName}/${name}`;
      }
    };

    const getAtt = (logicalId: string, attribute: string): unknown => {
      const entry = resources.get(`${stack.stackName}/${logicalId}`);
      if (!entry)
        throw new TemplateModelError(`GetAtt of unknown resource ${logicalId} in ${stack.stackName}`);
      const { Type } = entry.resource;
      if (Type === LAMBDA_FUNCTION && attribute === 'Arn') {
        return `arn:aws:lambda:${endpoints.region}:${endpoints.accountId}:function:${localFunctionName(stack.stackName, logicalId)}`;
      }
      if (Type === SQS_QUEUE && attribute === 'Arn') {
        return `arn:aws:sqs:${endpoints.region}:${endpoints.accountId}:${stack.stackName}-${logicalId}`;
      }
      if (Type === DYNAMODB_TABLE && attribute === 'Arn') {
        return `arn:aws:dynamodb:${endpoints.region}:${endpoints.accountId}:table/${tableName(stack.stackName, logicalId)}`;
      }
      if (Type === API && attribute === 'ApiEndpoint') {
        const api = apiByKey.get(`${stack.stackName}/${logicalId}`);
        if (!api) throw new TemplateModelError(`API ${logicalId} not modelled`);
        const base = endpoints.httpBaseUrl(api);
        return api.protocol === 'WEBSOCKET' ? base.replace(/^http/, 'ws') : base;
      }
      return `${stack.stackName}/${logicalId}.${attribute}`;
    };

    /** `https://<api id>.execute-api.<region>.amazonaws.com/…` → the local server's URL. */
    const localiseUrls = (text: string): string =>
      text
        .replace(
          new RegExp(`https://cognito-idp\\.[^/\\s"]+/${USER_POOL_MARK}[^/\\s"]+`, 'g'),
          endpoints.localIssuerUrl,
        )
        .replace(
          new RegExp(`(https|wss)://${API_ID_MARK}([^.]+)\\.execute-api\\.[^/\\s"]+`, 'g'),
          (_match, scheme: string, apiKey: string) => {
            const api = apiByKey.get(apiKey);
            if (!api) throw new TemplateModelError(`URL of unknown API ${apiKey}`);
            const base = endpoints.httpBaseUrl(api);
            return scheme === 'wss' ? base.replace(/^http/, 'ws') : base;
          },
        );

    return (value: unknown): unknown => {
      const resolved = resolve(value);
      return typeof resolved === 'string' ? localiseUrls(resolved) : resolved;
    };
  };

  // APIs first: function environments and outputs refer to their URLs.
  for (const [key, { stack, logicalId, resource }] of resources) {
    if (resource.Type !== API) continue;
    const props = resource.Properties ?? {};
    const protocol = props.ProtocolType === 'WEBSOCKET' ? 'WEBSOCKET' : 'HTTP';
    const stages = [...resources.values()].filter(
      (r) =>
        r.stack === stack && r.resource.Type === STAGE && refersTo(r.resource.Properties?.ApiId, logicalId),
    );
    const stageName = String(stages[0]?.resource.Properties?.StageName ?? '$default');
    const api: LocalApi = {
      key,
      logicalId,
      stackName: stack.stackName,
      name: String(props.Name ?? logicalId),
      protocol,
      stageName,
      routes: [],
    };
    if (typeof props.RouteSelectionExpression === 'string') {
      api.routeSelectionExpression = props.RouteSelectionExpression;
    }
    if (isRecord(props.CorsConfiguration)) api.cors = props.CorsConfiguration as CorsConfiguration;
    apis.push(api);
    apiByKey.set(key, api);
  }

  const functions = new Map<string, LocalFunction>();
  for (const [key, { stack, logicalId, resource }] of resources) {
    if (resource.Type === LAMBDA_FUNCTION) {
      const props = resource.Properties ?? {};
      const assetPath = resource.Metadata?.[ASSET_PATH_METADATA_KEY];
      if (typeof assetPath !== 'string') {
        throw new TemplateModelError(`Function ${key} has no bundled asset (was bundling skipped?)`);
      }
      const resolve = resolver(stack);
      const variables =
        isRecord(props.Environment) && isRecord(props.Environment.Variables)
          ? props.Environment.Variables
          : {};
      const environment: Record<string, string> = {};
      for (const [name, value] of Object.entries(variables)) environment[name] = String(resolve(value));
      const fn: LocalFunction = {
        key,
        functionName: localFunctionName(stack.stackName, logicalId),
        logicalId,
        stackName: stack.stackName,
        assetDir: `${stack.assemblyDir}/${assetPath}`,
        handler: String(props.Handler ?? 'index.handler'),
        environment,
        timeoutSeconds: Number(props.Timeout ?? 3),
      };
      const entry = resource.Metadata?.[ENTRY_METADATA_KEY];
      if (typeof entry === 'string') fn.entry = entry;
      functions.set(key, fn);
    }
    if (resource.Type === DYNAMODB_TABLE) {
      tables.push({
        logicalId,
        stackName: stack.stackName,
        tableName: tableName(stack.stackName, logicalId),
        properties: resource.Properties ?? {},
      });
    }
  }

  for (const { stack, resource } of resources.values()) {
    if (resource.Type !== EVENT_INVOKE_CONFIG) continue;
    const props = resource.Properties ?? {};
    const fn = functions.get(`${stack.stackName}/${refName(props.FunctionName) ?? ''}`);
    if (!fn) throw new TemplateModelError(`An EventInvokeConfig in ${stack.stackName} names no function`);
    const resolve = resolver(stack);
    const destination = isRecord(props.DestinationConfig) ? props.DestinationConfig.OnFailure : undefined;
    const asyncInvoke: AsyncInvokeConfig = {
      maximumRetryAttempts: Number(props.MaximumRetryAttempts ?? DEFAULT_ASYNC_RETRY_ATTEMPTS),
    };
    if (props.MaximumEventAgeInSeconds !== undefined) {
      asyncInvoke.maximumEventAgeSeconds = Number(props.MaximumEventAgeInSeconds);
    }
    if (isRecord(destination) && destination.Destination !== undefined) {
      asyncInvoke.onFailure = String(resolve(destination.Destination));
    }
    fn.asyncInvoke = asyncInvoke;
  }

  for (const { stack, resource } of resources.values()) {
    if (resource.Type !== ROUTE) continue;
    const props = resource.Properties ?? {};
    const api = apiByKey.get(`${stack.stackName}/${refName(props.ApiId)}`);
    if (!api) throw new TemplateModelError(`Route ${String(props.RouteKey)} of an unknown API`);
    const integrationId = String(resolver(stack)(props.Target)).replace(/^integrations\//, '');
    const integration = resources.get(integrationId);
    if (!integration) throw new TemplateModelError(`Route ${String(props.RouteKey)} has no integration`);
    const functionKey = findFunctionReference(
      integration.resource.Properties?.IntegrationUri,
      integration.stack.stackName,
      resources,
    );
    if (!functionKey)
      throw new TemplateModelError(`Integration ${integrationId} does not invoke a Lambda function`);
    api.routes.push({
      routeKey: String(props.RouteKey),
      functionKey,
      authorization: routeAuthorization(stack, props, resources, resolver(stack)),
    });
  }

  const outputs: Record<string, Record<string, string>> = {};
  for (const stack of stacks) {
    const resolve = resolver(stack);
    const stackOutputs: Record<string, string> = {};
    for (const [name, output] of Object.entries(stack.template.Outputs ?? {})) {
      // CDK's own cross-stack outputs are plumbing, not outputs a user asked for.
      if (CDK_PLUMBING_OUTPUT.test(name)) continue;
      stackOutputs[name] = String(resolve(output.Value));
    }
    outputs[stack.stackName] = stackOutputs;
  }

  return { functions, apis, tables, outputs };
}

function routeAuthorization(
  stack: StackTemplate,
  route: Record<string, unknown>,
  resources: Map<string, { stack: StackTemplate; resource: Resource }>,
  resolve: (value: unknown) => unknown,
): RouteAuthorization {
  const type = String(route.AuthorizationType ?? 'NONE');
  if (type === 'NONE' || type === 'AWS_IAM') return { type };
  const authorizerKey = `${stack.stackName}/${refName(route.AuthorizerId) ?? ''}`;
  const authorizer = resources.get(authorizerKey)?.resource;
  if (authorizer?.Type !== AUTHORIZER) {
    throw new TemplateModelError(`Route ${String(route.RouteKey)} names no authorizer`);
  }
  const props = authorizer.Properties ?? {};
  const identitySource = (resolve(props.IdentitySource) as string[] | undefined) ?? [];
  if (type === 'JWT') {
    const jwt = (props.JwtConfiguration ?? {}) as Record<string, unknown>;
    return {
      type,
      identitySource,
      issuer: String(resolve(jwt.Issuer)),
      audience: ((resolve(jwt.Audience) as unknown[] | undefined) ?? []).map(String),
    };
  }
  if (type === 'CUSTOM') {
    const functionKey = findFunctionReference(props.AuthorizerUri, stack.stackName, resources);
    if (!functionKey)
      throw new TemplateModelError(`Authorizer ${authorizerKey} does not invoke a Lambda function`);
    return { type, identitySource, functionKey };
  }
  throw new TemplateModelError(`Route ${String(route.RouteKey)}: unsupported AuthorizationType ${type}`);
}

function refName(value: unknown): string | undefined {
  return isRecord(value) && typeof value.Ref === 'string' ? value.Ref : undefined;
}

function refersTo(value: unknown, logicalId: string): boolean {
  return refName(value) === logicalId;
}

/** Finds the `Fn::GetAtt [<function>, Arn]` inside an integration URI, however deeply it is joined. */
function findFunctionReference(
  value: unknown,
  stackName: string,
  resources: Map<string, { resource: Resource }>,
): string | undefined {
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findFunctionReference(item, stackName, resources);
      if (found) return found;
    }
    return undefined;
  }
  if (!isRecord(value)) return undefined;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[1] === 'Arn') {
    const key = `${stackName}/${String(getAtt[0])}`;
    if (resources.get(key)?.resource.Type === LAMBDA_FUNCTION) return key;
  }
  for (const nested of Object.values(value)) {
    const found = findFunctionReference(nested, stackName, resources);
    if (found) return found;
  }
  return undefined;
}
