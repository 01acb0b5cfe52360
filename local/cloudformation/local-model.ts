import type { StreamEventSourceMappingSettings } from '../emulators/stream-mapping-settings';

/**
 * What the local stack runs, as the template model derives it from the synthesized templates: functions,
 * WebSocket and HTTP APIs with their routes, tables, the stream event source mappings, and the stack
 * outputs, every CloudFormation reference already resolved to its local value.
 */
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
  /** ReservedConcurrentExecutions: how many invocations may run at once; unlimited when absent. */
  reservedConcurrency?: number;
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
  | {
      type: 'JWT';
      identitySource: string[];
      issuer: string;
      audience: string[];
      /** The route's AuthorizationScopes: when there are any, a token must carry one of them. */
      scopes?: string[];
    }
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
  /** DynamoDB Local's LatestStreamArn of the table, when it has a stream: its `StreamArn` attribute. */
  streamArn?: string;
}

/** An AWS::Lambda::EventSourceMapping that feeds a table's DynamoDB stream to a function. */
export interface LocalStreamMapping {
  /** `<stack>/<logicalId>` of the mapping. */
  key: string;
  functionKey: string;
  /** The local table whose stream the mapping reads. */
  tableName: string;
  streamArn: string;
  /** The template's properties that shape delivery, resolved; checked as CreateEventSourceMapping checks them. */
  settings: StreamEventSourceMappingSettings;
  /** ARN (in its local form) of DestinationConfig.OnFailure, where records given up on are sent. */
  onFailure?: string;
  /** `Enabled: false` in the template: the mapping exists and reads nothing. */
  enabled: boolean;
}

export interface LocalModel {
  functions: Map<string, LocalFunction>;
  apis: LocalApi[];
  tables: LocalTable[];
  streamMappings: LocalStreamMapping[];
  /** stack name → output key → resolved value, the shape of `cdk deploy --outputs-file`. */
  outputs: Record<string, Record<string, string>>;
}
