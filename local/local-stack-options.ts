import * as path from 'node:path';
import { intEnv, optionalEnv, positiveIntEnv, type Env } from '../contracts/env-reader';
import { DEFAULT_KEYS_FILE } from './auth/local-issuer';
import { faultsFromEnv, type FaultSettings } from './devtools/faults';

const REPO_ROOT = path.resolve(__dirname, '..');

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
  /** POWERTOOLS_LOG_LEVEL of every function: quiet by default, so the stack's own log stays readable. */
  functionLogLevel: string;
  /** Whether the functions write their EMF metrics to the log (off by default: nothing collects them). */
  functionMetrics: boolean;
  log: (message: string) => void;
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
    outputsFile: pathOf('LOCAL_OUTPUTS_FILE', path.join(REPO_ROOT, 'local-outputs.json')),
    host: optionalEnv('LOCAL_HOST', 'localhost', env),
    faults: faultsFromEnv(env),
    assemblyDir: pathOf('LOCAL_ASSEMBLY_DIR', path.join(REPO_ROOT, 'cdk.out.local')),
    issuerKeysFile: pathOf('LOCAL_ISSUER_KEYS_FILE', DEFAULT_KEYS_FILE),
    idleTimeoutMs: optional('LOCAL_IDLE_TIMEOUT_MS', intEnv),
    maxConnectionMs: optional('LOCAL_MAX_CONNECTION_MS', intEnv),
    fanOutBatchSize: optional('LOCAL_FAN_OUT_BATCH_SIZE', positiveIntEnv),
    asyncRetryDelayMs: optional('LOCAL_ASYNC_RETRY_DELAY_MS', intEnv),
    functionLogLevel: optionalEnv('LOCAL_LOG_LEVEL', 'WARN', env),
    // Anything but "true" leaves metrics off, as it always has: a typo cannot fail the start.
    functionMetrics: env.LOCAL_METRICS === 'true',
    log: (message) => console.log(`[local] ${message}`),
  };
  const dynamoDbPath = optionalEnv('LOCAL_DYNAMODB_PATH', '', env);
  if (dynamoDbPath) options.dynamoDbPath = path.resolve(dynamoDbPath);
  return options;
}
