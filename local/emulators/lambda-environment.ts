import { EnvNames } from '../../contracts/env-names';
import { LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY } from '../auth/credentials';
import type { LocalFunction } from '../cloudformation/local-model';

export interface LambdaEnvironmentOptions {
  region: string;
  dynamoDbEndpoint: string;
  /** Where the functions' LambdaClient sends Invoke calls: the local Invoke API. */
  lambdaEndpoint: string;
  /** POWERTOOLS_LOG_LEVEL. */
  logLevel: string;
  /** Whether Powertools Metrics writes its EMF lines. */
  metrics: boolean;
}

/**
 * What Lambda's environment provides every function, plus the local endpoints; each function's own
 * variables from its template go on top.
 */
export function lambdaBaseEnvironment(options: LambdaEnvironmentOptions): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'development',
    TZ: 'UTC',
    [EnvNames.region]: options.region,
    AWS_DEFAULT_REGION: options.region,
    AWS_ACCESS_KEY_ID: LOCAL_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: LOCAL_SECRET_ACCESS_KEY,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    [EnvNames.dynamodbEndpoint]: options.dynamoDbEndpoint,
    // The broadcast queues fan-out batches through the Invoke API; the gateway port emulates it.
    [EnvNames.lambdaEndpoint]: options.lambdaEndpoint,
    POWERTOOLS_LOG_LEVEL: options.logLevel,
    POWERTOOLS_METRICS_DISABLED: options.metrics ? 'false' : 'true',
    // No X-Ray daemon here: the Tracer stays off, as it would outside Lambda anyway.
    POWERTOOLS_TRACE_ENABLED: 'false',
  };
}

/**
 * Sets FAN_OUT_BATCH_SIZE in every function whose template sets it (LOCAL_FAN_OUT_BATCH_SIZE), so a test or
 * the benchmark can send even a small audience through the fan-out workers.
 */
export function overrideFanOutBatchSize(
  functions: Iterable<LocalFunction>,
  batchSize: number,
  log: (message: string) => void,
): void {
  for (const fn of functions) {
    if (fn.environment[EnvNames.fanOutBatchSize] === undefined) continue;
    fn.environment[EnvNames.fanOutBatchSize] = String(batchSize);
    log(`${fn.key}: ${EnvNames.fanOutBatchSize}=${batchSize} (LOCAL_FAN_OUT_BATCH_SIZE)`);
  }
}
