import { ASSET_PATH_METADATA_KEY, ENTRY_METADATA_KEY } from '../../contracts/cfn-metadata';
import { isRecord } from '../../contracts/json';
import { createIntrinsicResolver, type Resolve, type ResourceValues } from './intrinsics';
import {
  DEFAULT_ASYNC_RETRY_ATTEMPTS,
  localFunctionName,
  type AsyncInvokeConfig,
  type CorsConfiguration,
  type LocalApi,
  type LocalFunction,
  type LocalModel,
  type LocalTable,
  type RouteAuthorization,
} from './local-model';
import { modelStreamMappings } from './stream-mappings-model';
import { TemplateModelError, type Resource, type StackTemplate } from './template';

/**
 * Reads the synthesized CloudFormation templates of one stage and turns them into what the local stack
 * runs: functions (with their bundled code and their own environment), WebSocket and HTTP APIs with their
 * routes, tables, and the stack outputs. Everything is derived from the templates, never restated by hand,
 * so what runs locally is what would be deployed.
 *
 * CloudFormation references are resolved (intrinsics.ts) to local values: a table's Ref becomes its local
 * table name, an API's URL (built by CDK from the API id, region and URL suffix) becomes the local server's
 * URL. A table's StreamArn is the stream DynamoDB Local gave the table, so the tables exist before the
 * model is built ({@link localTables} lists them from the templates). The result's shape is in local-model.ts.
 */

export interface LocalEndpoints {
  /** Base URL (no stage) of the server that serves an API, e.g. http://localhost:3001. */
  httpBaseUrl(api: LocalApi): string;
  region: string;
  accountId: string;
  /** Issuer URL that stands in for every Cognito user pool of the app. */
  localIssuerUrl: string;
  /**
   * The LatestStreamArn of a local table with a stream (what `Fn::GetAtt [Table, StreamArn]` resolves to);
   * undefined for a table without one.
   * @default no table has a stream
   */
  tableStreamArn?(table: LocalTable): string | undefined;
}

const LAMBDA_FUNCTION = 'AWS::Lambda::Function';
const DYNAMODB_TABLE = 'AWS::DynamoDB::Table';
const API = 'AWS::ApiGatewayV2::Api';
const AUTHORIZER = 'AWS::ApiGatewayV2::Authorizer';
const USER_POOL = 'AWS::Cognito::UserPool';
const STAGE = 'AWS::ApiGatewayV2::Stage';
const ROUTE = 'AWS::ApiGatewayV2::Route';
const EVENT_INVOKE_CONFIG = 'AWS::Lambda::EventInvokeConfig';
const SQS_QUEUE = 'AWS::SQS::Queue';

/** Marks an API id inside a resolved string, so URLs built from it can be rewritten to local ones. */
const API_ID_MARK = 'local-api-';
/** Marks a user pool id, so the Cognito issuer URL built from it can be pointed at the local issuer. */
const USER_POOL_MARK = 'local-user-pool-';
const CDK_PLUMBING_OUTPUT = /^(ExportsOutput|PublishOutput)/;

/** Every resource of every stack, keyed `<stack>/<logicalId>`. */
type ResourceIndex = Map<string, { stack: StackTemplate; logicalId: string; resource: Resource }>;

const localTableName = (stackName: string, logicalId: string): string => `${stackName}-${logicalId}`;

/** Every DynamoDB table of the templates under its local name, without its stream (not created yet). */
export function localTables(stacks: readonly StackTemplate[]): LocalTable[] {
  return stacks.flatMap((stack) =>
    Object.entries(stack.template.Resources ?? {})
      .filter(([, resource]) => resource.Type === DYNAMODB_TABLE)
      .map(([logicalId, resource]) => ({
        logicalId,
        stackName: stack.stackName,
        tableName: localTableName(stack.stackName, logicalId),
        properties: resource.Properties ?? {},
      })),
  );
}

export function buildLocalModel(stacks: StackTemplate[], endpoints: LocalEndpoints): LocalModel {
  const resources: ResourceIndex = new Map();
  for (const stack of stacks) {
    for (const [logicalId, resource] of Object.entries(stack.template.Resources ?? {})) {
      resources.set(`${stack.stackName}/${logicalId}`, { stack, logicalId, resource });
    }
  }
  const tables = localTables(stacks);
  for (const table of tables) {
    const streamArn = endpoints.tableStreamArn?.(table);
    if (streamArn !== undefined) table.streamArn = streamArn;
  }
  // APIs first: function environments and outputs refer to their URLs.
  const apiByKey = modelApis(resources);
  const resolverOf = createIntrinsicResolver({
    stacks,
    region: endpoints.region,
    accountId: endpoints.accountId,
    resources: localResourceValues(endpoints, apiByKey, tables),
    finish: (value) => (typeof value === 'string' ? localiseUrls(value, endpoints, apiByKey) : value),
  });
  const functions = modelFunctions(resources, resolverOf);
  applyEventInvokeConfigs(resources, functions, resolverOf);
  addRoutes(resources, apiByKey, resolverOf);
  const streamMappings = modelStreamMappings(resources.values(), functions, tables, resolverOf);

  const outputs: Record<string, Record<string, string>> = {};
  for (const stack of stacks) {
    const resolve = resolverOf(stack);
    const stackOutputs: Record<string, string> = {};
    for (const [name, output] of Object.entries(stack.template.Outputs ?? {})) {
      // CDK's own cross-stack outputs are plumbing, not outputs a user asked for.
      if (CDK_PLUMBING_OUTPUT.test(name)) continue;
      stackOutputs[name] = String(resolve(output.Value));
    }
    outputs[stack.stackName] = stackOutputs;
  }

  return { functions, apis: [...apiByKey.values()], tables, streamMappings, outputs };
}

/**
 * What a Ref or attribute of a resource is locally: a table's Ref its local table name, a function's its
 * local name, a table's StreamArn its local stream's; an API's Ref and a user pool's are marked ids that
 * {@link localiseUrls} rewrites once they are joined into URLs.
 */
function localResourceValues(
  endpoints: LocalEndpoints,
  apiByKey: Map<string, LocalApi>,
  tables: readonly LocalTable[],
): ResourceValues {
  const arn = (service: string, resource: string): string =>
    `arn:aws:${service}:${endpoints.region}:${endpoints.accountId}:${resource}`;
  return {
    ref({ stackName }, logicalId, resource) {
      switch (resource.Type) {
        case DYNAMODB_TABLE:
          return localTableName(stackName, logicalId);
        case LAMBDA_FUNCTION:
          return localFunctionName(stackName, logicalId);
        case API:
          return `${API_ID_MARK}${stackName}/${logicalId}`;
        case USER_POOL:
          return `${USER_POOL_MARK}${stackName}--${logicalId}`;
        case STAGE:
          return String(resource.Properties?.StageName ?? logicalId);
        default:
          return `${stackName}/${logicalId}`;
      }
    },
    getAtt({ stackName }, logicalId, attribute, { Type }) {
      if (Type === LAMBDA_FUNCTION && attribute === 'Arn') {
        return arn('lambda', `function:${localFunctionName(stackName, logicalId)}`);
      }
      if (Type === SQS_QUEUE && attribute === 'Arn') return arn('sqs', `${stackName}-${logicalId}`);
      if (Type === DYNAMODB_TABLE && attribute === 'Arn') {
        return arn('dynamodb', `table/${localTableName(stackName, logicalId)}`);
      }
      if (Type === DYNAMODB_TABLE && attribute === 'StreamArn') {
        const tableName = localTableName(stackName, logicalId);
        const streamArn = tables.find((table) => table.tableName === tableName)?.streamArn;
        // As on AWS, where the attribute of a table without a stream fails the deployment.
        if (!streamArn)
          throw new TemplateModelError(`Table ${stackName}/${logicalId} has no stream: no StreamArn`);
        return streamArn;
      }
      if (Type === API && attribute === 'ApiEndpoint') {
        const api = apiByKey.get(`${stackName}/${logicalId}`);
        if (!api) throw new TemplateModelError(`API ${logicalId} not modelled`);
        const base = endpoints.httpBaseUrl(api);
        return api.protocol === 'WEBSOCKET' ? base.replace(/^http/, 'ws') : base;
      }
      return `${stackName}/${logicalId}.${attribute}`;
    },
  };
}

/** `https://<api id>.execute-api.<region>.amazonaws.com/…` → the local server's URL; Cognito → the local issuer. */
function localiseUrls(text: string, endpoints: LocalEndpoints, apiByKey: Map<string, LocalApi>): string {
  return text
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
}

function modelApis(resources: ResourceIndex): Map<string, LocalApi> {
  const apiByKey = new Map<string, LocalApi>();
  for (const [key, { stack, logicalId, resource }] of resources) {
    if (resource.Type !== API) continue;
    const props = resource.Properties ?? {};
    const stages = [...resources.values()].filter(
      (r) =>
        r.stack === stack && r.resource.Type === STAGE && refersTo(r.resource.Properties?.ApiId, logicalId),
    );
    const api: LocalApi = {
      key,
      logicalId,
      stackName: stack.stackName,
      name: String(props.Name ?? logicalId),
      protocol: props.ProtocolType === 'WEBSOCKET' ? 'WEBSOCKET' : 'HTTP',
      stageName: String(stages[0]?.resource.Properties?.StageName ?? '$default'),
      routes: [],
    };
    if (typeof props.RouteSelectionExpression === 'string') {
      api.routeSelectionExpression = props.RouteSelectionExpression;
    }
    if (isRecord(props.CorsConfiguration)) api.cors = props.CorsConfiguration as CorsConfiguration;
    apiByKey.set(key, api);
  }
  return apiByKey;
}

function modelFunctions(
  resources: ResourceIndex,
  resolverOf: (stack: StackTemplate) => Resolve,
): Map<string, LocalFunction> {
  const functions = new Map<string, LocalFunction>();
  for (const [key, { stack, logicalId, resource }] of resources) {
    if (resource.Type !== LAMBDA_FUNCTION) continue;
    const props = resource.Properties ?? {};
    const assetPath = resource.Metadata?.[ASSET_PATH_METADATA_KEY];
    if (typeof assetPath !== 'string') {
      throw new TemplateModelError(`Function ${key} has no bundled asset (was bundling skipped?)`);
    }
    const resolve = resolverOf(stack);
    const variables =
      isRecord(props.Environment) && isRecord(props.Environment.Variables) ? props.Environment.Variables : {};
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
    if (props.ReservedConcurrentExecutions !== undefined) {
      fn.reservedConcurrency = Number(resolve(props.ReservedConcurrentExecutions));
    }
    functions.set(key, fn);
  }
  return functions;
}

function applyEventInvokeConfigs(
  resources: ResourceIndex,
  functions: Map<string, LocalFunction>,
  resolverOf: (stack: StackTemplate) => Resolve,
): void {
  for (const { stack, resource } of resources.values()) {
    if (resource.Type !== EVENT_INVOKE_CONFIG) continue;
    const props = resource.Properties ?? {};
    const fn = functions.get(`${stack.stackName}/${refName(props.FunctionName) ?? ''}`);
    if (!fn) throw new TemplateModelError(`An EventInvokeConfig in ${stack.stackName} names no function`);
    const destination = isRecord(props.DestinationConfig) ? props.DestinationConfig.OnFailure : undefined;
    const asyncInvoke: AsyncInvokeConfig = {
      maximumRetryAttempts: Number(props.MaximumRetryAttempts ?? DEFAULT_ASYNC_RETRY_ATTEMPTS),
    };
    if (props.MaximumEventAgeInSeconds !== undefined) {
      asyncInvoke.maximumEventAgeSeconds = Number(props.MaximumEventAgeInSeconds);
    }
    if (isRecord(destination) && destination.Destination !== undefined) {
      asyncInvoke.onFailure = String(resolverOf(stack)(destination.Destination));
    }
    fn.asyncInvoke = asyncInvoke;
  }
}

function addRoutes(
  resources: ResourceIndex,
  apiByKey: Map<string, LocalApi>,
  resolverOf: (stack: StackTemplate) => Resolve,
): void {
  for (const { stack, resource } of resources.values()) {
    if (resource.Type !== ROUTE) continue;
    const props = resource.Properties ?? {};
    const api = apiByKey.get(`${stack.stackName}/${refName(props.ApiId)}`);
    if (!api) throw new TemplateModelError(`Route ${String(props.RouteKey)} of an unknown API`);
    const integrationId = String(resolverOf(stack)(props.Target)).replace(/^integrations\//, '');
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
      authorization: routeAuthorization(stack, props, resources, resolverOf(stack)),
    });
  }
}

function routeAuthorization(
  stack: StackTemplate,
  route: Record<string, unknown>,
  resources: ResourceIndex,
  resolve: Resolve,
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
      scopes: ((resolve(route.AuthorizationScopes) as unknown[] | undefined) ?? []).map(String),
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
  resources: ResourceIndex,
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
