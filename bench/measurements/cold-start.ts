import { execFile } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { EnvNames } from '../../contracts/env-names';
import { median, round } from '../stats';

const run = promisify(execFile);

/** One function's bundle and how long a fresh Node process takes to load it (module initialisation). */
export interface ColdStartRow {
  /** The source entry (e.g. lambda/broadcast/handler.ts), or the logical id when not recorded. */
  function: string;
  bundleBytes: number;
  /** Median time to `require` the bundle: the module scope (SDK clients, env reads) of a cold start. */
  initMs: number | null;
  /** Median time from spawning `node` to its exit after the require: what Lambda's init adds on top. */
  processMs: number | null;
  runs: number;
  /** Why the bundle could not be loaded (then the times are null): its initialisation threw. */
  error?: string;
}

interface FunctionResource {
  Type?: string;
  Properties?: { Handler?: string; Environment?: { Variables?: Record<string, unknown> } };
  Metadata?: Record<string, unknown>;
}

/** One bundled function of the assembly: where its bundle is and the environment it is given. */
export interface AssemblyFunction {
  name: string;
  bundle: string;
  environment: Record<string, string>;
}

/**
 * A stand-in for an environment value the template computes (a table name, an API URL): initialisation
 * only reads and checks these, it calls nothing. Literal values (numbers, flags) are kept as they are.
 */
function placeholder(variable: string): string {
  if (/URL|ENDPOINT|ISSUER/.test(variable)) return 'http://127.0.0.1:9/dev';
  return `bench-${variable.toLowerCase()}`;
}

/** Set only by the local stack: on AWS they are absent, so a cold start measured as on AWS leaves them out. */
const LOCAL_ONLY: ReadonlySet<string> = new Set([EnvNames.dynamodbEndpoint, EnvNames.lambdaEndpoint]);

/**
 * Every name-like variable a function may require, as a stand-in, under the template's own values: a
 * variable Lambda itself injects outside the template (the function's name) must not fail initialisation.
 * Numeric settings and flags need no stand-in: the template sets every one of them.
 */
function placeholderEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of Object.values(EnvNames)) {
    if (LOCAL_ONLY.has(name)) continue;
    if (/(URL|ENDPOINT|ISSUER|AUDIENCE|NAME)$/.test(name) || name === EnvNames.stage)
      env[name] = placeholder(name);
  }
  return env;
}

/** The functions of a synthesized cloud assembly, read from its manifest and templates as `cdk` does. */
export function readAssemblyFunctions(assemblyDir: string): AssemblyFunction[] {
  const manifest = JSON.parse(readFileSync(path.join(assemblyDir, 'manifest.json'), 'utf8')) as {
    artifacts?: Record<string, { type?: string; properties?: { templateFile?: string } }>;
  };
  const functions: AssemblyFunction[] = [];
  for (const artifact of Object.values(manifest.artifacts ?? {})) {
    const templateFile = artifact.properties?.templateFile;
    if (artifact.type !== 'aws:cloudformation:stack' || !templateFile) continue;
    const template = JSON.parse(readFileSync(path.join(assemblyDir, templateFile), 'utf8')) as {
      Resources?: Record<string, FunctionResource>;
    };
    for (const [logicalId, resource] of Object.entries(template.Resources ?? {})) {
      const assetPath = resource.Metadata?.['aws:asset:path'];
      if (resource.Type !== 'AWS::Lambda::Function' || typeof assetPath !== 'string') continue;
      const handler = resource.Properties?.Handler ?? 'index.handler';
      const environment: Record<string, string> = placeholderEnvironment();
      for (const [name, value] of Object.entries(resource.Properties?.Environment?.Variables ?? {})) {
        environment[name] = typeof value === 'string' ? value : placeholder(name);
      }
      const entry = resource.Metadata?.['realtime-comments:entry'];
      functions.push({
        name: typeof entry === 'string' ? entry : logicalId,
        bundle: path.join(assemblyDir, assetPath, `${handler.slice(0, handler.lastIndexOf('.'))}.js`),
        environment,
      });
    }
  }
  return functions;
}

// Runs in the fresh process: times the require of the bundle, then exits at once (an SDK client or a
// Powertools timer must not keep it alive).
const PROBE = [
  "const { performance } = require('node:perf_hooks');",
  'const started = performance.now();',
  'require(process.argv[1]);',
  'process.stdout.write(JSON.stringify({ initMs: performance.now() - started }));',
  'process.exit(0);',
].join('\n');

/**
 * Bundle size and module initialisation time of each function of the assembly, each in a fresh `node`
 * process with the function's own environment from the template (computed values replaced by
 * placeholders: nothing is called during initialisation). The bundles leave the AWS SDK out, as Lambda's
 * Node.js runtime provides it, so loading it from node_modules is part of the measured time.
 */
export async function measureColdStarts(
  assemblyDir: string,
  runs: number,
  log: (line: string) => void,
): Promise<ColdStartRow[]> {
  const functions = readAssemblyFunctions(assemblyDir);
  if (functions.length === 0) throw new Error(`${assemblyDir} holds no bundled function`);
  const rows: ColdStartRow[] = [];
  for (const { name, bundle, environment } of functions) {
    log(`cold start: ${name} (${runs} fresh processes)`);
    const env = {
      PATH: process.env.PATH ?? '',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'bench',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_LAMBDA_FUNCTION_NAME: path.basename(name, '.ts'),
      ...environment,
    };
    const initTimes: number[] = [];
    const processTimes: number[] = [];
    let error: string | undefined;
    for (let i = 0; i < runs && error === undefined; i += 1) {
      const started = performance.now();
      try {
        const { stdout } = await run(process.execPath, ['-e', PROBE, bundle], { env, timeout: 30_000 });
        processTimes.push(performance.now() - started);
        initTimes.push((JSON.parse(stdout) as { initMs: number }).initMs);
      } catch (failure) {
        // One function that cannot initialise here must not cost the run its other measurements.
        const stderr = String((failure as { stderr?: string }).stderr ?? '');
        error = /^\w*Error: .*$/m.exec(stderr)?.[0] ?? (failure as Error).message.split('\n')[0];
        log(`cold start: ${name} failed to initialise: ${error}`);
      }
    }
    rows.push({
      function: name,
      bundleBytes: statSync(bundle).size,
      initMs: error ? null : round(median(initTimes)),
      processMs: error ? null : round(median(processTimes)),
      runs,
      ...(error ? { error } : {}),
    });
  }
  return rows;
}
