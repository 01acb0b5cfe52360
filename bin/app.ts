#!/usr/bin/env node
import { App, type Environment } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';
import { resolveStageConfig } from '../lib/config/stage-config';

const app = new App();
// The only place the stage is read: `cdk synth -c stage=prod`, dev when not given.
const stageConfig = resolveStageConfig(app.node.tryGetContext('stage') ?? undefined);

// Pin account/region only when the CLI knows them, so synth stays possible offline and without credentials.
const { CDK_DEFAULT_ACCOUNT: account, CDK_DEFAULT_REGION: region } = process.env;
const env: Environment | undefined = account || region ? { account, region } : undefined;

// cdk-nag runs over every stack (buildApp's default): an unacknowledged finding fails the synth.
buildApp(app, stageConfig, { env, nag: true });
