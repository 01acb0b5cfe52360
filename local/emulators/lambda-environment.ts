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
 * Sets one of the stage's settings in every function whose template sets it, from a LOCAL_* variable: e.g.
 * LOCAL_FAN_OUT_BATCH_SIZE sends even a small audience through the fan-out workers, and
 * LOCAL_EVENT_RETENTION_SECONDS lets a test outlive the event log in seconds rather than a day.
 */
export function overrideStageSetting(
  functions: Iterable<LocalFunction>,
  name: string,
  value: number,
  source: string,
  log: (message: string) => void,
): void {
  for (const fn of functions) {
    if (fn.environment[name] === undefined) continue;
    fn.environment[name] = String(value);
    log(`${fn.key}: ${name}=${value} (${source})`);
  }
}
