import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';
import { resolveStageConfig } from '../lib/config/stage-config';
import { TABLE_SCHEMA_METADATA_KEY } from '../lib/constructs/schema-table';
import { commentsTableSchema, connectionsTableSchema, type TableSchema } from '../contracts/table-schema';
import { EnvNames } from '../contracts/env-names';
import { ID_PATTERN, isValidId } from '../contracts/protocol';
import { createRouteAuthorizers } from './auth/authorizers';
import {
  LOCAL_ACCESS_KEY_ID,
  LOCAL_ACCOUNT_ID,
  LOCAL_REGION,
  LOCAL_SECRET_ACCESS_KEY,
} from './auth/credentials';
import { DEFAULT_KEYS_FILE, JWKS_PATH, LOCAL_ISSUER_PATH, LocalIssuer } from './auth/local-issuer';
import { startDynamoDbLocal, ensureTable, type DynamoDbLocal } from './emulators/dynamodb-local';
import {
  FaultSettingsError,
  faultsFromEnv,
  mergeFaults,
  NO_FAULTS,
  type FaultSettings,
} from './devtools/faults';
import { headersOf, LocalHttpApi, readBody, send } from './emulators/http-api';
import { DEAD_LETTERS_PATH, LocalLambdaInvokeApi, type DeadLetter } from './emulators/lambda-invoke-api';
import { LocalLambda } from './emulators/lambda-runtime';
import { createStaticFiles } from './devtools/static-files';
import {
  buildLocalModel,
  type LocalApi,
  type LocalModel,
  type StackTemplate,
} from './cloudformation/template-model';
import { LocalWebSocketGateway } from './emulators/websocket-gateway';

const REPO_ROOT = path.resolve(__dirname, '..');
export const LOCAL_TOKEN_PATH = '/_local/token';

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
const SCHEMAS: readonly TableSchema[] = [connectionsTableSchema, commentsTableSchema];
/** Request bodies the local HTTP APIs accept: API Gateway's HTTP API payload limit is 10 MB. */
const MAX_HTTP_BODY_BYTES = 10 * 1024 * 1024;

export interface LocalStackOptions {
  stage: string;
  /** Comments API and the demo page. */
  appPort: number;
  /** WebSocket API, its Management API, and the stage-prefixed HTTP APIs (broadcast). */
  gatewayPort: number;
  dynamoDbPort: number;
  /** Keep DynamoDB Local's data in this folder instead of memory. */
  dynamoDbPath?: string;
  /** Where to write the `cdk deploy --outputs-file`-shaped outputs. */
  outputsFile: string;
  /** Host name used in URLs. */
  host: string;
  idleTimeoutMs?: number;
  maxConnectionMs?: number;
  faults: FaultSettings;
  /** The synthesized cloud assembly goes here. */
  assemblyDir: string;
  /** The local issuer's key pair (created on first use). */
  issuerKeysFile: string;
  /**
   * Replaces FAN_OUT_BATCH_SIZE in the functions whose template sets it, e.g. to send even a small
   * audience through the fan-out workers. @default the stage config's value, as in the template
   */
  fanOutBatchSize?: number;
  /** Delay before the first retry of a failed async (Event) invocation, doubled for the next. */
  asyncRetryDelayMs?: number;
  log: (message: string) => void;
}

export function optionsFromEnv(env: Record<string, string | undefined> = process.env): LocalStackOptions {
  const int = (name: string, fallback: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
    return value;
  };
  const options: LocalStackOptions = {
    stage: env.LOCAL_STAGE || 'dev',
    appPort: int('LOCAL_APP_PORT', 3000),
    gatewayPort: int('LOCAL_GATEWAY_PORT', 3001),
    dynamoDbPort: int('LOCAL_DYNAMODB_PORT', 8000),
    outputsFile: path.resolve(env.LOCAL_OUTPUTS_FILE || path.join(REPO_ROOT, 'local-outputs.json')),
    host: env.LOCAL_HOST || 'localhost',
    faults: faultsFromEnv(env),
    assemblyDir: path.resolve(env.LOCAL_ASSEMBLY_DIR || path.join(REPO_ROOT, 'cdk.out.local')),
    issuerKeysFile: path.resolve(env.LOCAL_ISSUER_KEYS_FILE || DEFAULT_KEYS_FILE),
    log: (message) => console.log(`[local] ${message}`),
  };
  if (env.LOCAL_DYNAMODB_PATH) options.dynamoDbPath = path.resolve(env.LOCAL_DYNAMODB_PATH);
  if (env.LOCAL_IDLE_TIMEOUT_MS) options.idleTimeoutMs = int('LOCAL_IDLE_TIMEOUT_MS', 0);
  if (env.LOCAL_MAX_CONNECTION_MS) options.maxConnectionMs = int('LOCAL_MAX_CONNECTION_MS', 0);
  if (env.LOCAL_FAN_OUT_BATCH_SIZE) {
    options.fanOutBatchSize = int('LOCAL_FAN_OUT_BATCH_SIZE', 0);
    if (options.fanOutBatchSize < 1) throw new Error('LOCAL_FAN_OUT_BATCH_SIZE must be at least 1');
  }
  if (env.LOCAL_ASYNC_RETRY_DELAY_MS) options.asyncRetryDelayMs = int('LOCAL_ASYNC_RETRY_DELAY_MS', 0);
  return options;
}

export interface RunningLocalStack {
  outputs: Record<string, Record<string, string>>;
  model: LocalModel;
  dynamoDbEndpoint: string;
  faults(): FaultSettings;
  setFaults(update: Record<string, unknown>): FaultSettings;
  /** Async invocations that failed every retry (also at GET /_local/dead-letters on the gateway port). */
  deadLetters(): readonly DeadLetter[];
  stop(): Promise<void>;
}

export class PortInUseError extends Error {}

async function assertPortFree(port: number, purpose: string, envName: string): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new PortInUseError(
              `Port ${port} (${purpose}) is already in use — is another local stack running? ` +
                `Stop it, or choose another port with ${envName}=<port>.`,
            )
          : error,
      );
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** Synthesizes the CDK app for the stage, bundling every function, exactly as `cdk synth` does. */
function synthesize(stage: string, assemblyDir: string): StackTemplate[] {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  // Asset metadata (aws:asset:path) is what the CLI turns on; it tells where each function's bundle is.
  const app = new App({
    outdir: assemblyDir,
    context: { ...cdkJson.context, stage, 'aws:cdk:enable-asset-metadata': true },
  });
  // cdk-nag runs in the tests and in `cdk synth`; the local stack only needs the templates.
  buildApp(app, resolveStageConfig(stage), { nag: false });
  const assembly = app.synth();
  return assembly.stacks.map((stack) => ({
    stackName: stack.stackName,
    template: stack.template,
    assemblyDir: assembly.directory,
  }));
}

function schemaFor(table: LocalModel['tables'][number], stacks: StackTemplate[]): TableSchema {
  const resource = stacks.find((s) => s.stackName === table.stackName)?.template.Resources?.[
    table.logicalId
  ] as { Metadata?: Record<string, unknown> } | undefined;
  const id = resource?.Metadata?.[TABLE_SCHEMA_METADATA_KEY];
  const schema = SCHEMAS.find((s) => s.id === id);
  if (!schema)
    throw new Error(`Table ${table.logicalId} names no known schema (metadata ${TABLE_SCHEMA_METADATA_KEY})`);
  return schema;
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

async function toHttpRequest(req: IncomingMessage, pathBelowStage: string, url: URL) {
  const body = await readBody(req, MAX_HTTP_BODY_BYTES);
  return {
    method: req.method ?? 'GET',
    path: pathBelowStage,
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers: headersOf(req),
    body: body ?? Buffer.alloc(0),
    tooLarge: body === undefined,
    sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
  };
}

const jsonReply = (res: ServerResponse, statusCode: number, body: unknown): void =>
  send(res, {
    statusCode,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify(body)),
  });

export async function startLocalStack(options: LocalStackOptions): Promise<RunningLocalStack> {
  const started = Date.now();
  await assertPortFree(options.appPort, 'comments API and demo page', 'LOCAL_APP_PORT');
  await assertPortFree(options.gatewayPort, 'WebSocket and broadcast gateway', 'LOCAL_GATEWAY_PORT');
  await assertPortFree(options.dynamoDbPort, 'DynamoDB Local', 'LOCAL_DYNAMODB_PORT');

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
    const region = LOCAL_REGION;
    const accountId = LOCAL_ACCOUNT_ID;
    const localIssuerUrl = `http://${options.host}:${options.appPort}${LOCAL_ISSUER_PATH}`;
    const model = buildLocalModel(stacks, {
      httpBaseUrl: (api) => `http://${options.host}:${portOf(api)}`,
      region,
      accountId,
      localIssuerUrl,
    });
    const localIssuer = await LocalIssuer.load({
      issuer: localIssuerUrl,
      audience: jwtAudience(model) ?? 'local',
      keysFile: options.issuerKeysFile,
    });
    const credentials = { [LOCAL_ACCESS_KEY_ID]: LOCAL_SECRET_ACCESS_KEY };
    const authorizers = createRouteAuthorizers({ localIssuer, credentials });

    const dynamo: DynamoDbLocal = await dynamoStarting;
    for (const table of model.tables) {
      await ensureTable(dynamo.client, schemaFor(table, stacks), table.tableName);
    }

    // What Lambda's environment provides, plus the local endpoints; each function's own variables go on top.
    const baseEnv: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'development',
      TZ: 'UTC',
      AWS_REGION: region,
      AWS_DEFAULT_REGION: region,
      AWS_ACCESS_KEY_ID: LOCAL_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: LOCAL_SECRET_ACCESS_KEY,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      // The broadcast queues fan-out batches through the Invoke API; the gateway port emulates it.
      LAMBDA_ENDPOINT: `http://${options.host}:${options.gatewayPort}`,
      POWERTOOLS_LOG_LEVEL: process.env.LOCAL_LOG_LEVEL || 'WARN',
      POWERTOOLS_METRICS_DISABLED: process.env.LOCAL_METRICS === 'true' ? 'false' : 'true',
      // No X-Ray daemon here: the Tracer stays off, as it would outside Lambda anyway.
      POWERTOOLS_TRACE_ENABLED: 'false',
    };
    if (options.fanOutBatchSize !== undefined) {
      for (const fn of model.functions.values()) {
        if (fn.environment[EnvNames.fanOutBatchSize] === undefined) continue;
        fn.environment[EnvNames.fanOutBatchSize] = String(options.fanOutBatchSize);
        options.log(
          `${fn.key}: ${EnvNames.fanOutBatchSize}=${options.fanOutBatchSize} (LOCAL_FAN_OUT_BATCH_SIZE)`,
        );
      }
    }
    const lambdas = new Map<string, LocalLambda>();
    for (const fn of model.functions.values()) lambdas.set(fn.key, new LocalLambda(fn, baseEnv));
    stopping.push(async () => {
      await Promise.all([...lambdas.values()].map((lambda) => lambda.stop()));
    });
    await Promise.all([...lambdas.values()].map((lambda) => lambda.ready));

    let faults: FaultSettings = options.faults;
    const getFaults = (): FaultSettings => faults;
    const setFaults = (update: Record<string, unknown>): FaultSettings =>
      (faults = mergeFaults(faults, update));

    const gatewayDomain = `${options.host}:${options.gatewayPort}`;
    const webSocketGateways = model.apis
      .filter((api) => api.protocol === 'WEBSOCKET')
      .map(
        (api) =>
          new LocalWebSocketGateway({
            api,
            lambdas,
            domainName: gatewayDomain,
            accountId,
            region,
            authorizers,
            faults: getFaults,
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
            accountId,
            authorizers,
          }),
      );
    const lambdaInvoke = new LocalLambdaInvokeApi({
      functions: model.functions.values(),
      lambdas,
      authorizers,
      region,
      accountId,
      ...(options.asyncRetryDelayMs !== undefined ? { retryDelayMs: options.asyncRetryDelayMs } : {}),
      log: options.log,
    });
    stopping.push(async () => lambdaInvoke.stop());
    const stagedHttpApis = httpApis.filter((http) => portOf(http.api) === options.gatewayPort);
    const appHttpApis = httpApis.filter((http) => portOf(http.api) === options.appPort);

    const handleFaults = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (req.method === 'GET') return jsonReply(res, 200, faults);
      if (req.method === 'DELETE') {
        faults = NO_FAULTS;
        return jsonReply(res, 200, faults);
      }
      if (req.method === 'PUT' || req.method === 'POST') {
        const body = await readBody(req, 64 * 1024);
        try {
          const update: unknown = JSON.parse(body?.toString('utf8') ?? '');
          if (typeof update !== 'object' || update === null || Array.isArray(update)) {
            throw new FaultSettingsError('Body must be a JSON object of fault settings');
          }
          return jsonReply(res, 200, setFaults(update as Record<string, unknown>));
        } catch (error) {
          return jsonReply(res, 400, { message: (error as Error).message });
        }
      }
      return jsonReply(res, 405, { message: 'Use GET, PUT or DELETE' });
    };

    /**
     * `POST /_local/gateway/crash {"downForMs": n}`: the gateway dies — every connection drops without a
     * close frame or $disconnect — and answers nothing but 503 until it comes back, as API Gateway would
     * look to clients during an outage. Lambda (the Invoke API) keeps running, as it would on AWS.
     */
    let gatewayDownUntil = 0;
    const handleCrash = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if (req.method !== 'POST') return jsonReply(res, 405, { message: 'Use POST' });
      const body = await readBody(req, 1024);
      let downForMs: unknown;
      try {
        downForMs = (JSON.parse(body?.toString('utf8') || '{}') as { downForMs?: unknown }).downForMs ?? 1000;
      } catch {
        return jsonReply(res, 400, { message: 'Body must be JSON {"downForMs": <ms>}' });
      }
      if (
        typeof downForMs !== 'number' ||
        !Number.isInteger(downForMs) ||
        downForMs < 0 ||
        downForMs > 600_000
      ) {
        return jsonReply(res, 400, {
          message: 'downForMs must be a whole number of milliseconds up to 600000',
        });
      }
      gatewayDownUntil = Date.now() + downForMs;
      const dropped = webSocketGateways.reduce((sum, gateway) => sum + gateway.dropAllConnections(), 0);
      options.log(`gateway crashed: ${dropped} connections dropped, back in ${downForMs} ms`);
      jsonReply(res, 200, { dropped, downForMs });
    };
    const gatewayDown = (): boolean => Date.now() < gatewayDownUntil;

    const gatewayServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://local');
      if (url.pathname === '/_local/faults') return void handleFaults(req, res);
      if (url.pathname === '/_local/gateway/crash') return void handleCrash(req, res);
      if (lambdaInvoke.handle(req, res)) return;
      if (gatewayDown()) return jsonReply(res, 503, { message: 'Service Unavailable' });
      for (const gateway of webSocketGateways) if (gateway.handleManagement(req, res)) return;
      const http = stagedHttpApis.find((h) => url.pathname.startsWith(`/${h.api.stageName}/`));
      if (!http) return jsonReply(res, 404, { message: 'Not Found' });
      void (async () => {
        if (faults.broadcastUnavailable) return jsonReply(res, 503, { message: 'Service Unavailable' });
        const request = await toHttpRequest(req, url.pathname.slice(http.api.stageName.length + 1), url);
        if (request.tooLarge) return jsonReply(res, 413, { message: 'Request Entity Too Large' });
        send(res, await http.handle(request));
      })().catch((error: Error) => jsonReply(res, 500, { message: error.message }));
    });
    gatewayServer.on('upgrade', (req, socket, head) => {
      // A client that vanishes mid-handshake must cost its socket, never the whole local stack.
      socket.on('error', () => socket.destroy());
      if (gatewayDown())
        return void socket.end('HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n');
      for (const gateway of webSocketGateways) if (gateway.handleUpgrade(req, socket, head)) return;
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
    });

    /**
     * Dev-only routes of the local stack, never part of any deployed stage: the local issuer's keys, and
     * tokens for the demo page (which signs in through them) and for tests.
     */
    const devRoutes = async (request: Awaited<ReturnType<typeof toHttpRequest>>, res: ServerResponse) => {
      if (request.method === 'GET' && request.rawPath === JWKS_PATH)
        return jsonReply(res, 200, localIssuer.jwks);
      if (request.method === 'POST' && request.rawPath === LOCAL_TOKEN_PATH) {
        let userId: unknown;
        try {
          userId = (JSON.parse(request.body.toString('utf8')) as { userId?: unknown }).userId;
        } catch {
          return jsonReply(res, 400, { detail: 'Body must be JSON {"userId": "<id>"}' });
        }
        if (!isValidId(userId))
          return jsonReply(res, 400, { detail: `userId must match ${ID_PATTERN.source}` });
        return jsonReply(res, 200, { userId, token: await localIssuer.issueToken(userId), expiresIn: 3600 });
      }
      return jsonReply(res, 404, { message: 'Not Found' });
    };

    const webSocketApi = webSocketGateways[0];
    if (!webSocketApi) throw new Error('The app defines no WebSocket API');
    const serveStatic = createStaticFiles({
      webSocketUrl: `ws://${options.host}:${options.gatewayPort}/${webSocketApi.stage}`,
      apiBaseUrl: '',
      tokenUrl: LOCAL_TOKEN_PATH,
    });
    const appServer = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://local');
      void (async () => {
        const request = await toHttpRequest(req, url.pathname, url);
        if (request.tooLarge) return jsonReply(res, 413, { message: 'Request Entity Too Large' });
        if (url.pathname.startsWith('/_local/')) return devRoutes(request, res);
        const http = appHttpApis.find((h) => h.matches(request.method, request.path));
        if (http) return send(res, await http.handle(request));
        const file =
          req.method === 'GET' || req.method === 'HEAD' ? await serveStatic(url.pathname) : undefined;
        if (file) return send(res, file);
        jsonReply(res, 404, { message: 'Not Found' });
      })().catch((error: Error) => jsonReply(res, 500, { message: error.message }));
    });

    for (const server of [gatewayServer, appServer]) {
      server.on('clientError', (_error, socket) => socket.destroy());
    }
    await listen(gatewayServer, options.gatewayPort);
    stopping.push(async () => {
      await Promise.all(webSocketGateways.map((gateway) => gateway.stop()));
      gatewayServer.closeAllConnections();
      await new Promise<void>((resolve) => gatewayServer.close(() => resolve()));
    });
    await listen(appServer, options.appPort);
    stopping.push(async () => {
      appServer.closeAllConnections();
      await new Promise<void>((resolve) => appServer.close(() => resolve()));
    });

    const outputs = {
      ...model.outputs,
      LocalStack: {
        DemoPageUrl: `http://${options.host}:${options.appPort}/`,
        TokenUrl: `http://${options.host}:${options.appPort}${LOCAL_TOKEN_PATH}`,
        AuthIssuer: localIssuer.issuer,
        AuthAudience: localIssuer.audience,
        DynamoDbEndpoint: dynamo.endpoint,
        FaultsUrl: `http://${options.host}:${options.gatewayPort}/_local/faults`,
        GatewayCrashUrl: `http://${options.host}:${options.gatewayPort}/_local/gateway/crash`,
        LambdaEndpoint: `http://${options.host}:${options.gatewayPort}`,
        DeadLettersUrl: `http://${options.host}:${options.gatewayPort}${DEAD_LETTERS_PATH}`,
      },
    };
    await writeFile(options.outputsFile, `${JSON.stringify(outputs, null, 2)}\n`);

    for (const [stackName, values] of Object.entries(outputs)) {
      for (const [key, value] of Object.entries(values)) options.log(`${stackName}.${key} = ${value}`);
    }
    options.log(`outputs written to ${options.outputsFile}`);
    options.log(
      `ready in ${((Date.now() - started) / 1000).toFixed(1)} s — open http://${options.host}:${options.appPort}/`,
    );

    return {
      outputs,
      model,
      dynamoDbEndpoint: dynamo.endpoint,
      faults: getFaults,
      setFaults,
      deadLetters: () => lambdaInvoke.deadLetters,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
