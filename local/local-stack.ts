import { createRouteAuthorizers } from './auth/authorizers';
import {
  LOCAL_ACCESS_KEY_ID,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  LOCAL_SECRET_ACCESS_KEY,
} from './auth/credentials';
import { LOCAL_ISSUER_PATH, LocalIssuer } from './auth/local-issuer';
import type { LocalApi, LocalModel } from './cloudformation/local-model';
import { synthesize } from './cloudformation/synthesize';
import { tableSchemaOf } from './cloudformation/table-schemas';
import { buildLocalModel } from './cloudformation/template-model';
import {
  DEAD_LETTERS_PATH,
  FAULTS_PATH,
  GATEWAY_CRASH_PATH,
  LOCAL_TOKEN_PATH,
} from './devtools/control-paths';
import { createDeadLetterRoute } from './devtools/dead-letter-route';
import { createDevTokenRoutes } from './devtools/dev-token-routes';
import { FaultControl } from './devtools/fault-control';
import type { FaultSettings } from './devtools/faults';
import { GatewayOutage } from './devtools/gateway-outage';
import { createStaticFiles } from './devtools/static-files';
import { ensureTable, startDynamoDbLocal } from './emulators/dynamodb-local';
import { LocalHttpApi } from './emulators/http-api';
import { LocalLambdaInvokeApi, type DeadLetter } from './emulators/lambda-invoke-api';
import { lambdaBaseEnvironment, overrideFanOutBatchSize } from './emulators/lambda-environment';
import { LocalLambda } from './emulators/lambda-runtime';
import { LocalWebSocketGateway } from './emulators/websocket-gateway';
import { writeOutputsFile, type StackOutputs } from './launch/outputs-file';
import type { LocalStackOptions } from './local-stack-options';
import { createAppServer } from './servers/app-server';
import { createGatewayServer } from './servers/gateway-server';
import { assertPortFree, closeServer, listen } from './servers/listening';

/**
 * The local stack's composition root: synthesizes the CDK app, starts DynamoDB Local and a runtime per
 * function, puts the emulated API Gateway APIs, the Lambda Invoke API and the dev tools on two ports, and
 * writes the outputs file. What each part does lives in its own module; this one only wires them.
 */
export interface RunningLocalStack {
  outputs: StackOutputs;
  model: LocalModel;
  dynamoDbEndpoint: string;
  faults(): FaultSettings;
  setFaults(update: Record<string, unknown>): FaultSettings;
  /** Async invocations that failed every retry (also at GET /_local/dead-letters on the gateway port). */
  deadLetters(): readonly DeadLetter[];
  stop(): Promise<void>;
}

/** The audience the app's JWT authorizers accept: the local issuer puts it in its tokens. */
function jwtAudience(model: LocalModel): string | undefined {
  for (const api of model.apis) {
    for (const route of api.routes) {
      if (route.authorization.type === 'JWT' && route.authorization.audience[0])
        return route.authorization.audience[0];
    }
  }
  return undefined;
}

export async function startLocalStack(options: LocalStackOptions): Promise<RunningLocalStack> {
  const started = Date.now();
  await assertPortFree(options.appPort, 'comments API and demo page', 'LOCAL_APP_PORT');
  await assertPortFree(options.gatewayPort, 'WebSocket and broadcast gateway', 'LOCAL_GATEWAY_PORT');
  await assertPortFree(options.dynamoDbPort, 'DynamoDB Local', 'LOCAL_DYNAMODB_PORT');

  // Each part started pushes how to stop it; they stop in reverse, also when the start fails half-way.
  const stopping: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const step of stopping.reverse()) {
      await step().catch((error: Error) => options.log(`stop: ${error.message}`));
    }
    stopping.length = 0;
  };

  try {
    // DynamoDB Local (a JVM) warms up in its own process while the synth bundles the functions.
    options.log('starting DynamoDB Local …');
    const dynamoStarting = startDynamoDbLocal(
      options.dynamoDbPath
        ? { port: options.dynamoDbPort, path: options.dynamoDbPath }
        : { port: options.dynamoDbPort },
    );
    stopping.push(async () => (await dynamoStarting).stop());
    options.log(`synthesizing stage "${options.stage}" …`);
    const stacks = synthesize(options.stage, options.assemblyDir);

    // Stage-named APIs live on the gateway port under /<stage>, as on execute-api; $default ones on the app port.
    const portOf = (api: LocalApi): number =>
      api.protocol === 'WEBSOCKET' || api.stageName !== '$default' ? options.gatewayPort : options.appPort;
    const appUrl = `http://${options.host}:${options.appPort}`;
    const gatewayUrl = `http://${options.host}:${options.gatewayPort}`;
    const localIssuerUrl = `${appUrl}${LOCAL_ISSUER_PATH}`;
    const model = buildLocalModel(stacks, {
      httpBaseUrl: (api) => `http://${options.host}:${portOf(api)}`,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      localIssuerUrl,
    });
    const localIssuer = await LocalIssuer.load({
      issuer: localIssuerUrl,
      audience: jwtAudience(model) ?? 'local',
      keysFile: options.issuerKeysFile,
    });
    const authorizers = createRouteAuthorizers({
      localIssuer,
      credentials: { [LOCAL_ACCESS_KEY_ID]: LOCAL_SECRET_ACCESS_KEY },
    });

    const dynamo = await dynamoStarting;
    for (const table of model.tables) {
      await ensureTable(dynamo.client, tableSchemaOf(table, stacks), table.tableName);
    }

    const baseEnv = lambdaBaseEnvironment({
      region: LOCAL_REGION,
      dynamoDbEndpoint: dynamo.endpoint,
      lambdaEndpoint: gatewayUrl,
      logLevel: options.functionLogLevel,
      metrics: options.functionMetrics,
    });
    if (options.fanOutBatchSize !== undefined) {
      overrideFanOutBatchSize(model.functions.values(), options.fanOutBatchSize, options.log);
    }
    const lambdas = new Map<string, LocalLambda>();
    for (const fn of model.functions.values()) lambdas.set(fn.key, new LocalLambda(fn, baseEnv));
    stopping.push(async () => {
      await Promise.all([...lambdas.values()].map((lambda) => lambda.stop()));
    });
    await Promise.all([...lambdas.values()].map((lambda) => lambda.ready));

    const faults = new FaultControl(options.faults);
    const webSocketGateways = model.apis
      .filter((api) => api.protocol === 'WEBSOCKET')
      .map(
        (api) =>
          new LocalWebSocketGateway({
            api,
            lambdas,
            domainName: `${options.host}:${options.gatewayPort}`,
            accountId: LOCAL_ACCOUNT_ID,
            region: LOCAL_REGION,
            authorizers,
            faults: faults.current,
            ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
            ...(options.maxConnectionMs ? { maxConnectionMs: options.maxConnectionMs } : {}),
            log: options.log,
          }),
      );
    const httpApis = model.apis
      .filter((api) => api.protocol === 'HTTP')
      .map(
        (api) =>
          new LocalHttpApi({
            api,
            lambdas,
            domainName: `${options.host}:${portOf(api)}`,
            accountId: LOCAL_ACCOUNT_ID,
            authorizers,
          }),
      );
    const lambdaInvoke = new LocalLambdaInvokeApi({
      functions: model.functions.values(),
      lambdas,
      authorizers,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      ...(options.asyncRetryDelayMs !== undefined ? { retryDelayMs: options.asyncRetryDelayMs } : {}),
      log: options.log,
    });
    stopping.push(async () => lambdaInvoke.stop());
    const outage = new GatewayOutage({
      dropAllConnections: () =>
        webSocketGateways.reduce((sum, gateway) => sum + gateway.dropAllConnections(), 0),
      log: options.log,
    });

    const gatewayServer = createGatewayServer({
      alwaysUp: [
        (req, res) => faults.handle(req, res),
        (req, res) => outage.handle(req, res),
        (req, res) => lambdaInvoke.handle(req, res),
        createDeadLetterRoute(lambdaInvoke),
      ],
      isDown: () => outage.isDown(),
      webSocketGateways,
      httpApis: httpApis.filter((http) => portOf(http.api) === options.gatewayPort),
      faults: faults.current,
    });
    const webSocketApi = webSocketGateways[0];
    if (!webSocketApi) throw new Error('The app defines no WebSocket API');
    const appServer = createAppServer({
      httpApis: httpApis.filter((http) => portOf(http.api) === options.appPort),
      devRoutes: createDevTokenRoutes(localIssuer),
      staticFiles: createStaticFiles({
        webSocketUrl: `ws://${options.host}:${options.gatewayPort}/${webSocketApi.stage}`,
        apiBaseUrl: '',
        tokenUrl: LOCAL_TOKEN_PATH,
      }),
    });

    await listen(gatewayServer, options.gatewayPort);
    stopping.push(async () => {
      await Promise.all(webSocketGateways.map((gateway) => gateway.stop()));
      await closeServer(gatewayServer);
    });
    await listen(appServer, options.appPort);
    stopping.push(() => closeServer(appServer));

    const outputs: StackOutputs = {
      ...model.outputs,
      LocalStack: {
        DemoPageUrl: `${appUrl}/`,
        TokenUrl: `${appUrl}${LOCAL_TOKEN_PATH}`,
        AuthIssuer: localIssuer.issuer,
        AuthAudience: localIssuer.audience,
        DynamoDbEndpoint: dynamo.endpoint,
        FaultsUrl: `${gatewayUrl}${FAULTS_PATH}`,
        GatewayCrashUrl: `${gatewayUrl}${GATEWAY_CRASH_PATH}`,
        LambdaEndpoint: gatewayUrl,
        DeadLettersUrl: `${gatewayUrl}${DEAD_LETTERS_PATH}`,
      },
    };
    await writeOutputsFile(options.outputsFile, outputs);

    for (const [stackName, values] of Object.entries(outputs)) {
      for (const [key, value] of Object.entries(values)) options.log(`${stackName}.${key} = ${value}`);
    }
    options.log(`outputs written to ${options.outputsFile}`);
    options.log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s — open ${appUrl}/`);

    return {
      outputs,
      model,
      dynamoDbEndpoint: dynamo.endpoint,
      faults: faults.current,
      setFaults: (update) => faults.update(update),
      deadLetters: () => lambdaInvoke.deadLetters,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
