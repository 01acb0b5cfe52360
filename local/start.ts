/**
 * `npm start`: the whole system on one machine — DynamoDB Local, the functions from the synthesized CDK
 * app, local API Gateways for the WebSocket, broadcast and comments APIs, and the demo page.
 * Configuration is by environment variable; see the README's "Local stack" section.
 */
import { FunctionLoadError } from './emulators/lambda-runtime';
import { StopSteps } from './launch/stop-steps';
import { startLocalStack } from './local-stack';
import { optionsFromEnv } from './local-stack-options';
import { PortInUseError } from './servers/listening';

// The local stack runs offline on Node 20: no instance-metadata probing, no SDK nag about Node 22.
process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** A stop that hangs (a JVM that will not die) must not keep the terminal: exit anyway after this long. */
const STOP_TIMEOUT_MS = 15_000;

const log = (message: string): void => console.log(`[local] ${message}`);
const stopping = new StopSteps();
let exiting = false;

/**
 * Every way out goes through here, so that nothing the stack started outlives it: DynamoDB Local above all,
 * whose JVM would otherwise keep its port and fail the next `npm start`. A second signal while stopping
 * exits at once (DynamoDB Local's watchdog still takes the JVM down with this process).
 */
function exit(code: number, reason: string): void {
  if (exiting) {
    log(`${reason} again: exiting now`);
    process.exit(code || 1);
  }
  exiting = true;
  log(`${reason}: stopping …`);
  setTimeout(() => {
    log(`stop did not finish within ${STOP_TIMEOUT_MS / 1000} s: exiting anyway`);
    process.exit(code || 1);
  }, STOP_TIMEOUT_MS).unref();
  void stopping.run(log).finally(() => process.exit(code));
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => exit(0, signal));
// After an error nobody caught, the process's state is unknown: stop everything and fail, never carry on.
process.on('uncaughtException', (error) => {
  console.error('[local] uncaught exception:', error);
  exit(1, 'uncaught exception');
});
process.on('unhandledRejection', (reason) => {
  console.error('[local] unhandled rejection:', reason);
  exit(1, 'unhandled rejection');
});

startLocalStack(optionsFromEnv(), stopping).catch((error: Error) => {
  // Stopping mid-start (a signal) makes the start fail: that is the stop's effect, not news.
  if (exiting) return;
  const known = error instanceof PortInUseError || error instanceof FunctionLoadError;
  console.error(known ? `[local] ${error.message}` : error);
  // The failed start has stopped what it had started; exit the way every other failure does.
  exit(1, 'start failed');
});
