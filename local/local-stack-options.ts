import * as path from 'node:path';
import { booleanEnv, intEnv, optionalEnv, positiveIntEnv, type Env } from '../contracts/env-reader';
import { DEFAULT_KEYS_FILE } from './auth/local-issuer';
import { faultsFromEnv, type FaultSettings } from './devtools/faults';

const REPO_ROOT = path.resolve(__dirname, '..');
/** Where `npm start` writes its outputs unless LOCAL_OUTPUTS_FILE says otherwise; `npm run token` reads it. */
export const DEFAULT_OUTPUTS_FILE = path.join(REPO_ROOT, 'local-outputs.json');
/** DynamoDB Local's data, kept across restarts unless LOCAL_DYNAMODB_PATH says otherwise. */
export const DEFAULT_DYNAMODB_PATH = path.join(REPO_ROOT, '.local', 'dynamodb');
/** The synthesized assemblies, by the hash of their sources. */
export const DEFAULT_CACHE_DIR = path.join(REPO_ROOT, '.local', 'cache');
/** LOCAL_DYNAMODB_PATH's value for tables in memory, empty at every start. */
const IN_MEMORY = 'memory';
/** LOCAL_CACHE_DIR's value for synthesizing at every start. */
const NO_CACHE = 'off';
/**
 * DynamoDB Local's JVM options unless LOCAL_DYNAMODB_JAVA_OPTIONS says otherwise: the C1 compiler only (C2's
 * compiler threads are most of the start-up CPU) and the serial collector (a small heap) start it in about
 * two thirds of the time and CPU. Its steady-state speed did not suffer on ten thousand requests here; the
 * benchmark keeps the JVM's defaults anyway (`default`).
 */
export const FAST_START_JAVA_OPTIONS = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC';
/** LOCAL_DYNAMODB_JAVA_OPTIONS's value for the JVM's own defaults. */
const JVM_DEFAULTS = 'default';

export interface LocalStackOptions {
  stage: string;
  /** Comments API and the demo page. */
  appPort: number;
  /** WebSocket API, its Management API, and the stage-prefixed HTTP APIs (broadcast). */
  gatewayPort: number;
  dynamoDbPort: number;
  /** DynamoDB Local's data folder, kept across restarts; undefined keeps the tables in memory. */
  dynamoDbPath?: string;
  /** Start with empty tables: delete DynamoDB Local's data in dynamoDbPath first. */
  reset: boolean;
  /** JVM options of DynamoDB Local; empty for the JVM's defaults. */
  dynamoDbJavaOptions: string;
  /**
   * The synthesized assemblies by the hash of their sources, so that a start with nothing changed skips
   * the synthesis and the bundling; undefined synthesizes at every start.
   */
  cacheDir?: string;
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
  /**
   * Replaces EVENT_RETENTION_SECONDS, how long a change's event is kept for replay, e.g. so that a test can
   * keep a client away longer than the event log. @default the stage config's value (a day)
   */
  eventRetentionSeconds?: number;
  /** Delay before the first retry of a failed async (Event) invocation, doubled for the next. */
  asyncRetryDelayMs?: number;
  /** POWERTOOLS_LOG_LEVEL of every function: quiet by default, so the stack's own log stays readable. */
  functionLogLevel: string;
  /** Whether the functions write their EMF metrics to the log (off by default: nothing collects them). */
  functionMetrics: boolean;
  log: (message: string) => void;
  /** When the start began (ms since the epoch), for the times it reports: the process's start under npm start. */
  startedAt?: number;
}

/**
 * The options `npm start` runs with, from LOCAL_* variables; the README's "Local stack" section lists
 * them. Unset variables take the defaults below; those left undefined take the emulators' own.
 */
export function optionsFromEnv(env: Env = process.env): LocalStackOptions {
  const pathOf = (name: string, fallback: string): string => path.resolve(optionalEnv(name, fallback, env));
  const optional = <T>(name: string, read: (name: string, env: Env) => T): T | undefined =>
    env[name]?.trim() ? read(name, env) : undefined;
  const options: LocalStackOptions = {
    stage: optionalEnv('LOCAL_STAGE', 'dev', env),
    appPort: intEnv('LOCAL_APP_PORT', 3000, env),
    gatewayPort: intEnv('LOCAL_GATEWAY_PORT', 3001, env),
    dynamoDbPort: intEnv('LOCAL_DYNAMODB_PORT', 8000, env),
    outputsFile: pathOf('LOCAL_OUTPUTS_FILE', DEFAULT_OUTPUTS_FILE),
    host: optionalEnv('LOCAL_HOST', 'localhost', env),
    faults: faultsFromEnv(env),
    assemblyDir: pathOf('LOCAL_ASSEMBLY_DIR', path.join(REPO_ROOT, 'cdk.out.local')),
    issuerKeysFile: pathOf('LOCAL_ISSUER_KEYS_FILE', DEFAULT_KEYS_FILE),
    idleTimeoutMs: optional('LOCAL_IDLE_TIMEOUT_MS', intEnv),
    maxConnectionMs: optional('LOCAL_MAX_CONNECTION_MS', intEnv),
    fanOutBatchSize: optional('LOCAL_FAN_OUT_BATCH_SIZE', positiveIntEnv),
    eventRetentionSeconds: optional('LOCAL_EVENT_RETENTION_SECONDS', positiveIntEnv),
    asyncRetryDelayMs: optional('LOCAL_ASYNC_RETRY_DELAY_MS', intEnv),
    functionLogLevel: optionalEnv('LOCAL_LOG_LEVEL', 'WARN', env),
    // Anything but "true" leaves metrics off, as it always has: a typo cannot fail the start.
    functionMetrics: env.LOCAL_METRICS === 'true',
    reset: booleanEnv('LOCAL_RESET', false, env),
    dynamoDbJavaOptions: optionalEnv('LOCAL_DYNAMODB_JAVA_OPTIONS', FAST_START_JAVA_OPTIONS, env),
    log: (message) => console.log(`[local] ${message}`),
  };
  const dynamoDbPath = optionalEnv('LOCAL_DYNAMODB_PATH', DEFAULT_DYNAMODB_PATH, env);
  if (dynamoDbPath !== IN_MEMORY) options.dynamoDbPath = path.resolve(dynamoDbPath);
  const cacheDir = optionalEnv('LOCAL_CACHE_DIR', DEFAULT_CACHE_DIR, env);
  if (cacheDir !== NO_CACHE) options.cacheDir = path.resolve(cacheDir);
  if (options.dynamoDbJavaOptions === JVM_DEFAULTS) options.dynamoDbJavaOptions = '';
  return options;
}

/** `npm start -- <flags>`: what each flag does, for the usage message. */
const FLAGS: Readonly<Record<string, string>> = {
  '--reset': 'start with empty tables (deletes the local DynamoDB data; LOCAL_RESET=true)',
  '--no-cache': 'synthesize and bundle even if nothing changed (LOCAL_CACHE_DIR=off)',
};

/** A command-line flag `npm start` does not know: the message lists the ones it does. */
export class UsageError extends Error {
  constructor(flag: string) {
    super(
      `Unknown option ${flag}. Usage: npm start [-- <option>…]\n` +
        Object.entries(FLAGS)
          .map(([name, what]) => `  ${name.padEnd(11)} ${what}`)
          .join('\n'),
    );
    this.name = 'UsageError';
  }
}

/** The environment's options with `npm start -- --reset` / `--no-cache` applied on top. */
export function optionsFromCommandLine(args: readonly string[], env: Env = process.env): LocalStackOptions {
  const options = optionsFromEnv(env);
  for (const arg of args) {
    if (arg === '--reset') options.reset = true;
    else if (arg === '--no-cache') delete options.cacheDir;
    else throw new UsageError(arg);
  }
  return options;
}
