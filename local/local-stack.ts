import * as path from 'node:path';
import { EnvNames } from '../contracts/env-names';
import { createRouteAuthorizers } from './auth/authorizers';
import {
  LOCAL_ACCESS_KEY_ID,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  LOCAL_SECRET_ACCESS_KEY,
} from './auth/credentials';
import { LOCAL_ISSUER_PATH, LocalIssuer } from './auth/local-issuer';
import type { LocalApi, LocalFunction, LocalModel } from './cloudformation/local-model';
import { synthesizeCached } from './cloudformation/assembly-cache';
import { secondsSince, synthesize } from './cloudformation/synthesize';
import { tableSchemaOf } from './cloudformation/table-schemas';
import { buildLocalModel, localTables, type LocalEndpoints } from './cloudformation/template-model';
import {
  DEAD_LETTERS_PATH,
  FAULTS_PATH,
  GATEWAY_CRASH_PATH,
  LOCAL_TOKEN_PATH,
} from './devtools/control-paths';
import { CrashAfterCommit } from './devtools/crash-after-commit';
import { createDeadLetterRoute } from './devtools/dead-letter-route';
import { createDevTokenRoutes } from './devtools/dev-token-routes';
import { FaultControl } from './devtools/fault-control';
import type { FaultSettings } from './devtools/faults';
import { GatewayOutage } from './devtools/gateway-outage';
import { createStaticFiles } from './devtools/static-files';
import { lockDataDir, resetDataDir } from './emulators/dynamodb-data';
import { dynamoDbLocalEndpoint, ensureTable, startDynamoDbLocal } from './emulators/dynamodb-local';
import { LocalHttpApi } from './emulators/http-api';
import { LocalLambdaInvokeApi, type DeadLetterRecord } from './emulators/lambda-invoke-api';
import { lambdaBaseEnvironment, overrideStageSetting } from './emulators/lambda-environment';
import { assertFunctionsLoaded, LocalLambda } from './emulators/lambda-runtime';
import { LocalStreamMappings } from './emulators/stream-mappings';
import { LocalWebSocketGateway } from './emulators/websocket-gateway';
import { writeOutputsFile, type StackOutputs } from './launch/outputs-file';
import { StopSteps } from './launch/stop-steps';
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
  /**
   * Async invocations that failed every retry and stream batches the mappings gave up on (also at
   * GET /_local/dead-letters on the gateway port).
   */
  deadLetters(): readonly DeadLetterRecord[];
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

const REPO_ROOT = path.resolve(__dirname, '..');
/** Stands for a table's stream until the table exists; no function may depend on it (checked). */
const PENDING_STREAM_ARN = 'arn:aws:dynamodb:local:000000000000:table/pending/stream/pending';

/** Seconds since `since`, for the progress lines. */

/** A path as short as it reads unambiguously: relative to the working directory when inside it. */
const shortPath = (target: string): string => {
  const relative = path.relative(process.cwd(), target);
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : target;
};

/**
 * `stopping` receives how to stop each part as it starts; pass your own to stop a start still under way
 * (start.ts does, for signals and uncaught errors). A start that fails stops what it had started.
 */
export async function startLocalStack(
  options: LocalStackOptions,
  stopping: StopSteps = new StopSteps(),
): Promise<RunningLocalStack> {
  const started = options.startedAt ?? Date.now();
  await assertPortFree(options.appPort, 'comments API and demo page', 'LOCAL_APP_PORT');
  await assertPortFree(options.gatewayPort, 'WebSocket and broadcast gateway', 'LOCAL_GATEWAY_PORT');
  await assertPortFree(options.dynamoDbPort, 'DynamoDB Local', 'LOCAL_DYNAMODB_PORT');

  const stop = (): Promise<void> => stopping.run(options.log);

  try {
    const { dynamoDbPath } = options;
    if (dynamoDbPath) {
      // Released last, once DynamoDB Local has stopped writing the folder.
      const lock = lockDataDir(dynamoDbPath);
      stopping.push(async () => lock.release());
      if (options.reset) {
        const deleted = resetDataDir(dynamoDbPath);
        options.log(
          `reset: ${deleted.length ? `deleted the tables kept in ${shortPath(dynamoDbPath)}` : 'no tables were kept'}`,
        );
      }
    }
    // DynamoDB Local (a JVM) warms up in its own process while the synth bundles the functions.
    const dynamoSince = Date.now();
    options.log(
      `DynamoDB Local: starting on port ${options.dynamoDbPort}, ` +
        (dynamoDbPath ? `tables kept in ${shortPath(dynamoDbPath)} …` : 'tables in memory …'),
    );
    const dynamoStarting = startDynamoDbLocal({
      port: options.dynamoDbPort,
      javaOptions: options.dynamoDbJavaOptions,
      ...(dynamoDbPath ? { path: dynamoDbPath } : {}),
    });
    let dynamoReady = '';
    // Awaited below, after the synth: a failure before then must not count as an unhandled rejection.
    dynamoStarting.then(() => (dynamoReady = secondsSince(dynamoSince))).catch(() => undefined);
    stopping.push(async () => (await dynamoStarting).stop());
    const synthSince = Date.now();
    const synthesis = await synthesizeCached({
      stage: options.stage,
      assemblyDir: options.assemblyDir,
      cacheDir: options.cacheDir,
      repoRoot: REPO_ROOT,
      synthesize: (stage, outDir) => {
        options.log(
          options.cacheDir
            ? `synthesis: stage "${stage}" not cached for these sources, synthesizing and bundling …`
            : `synthesis: cache off, synthesizing and bundling stage "${stage}" …`,
        );
        return synthesize(stage, outDir, options.log);
      },
      log: options.log,
    });
    const { stacks } = synthesis;
    options.log(
      {
        assembly: `synthesis: stage "${options.stage}" unchanged, reusing ${shortPath(options.assemblyDir)}`,
        cache: `synthesis: stage "${options.stage}" from the cache (${synthesis.key?.slice(0, 12)})`,
        synthesized: `synthesis: stage "${options.stage}" synthesized and bundled`,
      }[synthesis.source] + ` in ${secondsSince(synthSince)}`,
    );

    // Stage-named APIs live on the gateway port under /<stage>, as on execute-api; $default ones on the app port.
    const portOf = (api: LocalApi): number =>
      api.protocol === 'WEBSOCKET' || api.stageName !== '$default' ? options.gatewayPort : options.appPort;
    const appUrl = `http://${options.host}:${options.appPort}`;
    const gatewayUrl = `http://${options.host}:${options.gatewayPort}`;
    const localIssuerUrl = `${appUrl}${LOCAL_ISSUER_PATH}`;
    const endpoints = (tableStreamArn: LocalEndpoints['tableStreamArn']): LocalEndpoints => ({
      httpBaseUrl: (api) => `http://${options.host}:${portOf(api)}`,
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      localIssuerUrl,
      tableStreamArn,
    });
    /** The stage settings the options override, in the functions' environments: [variable, value, option]. */
    const overrides = [
      [EnvNames.fanOutBatchSize, options.fanOutBatchSize, 'LOCAL_FAN_OUT_BATCH_SIZE'],
      [EnvNames.eventRetentionSeconds, options.eventRetentionSeconds, 'LOCAL_EVENT_RETENTION_SECONDS'],
    ] as const;
    const overrideSettings = (each: Iterable<LocalFunction>, log: (message: string) => void): void => {
      // Read once: a Map's values() iterator would be used up by the first setting.
      const functions = [...each];
      for (const [name, value, option] of overrides) {
        if (value !== undefined) overrideStageSetting(functions, name, value, option, log);
      }
    };
    // The functions load while DynamoDB Local starts: nothing a function is given depends on a table's
    // stream, which exists only once the table does. The model is built again once the tables exist, and a
    // function whose definition then differs is loaded again.
    const early = buildLocalModel(
      stacks,
      endpoints((table) => (table.properties.StreamSpecification ? PENDING_STREAM_ARN : undefined)),
    );
    overrideSettings(early.functions.values(), options.log);
    const baseEnv = lambdaBaseEnvironment({
      region: LOCAL_REGION,
      dynamoDbEndpoint: dynamoDbLocalEndpoint(options.dynamoDbPort),
      lambdaEndpoint: gatewayUrl,
      logLevel: options.functionLogLevel,
      metrics: options.functionMetrics,
    });
    const functionsSince = Date.now();
    const lambdas = new Map<string, LocalLambda>();
    for (const fn of early.functions.values()) lambdas.set(fn.key, new LocalLambda(fn, baseEnv));
    stopping.push(async () => {
      await Promise.all([...lambdas.values()].map((lambda) => lambda.stop()));
    });
    let functionsLoaded = '';
    const functionsReady = Promise.all([...lambdas.values()].map((lambda) => lambda.ready)).then(
      () => (functionsLoaded = secondsSince(functionsSince)),
    );
    // Awaited below, once the tables exist: a failure before then must not count as an unhandled rejection.
    functionsReady.catch(() => undefined);

    // Tables before the model: a table's StreamArn is the stream DynamoDB Local gives it on creation.
    const dynamo = await dynamoStarting;
    options.log(
      // A synthesis holds the event loop, so DynamoDB Local's readiness is only seen once it is over.
      synthesis.source === 'synthesized'
        ? 'DynamoDB Local: ready (it started during the synthesis)'
        : `DynamoDB Local: ready in ${dynamoReady || secondsSince(dynamoSince)}`,
    );
    const tablesSince = Date.now();
    const streamArns = new Map<string, string>();
    const tables = localTables(stacks);
    await Promise.all(
      tables.map(async (table) => {
        const streamArn = await ensureTable(dynamo.client, tableSchemaOf(table, stacks), table.tableName);
        if (streamArn) streamArns.set(table.tableName, streamArn);
      }),
    );
    options.log(`tables: ${tables.length} ready in ${secondsSince(tablesSince)}`);
    const model = buildLocalModel(
      stacks,
      endpoints((table) => streamArns.get(table.tableName)),
    );
    overrideSettings(model.functions.values(), () => undefined);
    for (const fn of model.functions.values()) {
      const loaded = lambdas.get(fn.key);
      if (loaded && JSON.stringify(loaded.definition) === JSON.stringify(fn)) continue;
      options.log(`${fn.key}: its definition names a table's stream, loading it again`);
      void loaded?.stop();
      lambdas.set(fn.key, new LocalLambda(fn, baseEnv));
    }
    const localIssuer = await LocalIssuer.load({
      issuer: localIssuerUrl,
      audience: jwtAudience(model) ?? 'local',
      keysFile: options.issuerKeysFile,
    });
    const authorizers = createRouteAuthorizers({
      localIssuer,
      credentials: { [LOCAL_ACCESS_KEY_ID]: LOCAL_SECRET_ACCESS_KEY },
    });

    await functionsReady;
    await Promise.all([...lambdas.values()].map((lambda) => lambda.ready));
    assertFunctionsLoaded(lambdas.values());
    options.log(`functions: ${lambdas.size} loaded in ${functionsLoaded || secondsSince(functionsSince)}`);

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
    const streamMappings = new LocalStreamMappings({
      mappings: model.streamMappings,
      functions: model.functions,
      lambdas,
      client: dynamo.streamsClient,
      deadLetter: (letter) => lambdaInvoke.addStreamDeadLetter(letter),
      region: LOCAL_REGION,
      accountId: LOCAL_ACCOUNT_ID,
      log: options.log,
    });
    const faults = new FaultControl(options.faults, { streamConsumerFailures: streamMappings });
    const crashAfterCommit = new CrashAfterCommit({ faults: faults.switches, lambdas, log: options.log });
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
            faults: faults.switches,
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
      faults: faults.switches,
      crashAfterCommit: (req, res) => crashAfterCommit.handle(req, res),
      log: options.log,
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
      log: options.log,
    });

    await listen(gatewayServer, options.gatewayPort);
    stopping.push(async () => {
      await Promise.all(webSocketGateways.map((gateway) => gateway.stop()));
      await closeServer(gatewayServer);
    });
    await listen(appServer, options.appPort);
    stopping.push(() => closeServer(appServer));
    // Once the functions can reach the gateway; stopped first, so no batch is cut off by a closed server.
    stopping.push(() => streamMappings.stop());
    await streamMappings.start();

    const outputs: StackOutputs = {
      ...model.outputs,
      LocalStack: {
        DemoPageUrl: `${appUrl}/`,
        TokenUrl: `${appUrl}${LOCAL_TOKEN_PATH}`,
        AuthIssuer: localIssuer.issuer,
        AuthAudience: localIssuer.audience,
        IssuerKeysFile: options.issuerKeysFile,
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
    options.log(`ready in ${secondsSince(started)} — open ${appUrl}/`);

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
