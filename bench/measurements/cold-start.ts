import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { ENTRY_METADATA_KEY } from '../../contracts/cfn-metadata';
import { EnvNames } from '../../contracts/env-names';
import { esbuildOptions, RUNTIME_SDK_EXTERNALS } from '../../lib/constructs/bundling';
import { REPO_ROOT } from '../../local/launch/local-stack-process';
import { median, round } from '../stats';

const run = promisify(execFile);

/** A bundle and how long a fresh Node process takes to load it. */
export interface ColdStartMeasure {
  bundleBytes: number;
  /** Median time to `require` the bundle: the module scope (SDK clients, env reads) of a cold start. */
  initMs: number | null;
  /**
   * Median CPU time (user + system) of that require: the same work, without the time spent waiting for a
   * core, so it holds on a busy machine where the wall time does not. The ratios are taken on it.
   */
  initCpuMs: number | null;
  /** Median time from spawning `node` to its exit after the require: what Lambda's init adds on top. */
  processMs: number | null;
  /** Why the bundle could not be loaded (then the times are null): its initialisation threw. */
  error?: string;
}

/**
 * One function's bundle as deployed, measured beside the same entry bundled the old way (the AWS SDK left
 * to the runtime, loaded from node_modules as Lambda's runtime provides its own) and beside the baseline.
 */
export interface ColdStartRow extends ColdStartMeasure {
  /** The source entry (e.g. lambda/broadcast/handler.ts), or the logical id when not recorded. */
  function: string;
  /** `baseline`: the SDK clients alone, or with Powertools (sdk-*-baseline.ts), bundled as the functions are. */
  kind: 'function' | 'baseline';
  runs: number;
  /** The same entry bundled with the SDK external, measured in the same run; absent for the baseline. */
  sdkExternal?: ColdStartMeasure;
  /** initCpuMs ÷ the SDK-only baseline's: what our code and Powertools add to the SDK's own cost. */
  initVsBaseline?: number | null;
}

/** Each function's module initialisation should stay within this multiple of the SDK baseline's. */
export const INIT_TARGET_VS_BASELINE = 1.5;

/**
 * The baselines, bundled as the functions are: the SDK clients alone (the one the target is measured
 * against), and the same with Powertools as lambda/shared/telemetry.ts builds it. A reader sees the SDK's
 * cost in the first, Powertools' between the two, and our own code's between the second and a function.
 */
export const BASELINES = [
  { name: 'SDK clients only (baseline)', entry: 'bench/measurements/sdk-clients-baseline.ts' },
  { name: 'SDK clients + Powertools (baseline)', entry: 'bench/measurements/sdk-powertools-baseline.ts' },
] as const;

interface FunctionResource {
  Type?: string;
  Properties?: { Handler?: string; Environment?: { Variables?: Record<string, unknown> } };
  Metadata?: Record<string, unknown>;
}

/** One bundled function of the assembly: where its bundle is and the environment it is given. */
export interface AssemblyFunction {
  name: string;
  /** The source entry relative to the repository root, when the template records it. */
  entry?: string;
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
export function readAssemblyFunctions(assemblyDirectory: string): AssemblyFunction[] {
  const assemblyDir = path.resolve(assemblyDirectory);
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
      const entry = resource.Metadata?.[ENTRY_METADATA_KEY];
      functions.push({
        name: typeof entry === 'string' ? entry : logicalId,
        ...(typeof entry === 'string' ? { entry } : {}),
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
  'const cpu = process.cpuUsage();',
  'const started = performance.now();',
  'require(process.argv[1]);',
  'const initMs = performance.now() - started;',
  'const used = process.cpuUsage(cpu);',
  'process.stdout.write(JSON.stringify({ initMs, cpuMs: (used.user + used.system) / 1000 }));',
  'process.exit(0);',
].join('\n');

/** The process environment every measurement gets, beside the function's own. */
function baseEnvironment(name: string): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_LAMBDA_FUNCTION_NAME: path.basename(name, '.ts'),
  };
}

/** A bundle to load, and where its samples go. */
interface Probe {
  readonly label: string;
  readonly bundle: string;
  readonly env: Record<string, string>;
  readonly initTimes: number[];
  readonly cpuTimes: number[];
  readonly processTimes: number[];
  error?: string;
}

const probe = (label: string, bundle: string, env: Record<string, string>): Probe => ({
  label,
  bundle,
  env,
  initTimes: [],
  cpuTimes: [],
  processTimes: [],
});

/** Loads the bundle once in a fresh `node` process and keeps the times, or why it could not be loaded. */
async function sample(target: Probe, log: (line: string) => void): Promise<void> {
  if (target.error !== undefined) return;
  const started = performance.now();
  try {
    const { stdout } = await run(process.execPath, ['-e', PROBE, target.bundle], {
      env: target.env,
      timeout: 30_000,
    });
    target.processTimes.push(performance.now() - started);
    const { initMs, cpuMs } = JSON.parse(stdout) as { initMs: number; cpuMs: number };
    target.initTimes.push(initMs);
    target.cpuTimes.push(cpuMs);
  } catch (failure) {
    // One bundle that cannot initialise here must not cost the run its other measurements.
    const stderr = String((failure as { stderr?: string }).stderr ?? '');
    target.error = /^\w*Error: .*$/m.exec(stderr)?.[0] ?? (failure as Error).message.split('\n')[0];
    log(`cold start: ${target.label} failed to initialise: ${target.error}`);
  }
}

function measured(target: Probe): ColdStartMeasure {
  const { error } = target;
  return {
    bundleBytes: statSync(target.bundle).size,
    initMs: error === undefined ? round(median(target.initTimes)) : null,
    initCpuMs: error === undefined ? round(median(target.cpuTimes)) : null,
    processMs: error === undefined ? round(median(target.processTimes)) : null,
    ...(error === undefined ? {} : { error }),
  };
}

/** Bundles an entry with the functions' esbuild settings, leaving `external` out. */
async function bundleEntry(entry: string, outfile: string, external: readonly string[]): Promise<string> {
  await build({ ...esbuildOptions(external), entryPoints: [entry], outfile, absWorkingDir: REPO_ROOT });
  return outfile;
}

/**
 * Bundle size and module initialisation time of each function of the assembly, each in a fresh `node`
 * process with the function's own environment from the template (computed values replaced by
 * placeholders: nothing is called during initialisation), three ways in the same run:
 * - as deployed (the assembly's bundle, the AWS SDK inside it);
 * - the same entry bundled the old way, the SDK external and loaded through NODE_PATH from the project's
 *   node_modules, as Lambda's runtime offers its own SDK;
 * - the baseline, a function that only builds the same SDK clients, bundled as deployed.
 * Runs go round-robin over every bundle, so that load that comes and goes on the machine weighs on all of
 * them alike, and the ratios between them hold even when the absolute times do not.
 */
export async function measureColdStarts(
  assemblyDir: string,
  runs: number,
  log: (line: string) => void,
): Promise<ColdStartRow[]> {
  const functions = readAssemblyFunctions(assemblyDir);
  if (functions.length === 0) throw new Error(`${assemblyDir} holds no bundled function`);
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'cold-start-'));
  try {
    const baselines = await Promise.all(
      BASELINES.map(async ({ name, entry }, index) => {
        const bundle = path.join(workDir, `baseline-${index}`, 'index.js');
        await bundleEntry(path.join(REPO_ROOT, entry), bundle, []);
        return probe(name, bundle, baseEnvironment(`baseline-${index}`));
      }),
    );
    const targets = await Promise.all(
      functions.map(async ({ name, entry, bundle, environment }, index) => {
        const env = { ...baseEnvironment(name), ...environment };
        if (!entry) return { name, deployed: probe(name, bundle, env) };
        const external = await bundleEntry(
          path.join(REPO_ROOT, entry),
          path.join(workDir, `external-${index}`, 'index.js'),
          RUNTIME_SDK_EXTERNALS,
        );
        // Outside the repository, so the SDK is found only where the runtime would offer it.
        const runtimeEnv = { ...env, NODE_PATH: path.join(REPO_ROOT, 'node_modules') };
        return {
          name,
          deployed: probe(name, bundle, env),
          sdkExternal: probe(`${name} (SDK external)`, external, runtimeEnv),
        };
      }),
    );
    const all = [
      ...baselines,
      ...targets.flatMap((t) => (t.sdkExternal ? [t.deployed, t.sdkExternal] : [t.deployed])),
    ];
    for (let i = 0; i < runs; i += 1) {
      log(`cold start: round ${i + 1} of ${runs} (${all.length} bundles, each in a fresh process)`);
      for (const target of all) await sample(target, log);
    }
    const baseRows = baselines.map((baseline) => ({ label: baseline.label, ...measured(baseline) }));
    const base = baseRows[0]?.initCpuMs ?? null;
    const rows: ColdStartRow[] = targets.map(({ name, deployed, sdkExternal }) => {
      const row = measured(deployed);
      return {
        function: name,
        kind: 'function',
        runs,
        ...row,
        ...(sdkExternal ? { sdkExternal: measured(sdkExternal) } : {}),
        initVsBaseline: ratio(row.initCpuMs, base),
      };
    });
    for (const { label, ...row } of baseRows) {
      rows.push({
        function: label,
        kind: 'baseline',
        runs,
        ...row,
        initVsBaseline: ratio(row.initCpuMs, base),
      });
    }
    return rows;
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

function ratio(value: number | null, base: number | null): number | null {
  return value === null || base === null || base === 0 ? null : round(value / base, 2);
}
