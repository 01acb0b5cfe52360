import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { StackTemplate } from './template';

/** Seconds since `since` (ms since the epoch), as the start's progress lines print them: "1.2 s". */
export const secondsSince = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

const CDK_JSON = path.resolve(__dirname, '..', '..', 'cdk.json');

/**
 * Synthesizes the CDK app for the stage in this process, bundling every function, exactly as `cdk synth`
 * does: the local stack runs what these templates say, so it never drifts from a deployment. The CDK and
 * the app are loaded here, on first use, so that a start served from the assembly cache never loads them.
 */
export async function synthesize(
  stage: string,
  assemblyDir: string,
  log: (message: string) => void = () => undefined,
): Promise<StackTemplate[]> {
  let since = Date.now();
  const { App } = await import('aws-cdk-lib');
  const { NodejsFunction } = await import('aws-cdk-lib/aws-lambda-nodejs');
  // Dynamic imports resolve as ECMAScript modules, which name the file: tsx maps `.js` to the `.ts` source.
  const { buildApp } = await import('../../lib/app.js');
  const { resolveStageConfig } = await import('../../lib/config/stage-config.js');
  log(`synthesis: CDK and app loaded in ${secondsSince(since)}`);

  const cdkJson = JSON.parse(readFileSync(CDK_JSON, 'utf8')) as { context?: Record<string, unknown> };
  // Asset metadata (aws:asset:path) is what the CLI turns on; it tells where each function's bundle is.
  const app = new App({
    outdir: assemblyDir,
    context: { ...cdkJson.context, stage, 'aws:cdk:enable-asset-metadata': true },
  });
  since = Date.now();
  // cdk-nag runs in the tests and in `cdk synth`; the local stack only needs the templates. Each
  // NodejsFunction runs esbuild as it is constructed, so this is where the bundling time goes.
  buildApp(app, resolveStageConfig(stage), { nag: false });
  const functions = app.node.findAll().filter((construct) => construct instanceof NodejsFunction).length;
  log(`bundling: ${functions} functions (esbuild) and the constructs in ${secondsSince(since)}`);
  since = Date.now();
  const assembly = app.synth();
  log(`synthesis: ${assembly.stacks.length} templates written in ${secondsSince(since)}`);
  return assembly.stacks.map((stack) => ({
    stackName: stack.stackName,
    template: stack.template,
    assemblyDir: assembly.directory,
  }));
}
