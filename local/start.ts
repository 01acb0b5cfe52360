/**
 * `npm start`: the whole system on one machine — DynamoDB Local, the functions from the synthesized CDK
 * app, local API Gateways for the WebSocket, broadcast and comments APIs, and the demo page.
 * Configuration is by environment variable, plus `npm start -- --reset` / `--no-cache`; see the README's
 * "Local stack" section.
 */
import { DataDirInUseError } from './emulators/dynamodb-data';
import { StoredTableMismatchError } from './emulators/dynamodb-local';
import { FunctionLoadError } from './emulators/lambda-runtime';
import { findOutput } from './launch/outputs-file';
import { quickCommands } from './launch/quick-commands';
import { StopSteps } from './launch/stop-steps';
import { startLocalStack } from './local-stack';
import { DEFAULT_OUTPUTS_FILE, optionsFromCommandLine, UsageError } from './local-stack-options';
import { PortInUseError } from './servers/listening';

/** The times the start reports count from here: the process's start, loading this code included. */
const processStartedAt = Date.now() - process.uptime() * 1000;

// The local stack runs offline on Node 20: no instance-metadata probing, no SDK nag about Node 22.
process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** A stop that hangs (a JVM that will not die) must not keep the terminal: exit anyway after this long. */
const STOP_TIMEOUT_MS = 15_000;

const log = (message: string): void => console.log(`[local] ${message}`);
const stopping = new StopSteps();
let exiting = false;

/**
 * A Ctrl-C reaches this process twice, from the terminal and forwarded by npm: the same signal again within
 * this long is that one delivery, not a second Ctrl-C.
 */
const REPEATED_DELIVERY_MS = 1_000;
let stopStartedAt = 0;

/**
 * Every way out goes through here, so that nothing the stack started outlives it: DynamoDB Local above all,
 * whose JVM would otherwise keep its port and fail the next `npm start`. A second signal while stopping
 * exits at once (DynamoDB Local's watchdog still takes the JVM down with this process).
 */
function exit(code: number, reason: string): void {
  if (exiting) {
    if (Date.now() - stopStartedAt < REPEATED_DELIVERY_MS && reason.startsWith('SIG')) return;
    log(`${reason} again: exiting now`);
    process.exit(code || 1);
  }
  exiting = true;
  stopStartedAt = Date.now();
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

/** Failures whose message says what to do: printed without a stack trace. */
const KNOWN_FAILURES = [
  PortInUseError,
  FunctionLoadError,
  StoredTableMismatchError,
  DataDirInUseError,
  UsageError,
];

async function main(): Promise<void> {
  const options = optionsFromCommandLine(process.argv.slice(2));
  log(`code loaded in ${process.uptime().toFixed(1)} s`);
  const stack = await startLocalStack({ ...options, startedAt: processStartedAt }, stopping);
  const appUrl = (findOutput(stack.outputs, 'DemoPageUrl') ?? '').replace(/\/$/, '');
  const webSocketUrl = findOutput(stack.outputs, 'WebSocketUrl');
  if (appUrl && webSocketUrl) {
    const commands = { appUrl, webSocketUrl, outputsFile: options.outputsFile };
    console.log(`\n${quickCommands({ ...commands, defaultOutputsFile: DEFAULT_OUTPUTS_FILE })}\n`);
  }
}

main().catch((error: Error) => {
  // Stopping mid-start (a signal) makes the start fail: that is the stop's effect, not news.
  if (exiting) return;
  const known = KNOWN_FAILURES.some((type) => error instanceof type);
  console.error(known ? `[local] ${error.message}` : error);
  // The failed start has stopped what it had started; exit the way every other failure does.
  exit(1, 'start failed');
});
