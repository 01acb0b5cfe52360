import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../lib/app';
import { resolveStageConfig } from '../../lib/config/stage-config';
import type { StackTemplate } from './template';

const CDK_JSON = path.resolve(__dirname, '..', '..', 'cdk.json');

/**
 * Synthesizes the CDK app for the stage in this process, bundling every function, exactly as `cdk synth`
 * does: the local stack runs what these templates say, so it never drifts from a deployment.
 */
export function synthesize(stage: string, assemblyDir: string): StackTemplate[] {
  const cdkJson = JSON.parse(readFileSync(CDK_JSON, 'utf8')) as { context?: Record<string, unknown> };
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
