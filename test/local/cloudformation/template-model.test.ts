import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { COMMENTS_API_ROUTE_KEYS } from '../../../contracts/comments-api-routes';
import { EnvNames } from '../../../contracts/env-names';
import { CLIENT_ACTIONS } from '../../../contracts/protocol';
import { buildApp } from '../../../lib/app';
import { resolveStageConfig } from '../../../lib/config/stage-config';
import type { LocalApi, LocalModel } from '../../../local/cloudformation/local-model';
import {
  TemplateModelError,
  type StackTemplate,
  type Template,
} from '../../../local/cloudformation/template';
import { buildLocalModel, type LocalEndpoints } from '../../../local/cloudformation/template-model';
import { cdkJsonContext } from '../../lib/synth-stage';

type Resources = NonNullable<Template['Resources']>;

/** Local base URLs by API logical id, so each assertion shows which server an URL must point at. */
const BASE_URLS: Record<string, string> = {
  WsApi: 'http://localhost:4001',
  ItemsApi: 'http://localhost:4000',
};

const endpoints: LocalEndpoints = {
  httpBaseUrl: (api: LocalApi) => BASE_URLS[api.logicalId] ?? 'http://localhost:4999',
  region: 'us-east-1',
  accountId: '000000000000',
  localIssuerUrl: 'http://localhost:4000/_local/issuer',
};

const ASSEMBLY_DIR = '/tmp/assembly';

/** CDK's URL of an API stage: `<scheme>://<Ref api>.execute-api.<region>.<url suffix>/<stage>`. */
const executeApiUrl = (scheme: 'https' | 'wss', apiRef: unknown, suffix: string): unknown => ({
  'Fn::Join': [
    '',
    [`${scheme}://`, apiRef, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, suffix],
  ],
});

function lambdaFunction(
  variables: Record<string, unknown> = {},
  metadata: Record<string, unknown> = { 'aws:asset:path': 'asset.0123' },
): Resources[string] {
  return {
    Type: 'AWS::Lambda::Function',
    Properties: { Handler: 'index.handler', Timeout: 10, Environment: { Variables: variables } },
    Metadata: metadata,
  };
}

const table = (): Resources[string] => ({
  Type: 'AWS::DynamoDB::Table',
  Properties: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] },
});

const integrationTarget = (integration: string): unknown => ({
  'Fn::Join': ['', ['integrations/', { Ref: integration }]],
});

const route = (api: string, routeKey: string, integration: string): Resources[string] => ({
  Type: 'AWS::ApiGatewayV2::Route',
  Properties: { ApiId: { Ref: api }, RouteKey: routeKey, Target: integrationTarget(integration) },
});

/** A WebSocket API as CDK writes it: the integration URI is the Lambda invocation ARN joined around the function ARN. */
function webSocketApiResources(fn: string): Resources {
  return {
    WsApi: {
      Type: 'AWS::ApiGatewayV2::Api',
      Properties: { Name: 'ws', ProtocolType: 'WEBSOCKET', RouteSelectionExpression: '$request.body.action' },
    },
    WsStage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { ApiId: { Ref: 'WsApi' }, StageName: 'dev' } },
    WsIntegration: {
      Type: 'AWS::ApiGatewayV2::Integration',
      Properties: {
        ApiId: { Ref: 'WsApi' },
        IntegrationType: 'AWS_PROXY',
        IntegrationUri: {
          'Fn::Join': [
            '',
            [
              'arn:',
              { Ref: 'AWS::Partition' },
              ':apigateway:',
              { Ref: 'AWS::Region' },
              ':lambda:path/2015-03-31/functions/',
              { 'Fn::GetAtt': [fn, 'Arn'] },
              '/invocations',
            ],
          ],
        },
      },
    },
    WsConnectRoute: route('WsApi', '$connect', 'WsIntegration'),
    WsDefaultRoute: route('WsApi', '$default', 'WsIntegration'),
  };
}

/** An HTTP API as CDK writes it: the integration URI is the function ARN itself. */
function httpApiResources(fn: string, stage?: string): Resources {
  return {
    ItemsApi: {
      Type: 'AWS::ApiGatewayV2::Api',
      Properties: {
        Name: 'items',
        ProtocolType: 'HTTP',
        CorsConfiguration: { AllowOrigins: ['*'], AllowMethods: ['GET'] },
      },
    },
    ...(stage
      ? {
          ItemsStage: {
            Type: 'AWS::ApiGatewayV2::Stage',
            Properties: { ApiId: { Ref: 'ItemsApi' }, StageName: stage },
          },
        }
      : {}),
    ItemsIntegration: {
      Type: 'AWS::ApiGatewayV2::Integration',
      Properties: {
        ApiId: { Ref: 'ItemsApi' },
        IntegrationType: 'AWS_PROXY',
        IntegrationUri: { 'Fn::GetAtt': [fn, 'Arn'] },
        PayloadFormatVersion: '2.0',
      },
    },
    ItemsGetRoute: route('ItemsApi', 'GET /items/{id}', 'ItemsIntegration'),
    ItemsPostRoute: route('ItemsApi', 'POST /items', 'ItemsIntegration'),
  };
}

const stack = (stackName: string, template: Template): StackTemplate => ({
  stackName,
  template,
  assemblyDir: ASSEMBLY_DIR,
});

const apiNamed = (model: LocalModel, logicalId: string): LocalApi | undefined =>
  model.apis.find((api) => api.logicalId === logicalId);

describe('buildLocalModel on hand-written templates', () => {
  describe('one stack', () => {
    let model: LocalModel;

    beforeAll(() => {
      model = buildLocalModel(
        [
          stack('App', {
            Resources: {
              Table: table(),
              Fn: lambdaFunction(
                {
                  PLAIN: 'value',
                  TABLE_NAME: { Ref: 'Table' },
                  TABLE_ARN: { 'Fn::GetAtt': ['Table', 'Arn'] },
                  MANAGEMENT_URL: executeApiUrl('https', { Ref: 'WsApi' }, '/dev'),
                  WEBSOCKET_URL: executeApiUrl('wss', { Ref: 'WsApi' }, '/dev'),
                  ITEMS_URL: executeApiUrl('https', { Ref: 'ItemsApi' }, '/'),
                },
                { 'aws:asset:path': 'asset.0123', 'realtime-comments:entry': 'lambda/fn/handler.ts' },
              ),
              ...webSocketApiResources('Fn'),
              ...httpApiResources('Fn'),
            },
            Outputs: {
              WebSocketUrl: { Value: executeApiUrl('wss', { Ref: 'WsApi' }, '/dev') },
              WebSocketEndpoint: { Value: { 'Fn::GetAtt': ['WsApi', 'ApiEndpoint'] } },
              TableName: { Value: { Ref: 'Table' } },
            },
          }),
        ],
        endpoints,
      );
    });

    it('resolves a Ref to a table to the local table name `<stack>-<logicalId>`', () => {
      // Act
      const environment = model.functions.get('App/Fn')?.environment;

      // Assess
      expect(environment?.TABLE_NAME).toBe('App-Table');
      expect(environment?.TABLE_ARN).toBe('arn:aws:dynamodb:us-east-1:000000000000:table/App-Table');
      expect(environment?.PLAIN).toBe('value');
    });

    it('lists the table under its local name with its template properties', () => {
      // Act / Assess
      expect(model.tables).toEqual([
        {
          logicalId: 'Table',
          stackName: 'App',
          tableName: 'App-Table',
          properties: { KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] },
        },
      ]);
    });

    it('turns execute-api URLs into the local server URL plus the path, and wss into ws', () => {
      // Act
      const environment = model.functions.get('App/Fn')?.environment;

      // Assess
      expect(environment?.MANAGEMENT_URL).toBe('http://localhost:4001/dev');
      expect(environment?.WEBSOCKET_URL).toBe('ws://localhost:4001/dev');
      expect(environment?.ITEMS_URL).toBe('http://localhost:4000/');
      expect(model.outputs.App?.WebSocketUrl).toBe('ws://localhost:4001/dev');
      expect(model.outputs.App?.WebSocketEndpoint).toBe('ws://localhost:4001');
    });

    it('describes the function: key, bundle directory, handler, timeout, entry', () => {
      // Act
      const fn = model.functions.get('App/Fn');

      // Assess
      expect(fn).toMatchObject({
        key: 'App/Fn',
        logicalId: 'Fn',
        stackName: 'App',
        assetDir: `${ASSEMBLY_DIR}/asset.0123`,
        handler: 'index.handler',
        timeoutSeconds: 10,
        entry: 'lambda/fn/handler.ts',
      });
      // None set: unlimited, as Lambda runs a function without reserved concurrency.
      expect(fn?.reservedConcurrency).toBeUndefined();
    });

    it('maps WebSocket routes to the function whose ARN is joined into the integration URI', () => {
      // Act
      const api = apiNamed(model, 'WsApi');

      // Assess
      expect(api).toMatchObject({
        key: 'App/WsApi',
        protocol: 'WEBSOCKET',
        stageName: 'dev',
        routeSelectionExpression: '$request.body.action',
      });
      expect(api?.routes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ routeKey: '$connect', functionKey: 'App/Fn' }),
          expect.objectContaining({ routeKey: '$default', functionKey: 'App/Fn' }),
        ]),
      );
      expect(api?.routes).toHaveLength(2);
    });

    it('maps HTTP routes to the function the integration URI names directly, and keeps the CORS settings', () => {
      // Act
      const api = apiNamed(model, 'ItemsApi');

      // Assess
      expect(api?.protocol).toBe('HTTP');
      expect(api?.cors).toEqual({ AllowOrigins: ['*'], AllowMethods: ['GET'] });
      expect(api?.routes).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ routeKey: 'GET /items/{id}', functionKey: 'App/Fn' }),
          expect.objectContaining({ routeKey: 'POST /items', functionKey: 'App/Fn' }),
        ]),
      );
    });

    it('gives an API without a Stage resource the $default stage', () => {
      // Act / Assess
      expect(apiNamed(model, 'ItemsApi')?.stageName).toBe('$default');
    });
  });

  describe('functions invoked by other functions', () => {
    let model: LocalModel;

    beforeAll(() => {
      model = buildLocalModel(
        [
          stack('App', {
            Resources: {
              Worker: lambdaFunction(),
              Caller: lambdaFunction({
                WORKER_NAME: { Ref: 'Worker' },
                WORKER_ARN: { 'Fn::GetAtt': ['Worker', 'Arn'] },
              }),
              Queue: { Type: 'AWS::SQS::Queue', Properties: {} },
              WorkerInvokeConfig: {
                Type: 'AWS::Lambda::EventInvokeConfig',
                Properties: {
                  FunctionName: { Ref: 'Worker' },
                  Qualifier: '$LATEST',
                  MaximumRetryAttempts: 1,
                  MaximumEventAgeInSeconds: 600,
                  DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': ['Queue', 'Arn'] } } },
                },
              },
            },
          }),
        ],
        endpoints,
      );
    });

    it('resolves a Ref to a function to its local name `<stack>-<logicalId>`, and its ARN to match', () => {
      // Act
      const environment = model.functions.get('App/Caller')?.environment;

      // Assess
      expect(environment?.WORKER_NAME).toBe('App-Worker');
      expect(model.functions.get('App/Worker')?.functionName).toBe('App-Worker');
      expect(environment?.WORKER_ARN).toBe('arn:aws:lambda:us-east-1:000000000000:function:App-Worker');
    });

    it("reads the function's EventInvokeConfig: retries, event age and on-failure destination", () => {
      // Act / Assess
      expect(model.functions.get('App/Worker')?.asyncInvoke).toEqual({
        maximumRetryAttempts: 1,
        maximumEventAgeSeconds: 600,
        onFailure: 'arn:aws:sqs:us-east-1:000000000000:App-Queue',
      });
      expect(model.functions.get('App/Caller')?.asyncInvoke).toBeUndefined();
    });
  });

  it('takes the stage name from the AWS::ApiGatewayV2::Stage of the API', () => {
    // Prepare
    const stacks = [stack('App', { Resources: { Fn: lambdaFunction(), ...httpApiResources('Fn', 'v2') } })];

    // Act
    const model = buildLocalModel(stacks, endpoints);

    // Assess
    expect(apiNamed(model, 'ItemsApi')?.stageName).toBe('v2');
  });

  describe('across stacks', () => {
    const data = stack('App-Data', {
      Resources: { Table: table() },
      Outputs: {
        TableName: { Value: { Ref: 'Table' } },
        PublishOutputRefTable0A1B2C3D: { Value: { Ref: 'Table' } },
        ExportsOutputRefTable0A1B2C3D: {
          Value: { Ref: 'Table' },
          Export: { Name: 'App-Data:ExportsOutputRefTable0A1B2C3D' },
        },
      },
    });
    const realtime = stack('App-Realtime', {
      Resources: { Fn: lambdaFunction(), ...webSocketApiResources('Fn') },
      Outputs: { PublishOutputRefWsApi9F8E7D6C: { Value: { Ref: 'WsApi' } } },
    });
    const consumer = stack('App-Consumer', {
      Resources: {
        Consumer: lambdaFunction({
          // CDK's weak cross-stack references: another stack's output read by name, no export.
          TABLE_NAME: {
            'Fn::GetStackOutput': {
              StackName: 'App-Data',
              Region: { Ref: 'AWS::Region' },
              OutputName: 'PublishOutputRefTable0A1B2C3D',
            },
          },
          SOCKET_URL: executeApiUrl(
            'wss',
            {
              'Fn::GetStackOutput': {
                StackName: 'App-Realtime',
                Region: { Ref: 'AWS::Region' },
                OutputName: 'PublishOutputRefWsApi9F8E7D6C',
              },
            },
            '/dev',
          ),
          IMPORTED_TABLE_NAME: { 'Fn::ImportValue': 'App-Data:ExportsOutputRefTable0A1B2C3D' },
        }),
      },
    });
    let model: LocalModel;
    let environment: Record<string, string> | undefined;

    beforeAll(() => {
      model = buildLocalModel([data, realtime, consumer], endpoints);
      environment = model.functions.get('App-Consumer/Consumer')?.environment;
    });

    it('resolves Fn::GetStackOutput in the stack that owns the output', () => {
      // Act / Assess
      expect(environment?.TABLE_NAME).toBe('App-Data-Table');
    });

    it('resolves an API id from another stack into the local URL', () => {
      // Act / Assess
      expect(environment?.SOCKET_URL).toBe('ws://localhost:4001/dev');
    });

    it('resolves Fn::ImportValue through the Export.Name of an output', () => {
      // Act / Assess
      expect(environment?.IMPORTED_TABLE_NAME).toBe('App-Data-Table');
    });

    it("leaves CDK's PublishOutput and ExportsOutput plumbing out of the outputs", () => {
      // Act / Assess
      expect(model.outputs).toEqual({
        'App-Data': { TableName: 'App-Data-Table' },
        'App-Realtime': {},
        'App-Consumer': {},
      });
    });

    it('keys functions by stack, so equal logical ids in two stacks stay apart', () => {
      // Act / Assess
      expect([...model.functions.keys()].sort()).toEqual(['App-Consumer/Consumer', 'App-Realtime/Fn']);
    });
  });

  describe('errors', () => {
    it('refuses a function without aws:asset:path metadata with a TemplateModelError naming it', () => {
      // Prepare
      const stacks = [stack('App', { Resources: { Fn: lambdaFunction({}, {}) } })];

      // Act
      const build = (): LocalModel => buildLocalModel(stacks, endpoints);

      // Assess
      expect(build).toThrow(TemplateModelError);
      expect(build).toThrow('Function App/Fn has no bundled asset (was bundling skipped?)');
    });

    it('refuses a Fn::GetStackOutput of an output no stack has', () => {
      // Prepare
      const stacks = [
        stack('App', {
          Resources: {
            Fn: lambdaFunction({
              X: { 'Fn::GetStackOutput': { StackName: 'Other', Region: 'us-east-1', OutputName: 'Missing' } },
            }),
          },
        }),
      ];

      // Act
      const build = (): LocalModel => buildLocalModel(stacks, endpoints);

      // Assess
      expect(build).toThrow(TemplateModelError);
      expect(build).toThrow('Output Missing of Other not found');
    });

    it('refuses a Fn::ImportValue nothing exports', () => {
      // Prepare
      const stacks = [
        stack('App', {
          Resources: { Fn: lambdaFunction({ X: { 'Fn::ImportValue': 'nobody:exports-this' } }) },
        }),
      ];

      // Act
      const build = (): LocalModel => buildLocalModel(stacks, endpoints);

      // Assess
      expect(build).toThrow(TemplateModelError);
      expect(build).toThrow('Import nobody:exports-this is exported by no stack');
    });

    it('refuses a Ref to a resource the stack does not have', () => {
      // Prepare
      const stacks = [stack('App', { Resources: { Fn: lambdaFunction({ X: { Ref: 'Nowhere' } }) } })];

      // Act
      const build = (): LocalModel => buildLocalModel(stacks, endpoints);

      // Assess
      expect(build).toThrow(TemplateModelError);
      expect(build).toThrow('Ref to unknown resource Nowhere in App');
    });
  });
});

describe('buildLocalModel on the synthesized app', () => {
  const STAGE = 'dev';
  const GATEWAY = 'http://localhost:3001';
  const APP = 'http://localhost:3000';
  let outdir: string;
  let stacks: StackTemplate[];
  let model: LocalModel;

  // jest.config.js sets testTimeout inside `projects`, where jest ignores it: the 5 s default applies, and
  // a synth (bundling or not) can take longer than that on 2 cores while other suites run.
  const SYNTH_TIMEOUT_MS = 60_000;

  beforeAll(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'template-model-'));
    // The model reads aws:asset:path, which CDK writes with asset metadata on whether or not it bundles;
    // bundling is skipped here because nothing runs the functions.
    const app = new App({
      outdir,
      context: {
        ...cdkJsonContext(),
        stage: STAGE,
        'aws:cdk:enable-asset-metadata': true,
        [BUNDLING_STACKS]: [],
      },
    });
    buildApp(app, resolveStageConfig(STAGE));
    const assembly = app.synth();
    stacks = assembly.stacks.map((s) => ({
      stackName: s.stackName,
      template: s.template as Template,
      assemblyDir: assembly.directory,
    }));
    // As the local stack serves them: stage-named APIs on the gateway port, $default ones on the app port.
    model = buildLocalModel(stacks, {
      httpBaseUrl: (api) => (api.protocol === 'WEBSOCKET' || api.stageName !== '$default' ? GATEWAY : APP),
      region: 'us-east-1',
      accountId: '000000000000',
      localIssuerUrl: `${APP}/_local/issuer`,
      // As DynamoDB Local gives a table created with a stream its LatestStreamArn.
      tableStreamArn: (table) =>
        table.properties.StreamSpecification
          ? `arn:aws:dynamodb:ddblocal:000000000000:table/${table.tableName}/stream/2026-11-26T00:00:00.000`
          : undefined,
    });
  }, SYNTH_TIMEOUT_MS);

  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  const apiCalled = (name: string): LocalApi => {
    const api = model.apis.find((candidate) => candidate.name === name);
    if (!api) throw new Error(`no API named ${name}; got ${model.apis.map((a) => a.name).join(', ')}`);
    return api;
  };
  const routeKeys = (api: LocalApi): string[] => api.routes.map((r) => r.routeKey).sort();
  const functionByEntry = (entry: string) => [...model.functions.values()].find((fn) => fn.entry === entry);

  it('models every function of the templates, each handler among them', () => {
    // Prepare
    const declared = stacks.flatMap((s) =>
      Object.entries(s.template.Resources ?? {})
        .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
        .map(([logicalId]) => `${s.stackName}/${logicalId}`),
    );

    // Act
    const keys = [...model.functions.keys()];
    const entries = [...model.functions.values()].map((fn) => fn.entry);

    // Assess
    expect(keys.sort()).toEqual(declared.sort());
    expect(entries).toEqual(
      expect.arrayContaining([
        'lambda/broadcast/handler.ts',
        'lambda/comments-api/handler.ts',
        'lambda/fan-out-worker/handler.ts',
        'lambda/websocket-connection/handler.ts',
        'lambda/websocket-messages/handler.ts',
      ]),
    );
  });

  it('has the WebSocket API on the dev stage with the special routes and one per client action', () => {
    // Prepare
    const api = apiCalled(`realtime-comments-${STAGE}`);

    // Act
    const keys = routeKeys(api);

    // Assess
    expect(api.protocol).toBe('WEBSOCKET');
    expect(api.stageName).toBe(STAGE);
    expect(api.routeSelectionExpression).toBe('$request.body.action');
    expect(keys).toEqual(['$connect', '$default', '$disconnect', ...CLIENT_ACTIONS].sort());
  });

  it('routes $connect and $disconnect to the connection function and messages to the messages function', () => {
    // Prepare
    const api = apiCalled(`realtime-comments-${STAGE}`);
    const connection = functionByEntry('lambda/websocket-connection/handler.ts')?.key;
    const messages = functionByEntry('lambda/websocket-messages/handler.ts')?.key;

    // Act
    const byRoute = Object.fromEntries(api.routes.map((r) => [r.routeKey, r.functionKey]));

    // Assess
    expect(byRoute).toEqual({
      $connect: connection,
      $disconnect: connection,
      $default: messages,
      ...Object.fromEntries(CLIENT_ACTIONS.map((action) => [action, messages])),
    });
  });

  it("feeds the comments table's stream to the event publisher, filtered to inserted event rows", () => {
    // Prepare
    const publisher = functionByEntry('lambda/event-publisher/handler.ts');
    const commentsTable = model.tables.find((t) => t.logicalId.startsWith('Comments'));

    // Act
    const mappings = model.streamMappings;

    // Assess
    expect(mappings).toHaveLength(1);
    expect(mappings[0]).toMatchObject({
      functionKey: publisher?.key,
      tableName: commentsTable?.tableName,
      streamArn: commentsTable?.streamArn,
      enabled: true,
      onFailure: expect.stringMatching(/^arn:aws:sqs:us-east-1:000000000000:RealtimeComments-dev-Realtime-/),
      settings: {
        StartingPosition: 'TRIM_HORIZON',
        BisectBatchOnFunctionError: true,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        FilterCriteria: {
          Filters: [
            {
              Pattern: '{"eventName":["INSERT"],"dynamodb":{"NewImage":{"sk":{"S":[{"prefix":"event#"}]}}}}',
            },
          ],
        },
      },
    });
    expect(commentsTable?.streamArn).toMatch(/\/stream\//);
  });

  it('has the broadcast HTTP API on the dev stage with its two routes to the broadcast function', () => {
    // Prepare
    const api = apiCalled(`realtime-comments-${STAGE}-broadcast`);
    const broadcast = functionByEntry('lambda/broadcast/handler.ts')?.key;

    // Act
    const keys = routeKeys(api);

    // Assess
    expect(api.stageName).toBe(STAGE);
    expect(keys).toEqual(['GET /connections/count', 'POST /broadcast/comments']);
    expect(new Set(api.routes.map((r) => r.functionKey))).toEqual(new Set([broadcast]));
  });

  it('has the comments API on $default with exactly the routes the comments handler dispatches on', () => {
    // Prepare
    const api = apiCalled(`realtime-comments-${STAGE}-comments`);
    const comments = functionByEntry('lambda/comments-api/handler.ts')?.key;

    // Act
    const keys = routeKeys(api);

    // Assess
    expect(api.stageName).toBe('$default');
    expect(api.cors?.AllowOrigins).toBeDefined();
    expect(keys).toEqual([...COMMENTS_API_ROUTE_KEYS].sort());
    expect(new Set(api.routes.map((r) => r.functionKey))).toEqual(new Set([comments]));
  });

  it("guards the comments API's write routes with its JWT authorizer: local issuer, app client audience, no scopes", () => {
    // Prepare
    const api = apiCalled(`realtime-comments-${STAGE}-comments`);

    // Act
    const jwtRoutes = api.routes.filter((route) => route.authorization.type === 'JWT');

    // Assess
    expect(jwtRoutes.length).toBeGreaterThan(0);
    for (const { authorization } of jwtRoutes) {
      expect(authorization).toMatchObject({
        identitySource: ['$request.header.Authorization'],
        issuer: `${APP}/_local/issuer`,
        scopes: [],
      });
      expect(authorization.type === 'JWT' && authorization.audience).toHaveLength(1);
    }
  });

  it("resolves the comments function's broadcast URL to the local gateway and its table to the local table", () => {
    // Prepare
    const commentsTable = model.tables.find((t) => t.logicalId.startsWith('Comments'));

    // Act
    const environment = functionByEntry('lambda/comments-api/handler.ts')?.environment;

    // Assess
    expect(environment?.[EnvNames.broadcastUrl]).toBe(`${GATEWAY}/${STAGE}`);
    expect(environment?.[EnvNames.websocketUrl]).toBe(`ws://localhost:3001/${STAGE}`);
    expect(commentsTable?.tableName).toBe(`${commentsTable?.stackName}-${commentsTable?.logicalId}`);
    expect(environment?.[EnvNames.commentsTable]).toBe(commentsTable?.tableName);
  });

  it("resolves the messages, broadcast and worker functions' management endpoint to the local gateway", () => {
    // Act
    const endpointsSeen = [
      'lambda/websocket-messages/handler.ts',
      'lambda/broadcast/handler.ts',
      'lambda/fan-out-worker/handler.ts',
    ].map((entry) => functionByEntry(entry)?.environment[EnvNames.managementEndpoint]);

    // Assess
    expect(endpointsSeen).toEqual([`${GATEWAY}/${STAGE}`, `${GATEWAY}/${STAGE}`, `${GATEWAY}/${STAGE}`]);
  });

  it('names the fan-out worker in the broadcast environment by the local name the Invoke API serves', () => {
    // Prepare
    const worker = functionByEntry('lambda/fan-out-worker/handler.ts');

    // Act
    const named = functionByEntry('lambda/broadcast/handler.ts')?.environment[
      EnvNames.fanOutWorkerFunctionName
    ];

    // Assess
    expect(named).toBe(worker?.functionName);
    expect(worker?.functionName).toBe(`${worker?.stackName}-${worker?.logicalId}`);
  });

  it("gives the fan-out worker Lambda's async retries, the stage's event age and its dead-letter queue", () => {
    // Act
    const asyncInvoke = functionByEntry('lambda/fan-out-worker/handler.ts')?.asyncInvoke;

    // Assess
    expect(asyncInvoke).toEqual({
      maximumRetryAttempts: 2,
      maximumEventAgeSeconds: resolveStageConfig(STAGE).fanOutMaxEventAgeSeconds,
      onFailure: expect.stringMatching(
        new RegExp(
          `^arn:aws:sqs:us-east-1:000000000000:RealtimeComments-${STAGE}-Realtime-FanOut\\w*DeadLetterQueue`,
        ),
      ),
    });
  });

  it('writes the user-facing outputs with local URLs and nothing of the cross-stack plumbing', () => {
    // Act
    const outputNames = Object.values(model.outputs).flatMap((outputs) => Object.keys(outputs));

    // Assess
    expect(outputNames.filter((name) => /^(PublishOutput|ExportsOutput)/.test(name))).toEqual([]);
    expect(model.outputs[`RealtimeComments-${STAGE}-Realtime`]).toEqual({
      WebSocketUrl: `ws://localhost:3001/${STAGE}`,
      WebSocketManagementEndpoint: `${GATEWAY}/${STAGE}`,
      BroadcastUrl: `${GATEWAY}/${STAGE}`,
    });
    expect(model.outputs[`RealtimeComments-${STAGE}-CommentsApi`]).toEqual({ CommentsApiUrl: `${APP}/` });
  });
});
