import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import {
  REPO_ROOT,
  startLocalStackProcess,
  type LocalStackProcess,
} from '../../local/launch/local-stack-process';

declare global {
  var __LOCAL_STACK__: LocalStackProcess | undefined;
}

/**
 * Starts the local stack for the e2e project, on ports of its own so a developer's `npm start` can keep
 * running, and points the tests at its outputs file. With E2E_OUTPUTS_FILE set (the outputs of
 * `cdk deploy --outputs-file`), nothing is started and the suite runs against that deployed stage.
 */
export default async function globalSetup(): Promise<void> {
  if (process.env.E2E_OUTPUTS_FILE) return;
  const workDir = path.join(REPO_ROOT, '.local', 'e2e');
  mkdirSync(workDir, { recursive: true });
  const env = {
    LOCAL_APP_PORT: process.env.E2E_APP_PORT ?? '13000',
    LOCAL_GATEWAY_PORT: process.env.E2E_GATEWAY_PORT ?? '13001',
    LOCAL_DYNAMODB_PORT: process.env.E2E_DYNAMODB_PORT ?? '18000',
    LOCAL_OUTPUTS_FILE: path.join(workDir, 'outputs.json'),
    LOCAL_ASSEMBLY_DIR: path.join(workDir, 'cdk.out'),
    LOCAL_ISSUER_KEYS_FILE: path.join(workDir, 'issuer-keys.json'),
    // Every run starts from empty tables (and never touches the data `npm start` keeps).
    LOCAL_DYNAMODB_PATH: 'memory',
  };
  globalThis.__LOCAL_STACK__ = await startLocalStackProcess(env);
  process.env.E2E_LOCAL_OUTPUTS_FILE = env.LOCAL_OUTPUTS_FILE;
  // The bench smoke test measures cold starts of the bundles built here.
  process.env.E2E_LOCAL_ASSEMBLY_DIR = env.LOCAL_ASSEMBLY_DIR;
  process.env.E2E_ISSUER_KEYS_FILE = env.LOCAL_ISSUER_KEYS_FILE;
}
