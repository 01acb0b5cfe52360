import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { BUNDLING_STACKS } from 'aws-cdk-lib/cx-api';
import { buildApp, stackName, type RealtimeCommentsStacks } from '../../lib/app';
import { resolveStageConfig, type StageConfig, type StageName } from '../../lib/config/stage-config';
import { REPO_ROOT } from '../../lib/constructs/handler-function';

/**
 * cdk.json's context (feature flags among it). `new App()` outside the CLI does not read cdk.json, so
 * without this the tests would synthesize with different flags than `cdk synth`.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return cdkJson.context ?? {};
}

export interface SynthesizedStage {
  readonly app: App;
  readonly stacks: RealtimeCommentsStacks;
  readonly templates: {
    readonly data: Template;
    readonly realtime: Template;
    readonly commentsApi: Template;
    readonly operations: Template;
  };
}

/** The app's stacks, by the last part of their name (`RealtimeComments-{stage}-{part}`). */
export type StackPart = 'Data' | 'Realtime' | 'CommentsApi' | 'Operations';

const built = new Map<string, SynthesizedStage>();

/**
 * Builds the app for a stage config the way bin/app.ts does (same buildApp, cdk-nag included, same context,
 * no env pinned) and synthesizes it, so every template a test reads has passed cdk-nag. Not cached: for
 * configs that no stage has (anonymous subscribers, an OIDC issuer).
 */
export function synthConfig(
  config: StageConfig,
  bundle: readonly StackPart[] | 'all' = [],
): SynthesizedStage {
  const bundlingStacks = bundle === 'all' ? ['**'] : bundle.map((part) => stackName(config, part));
  const app = new App({
    context: { ...cdkJsonContext(), stage: config.stageName, [BUNDLING_STACKS]: bundlingStacks },
  });
  const stacks = buildApp(app, config);
  return {
    app,
    stacks,
    templates: {
      data: Template.fromStack(stacks.data),
      realtime: Template.fromStack(stacks.realtime),
      commentsApi: Template.fromStack(stacks.commentsApi),
      operations: Template.fromStack(stacks.operations),
    },
  };
}

/**
 * Builds the app for a stage the way bin/app.ts does (same buildApp, cdk-nag included, same context, no
 * env pinned) and synthesizes it, once per stage per test file.
 *
 * esbuild runs for the functions of the `bundle` stacks only (the `aws:cdk:bundling-stacks` context the
 * CLI sets when only some stacks are selected): each stack test bundles the stack it asserts on and
 * nothing else, which keeps the suite fast on two cores. The other stacks get CDK's placeholder assets,
 * which change nothing in their templates but the (masked) asset hash. test/bin bundles everything, as
 * `cdk synth` does.
 */
export function synthStage(stage: StageName, bundle: readonly StackPart[] | 'all' = 'all'): SynthesizedStage {
  const key = `${stage}:${bundle === 'all' ? 'all' : bundle.join(',')}`;
  const cached = built.get(key);
  if (cached) return cached;
  const synthesized = synthConfig(resolveStageConfig(stage), bundle);
  built.set(key, synthesized);
  return synthesized;
}

export type TemplateJson = {
  Resources: Record<
    string,
    { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
  >;
  Outputs?: Record<string, { Value: unknown }>;
};

export const templateJson = (template: Template): TemplateJson => template.toJSON() as TemplateJson;
