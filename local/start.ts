/**
 * `npm start`: the whole system on one machine — DynamoDB Local, the functions from the synthesized CDK
 * app, local API Gateways for the WebSocket, broadcast and comments APIs, and the demo page.
 * Configuration is by environment variable; see the README's "Local stack" section.
 */
import { startLocalStack } from './local-stack';
import { optionsFromEnv } from './local-stack-options';
import { PortInUseError } from './servers/listening';

// The local stack runs offline on Node 20: no instance-metadata probing, no SDK nag about Node 22.
process.env.AWS_EC2_METADATA_DISABLED ??= 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(): Promise<void> {
  const stack = await startLocalStack(optionsFromEnv());
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    console.log(`[local] ${signal}: stopping …`);
    stack
      .stop()
      .then(() => process.exit(0))
      .catch((error: Error) => {
        console.error(`[local] stop failed: ${error.message}`);
        process.exit(1);
      });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: Error) => {
  console.error(error instanceof PortInUseError ? `[local] ${error.message}` : error);
  process.exit(1);
});
