import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import type { StackTemplate, Template } from './template';

/**
 * Everything the synthesized cloud assembly is made from, relative to the repository root: the CDK app
 * (lib/), every function's sources and what they import (lambda/, contracts/, signing/), the installed
 * packages the bundles and the CDK come from (the lockfiles: npm rewrites node_modules/.package-lock.json
 * on every install), esbuild's and the CDK's settings, and the synthesis itself. A test checks that every
 * relative import of these sources stays inside them, so a new folder cannot be left out unnoticed.
 */
export const ASSEMBLY_INPUTS: readonly string[] = [
  'lib',
  'lambda',
  'contracts',
  'signing',
  'package.json',
  'package-lock.json',
  'node_modules/.package-lock.json',
  'cdk.json',
  'tsconfig.json',
  'local/cloudformation/synthesize.ts',
];

/** Bumped when what is stored changes shape, so entries of an older layout are never read. */
const CACHE_FORMAT = 'local-synth/1';
/** Written last into an assembly: its presence means the assembly is complete and says what it was built from. */
export const STAMP_FILE = 'local-synth.json';
/** Entries kept in the cache: the newest used ones (a checkout switched back and forth hits them). */
const KEEP_ENTRIES = 6;
/** A half-written entry older than this belongs to a start that died mid-synthesis. */
const ABANDONED_MS = 60 * 60_000;

interface Stamp {
  format: string;
  key: string;
  stage: string;
  stacks: { stackName: string; templateFile: string }[];
}

/**
 * The content hash of the assembly's inputs for a stage: file paths and contents, in a stable order. Any
 * change, addition, removal or rename of an input file gives another key.
 */
export function assemblyKey(
  repoRoot: string,
  stage: string,
  inputs: readonly string[] = ASSEMBLY_INPUTS,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const hash = createHash('sha256');
  // The CDK reads context from this variable too, when a tool sets it.
  hash.update(`${CACHE_FORMAT}\0stage=${stage}\0context=${env.CDK_CONTEXT_JSON ?? ''}\0`);
  for (const input of inputs) {
    const files = filesUnder(path.join(repoRoot, input));
    if (files.length === 0) hash.update(`${input}\0(missing)\0`);
    for (const file of files) {
      hash.update(`${path.relative(repoRoot, file).split(path.sep).join('/')}\0`);
      hash.update(createHash('sha256').update(readFileSync(file)).digest('hex'));
      hash.update('\0');
    }
  }
  return hash.digest('hex');
}

/** Regular files at or under `target`, sorted; none when it does not exist. */
function filesUnder(target: string): string[] {
  let stat;
  try {
    stat = statSync(target);
  } catch {
    return [];
  }
  if (stat.isFile()) return [target];
  if (!stat.isDirectory()) return [];
  const files: string[] = [];
  const entries = readdirSync(target, { withFileTypes: true }).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  for (const entry of entries) files.push(...filesUnder(path.join(target, entry.name)));
  return files;
}

export interface CachedSynthesisOptions {
  stage: string;
  /** Where the assembly must end up (LOCAL_ASSEMBLY_DIR): the functions run their bundles from there. */
  assemblyDir: string;
  /** Holds one complete assembly per key under `assemblies/`; undefined to always synthesize. */
  cacheDir: string | undefined;
  repoRoot: string;
  inputs?: readonly string[];
  /** Synthesizes into `outDir`, e.g. {@link synthesize}. */
  synthesize: (stage: string, outDir: string) => Promise<StackTemplate[]>;
  log: (message: string) => void;
}

export interface CachedSynthesis {
  stacks: StackTemplate[];
  /** The inputs' hash; undefined with the cache off, which never needs it. */
  key?: string;
  /** `assembly`: the assembly directory already held it; `cache`: copied from the cache; else synthesized. */
  source: 'assembly' | 'cache' | 'synthesized';
}

/**
 * The synthesized stacks for the stage, synthesized only when their inputs changed since they were last
 * synthesized: the assembly is kept in the cache under the hash of its inputs, and an assembly directory
 * that already holds that key is used as it is. Sources edited while a synthesis runs leave nothing in the
 * cache (the key is taken again afterwards), so a stored assembly is always the one its key describes.
 */
export async function synthesizeCached(options: CachedSynthesisOptions): Promise<CachedSynthesis> {
  const { stage, assemblyDir, cacheDir, repoRoot } = options;
  const inputs = options.inputs ?? ASSEMBLY_INPUTS;
  if (!cacheDir) {
    removeStamp(assemblyDir);
    const stacks = await options.synthesize(stage, assemblyDir);
    return { stacks, source: 'synthesized' };
  }
  const key = assemblyKey(repoRoot, stage, inputs);

  const inPlace = readStamp(assemblyDir);
  if (inPlace?.key === key) {
    touch(path.join(cacheDir, 'assemblies', key));
    return { stacks: stacksOf(assemblyDir, inPlace), key, source: 'assembly' };
  }
  const entry = path.join(cacheDir, 'assemblies', key);
  if (readStamp(entry)?.key === key) {
    touch(entry);
    return { stacks: materialize(entry, assemblyDir), key, source: 'cache' };
  }

  mkdirSync(path.dirname(entry), { recursive: true });
  const staging = `${entry}.partial-${process.pid}-${Date.now()}`;
  // A start stopped mid-synthesis exits without unwinding this function: the half-written entry goes too.
  const removeStaging = (): void => rmSync(staging, { recursive: true, force: true });
  process.once('exit', removeStaging);
  try {
    const synthesized = await options.synthesize(stage, staging);
    const stamp: Stamp = {
      format: CACHE_FORMAT,
      key,
      stage,
      stacks: synthesized.map((stack) => ({
        stackName: stack.stackName,
        templateFile: templateFileOf(staging, stack.stackName),
      })),
    };
    if (assemblyKey(repoRoot, stage, inputs) !== key) {
      options.log('sources changed during the synthesis: its result is used once, not cached');
      copyAssembly(staging, assemblyDir);
      return { stacks: stacksOf(assemblyDir, stamp), key, source: 'synthesized' };
    }
    writeFileSync(path.join(staging, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
    try {
      renameSync(staging, entry);
    } catch {
      // Another start stored the same key first: same inputs, same assembly; keep theirs.
      if (readStamp(entry)?.key !== key)
        throw new Error(`Could not store the synthesized assembly in ${entry}`);
    }
    prune(path.dirname(entry), key);
    return { stacks: materialize(entry, assemblyDir), key, source: 'synthesized' };
  } finally {
    process.off('exit', removeStaging);
    removeStaging();
  }
}

function readStamp(dir: string): Stamp | undefined {
  try {
    const stamp = JSON.parse(readFileSync(path.join(dir, STAMP_FILE), 'utf8')) as Stamp;
    if (stamp.format !== CACHE_FORMAT) return undefined;
    return stamp.stacks.every((stack) => existsSync(path.join(dir, stack.templateFile))) ? stamp : undefined;
  } catch {
    return undefined;
  }
}

function removeStamp(dir: string): void {
  rmSync(path.join(dir, STAMP_FILE), { force: true });
}

function stacksOf(assemblyDir: string, stamp: Stamp): StackTemplate[] {
  return stamp.stacks.map(({ stackName, templateFile }) => ({
    stackName,
    template: JSON.parse(readFileSync(path.join(assemblyDir, templateFile), 'utf8')) as Template,
    assemblyDir,
  }));
}

/** The template file of a stack, from the cloud assembly's manifest. */
function templateFileOf(assemblyDir: string, stackName: string): string {
  const manifest = JSON.parse(readFileSync(path.join(assemblyDir, 'manifest.json'), 'utf8')) as {
    artifacts?: Record<string, { type?: string; properties?: { templateFile?: string; stackName?: string } }>;
  };
  for (const [id, artifact] of Object.entries(manifest.artifacts ?? {})) {
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    if ((artifact.properties?.stackName ?? id) === stackName && artifact.properties?.templateFile) {
      return artifact.properties.templateFile;
    }
  }
  throw new Error(`Stack ${stackName} is not in the manifest of ${assemblyDir}`);
}

/** Copies a cached assembly into the assembly directory; the stamp arrives last, so only a whole copy counts. */
function materialize(entry: string, assemblyDir: string): StackTemplate[] {
  const stamp = readStamp(entry);
  if (!stamp) throw new Error(`The cached assembly in ${entry} is incomplete`);
  copyAssembly(entry, assemblyDir);
  writeFileSync(path.join(assemblyDir, STAMP_FILE), `${JSON.stringify(stamp, null, 2)}\n`);
  return stacksOf(assemblyDir, stamp);
}

/**
 * What a synthesis writes into an assembly directory. Only these are cleared before a copy, so an
 * assembly directory pointed at a folder that holds other things loses nothing else.
 */
const ASSEMBLY_ENTRY =
  /^(asset\.|bundling-temp-|manifest\.json$|tree\.json$|cdk\.out$|.*\.(template|assets|metadata)\.json$)/;

function copyAssembly(from: string, assemblyDir: string): void {
  mkdirSync(assemblyDir, { recursive: true });
  removeStamp(assemblyDir);
  for (const name of readdirSync(assemblyDir)) {
    if (ASSEMBLY_ENTRY.test(name)) rmSync(path.join(assemblyDir, name), { recursive: true, force: true });
  }
  for (const name of readdirSync(from)) {
    if (name === STAMP_FILE) continue;
    cpSync(path.join(from, name), path.join(assemblyDir, name), { recursive: true });
  }
}

function touch(entry: string): void {
  const now = new Date();
  try {
    utimesSync(path.join(entry, STAMP_FILE), now, now);
  } catch {
    // Not in the cache (pruned, or the cache was cleared): nothing to keep fresh.
  }
}

/** Keeps the newest-used entries and drops the rest, with any partial entry a dead start left behind. */
function prune(assembliesDir: string, keep: string): void {
  const entries: { name: string; used: number }[] = [];
  for (const name of readdirSync(assembliesDir)) {
    const dir = path.join(assembliesDir, name);
    if (name.includes('.partial-')) {
      if (Date.now() - statSync(dir).mtimeMs > ABANDONED_MS) rmSync(dir, { recursive: true, force: true });
      continue;
    }
    let used = 0;
    try {
      used = statSync(path.join(dir, STAMP_FILE)).mtimeMs;
    } catch {
      // No stamp: not an entry of ours, or a broken one; the oldest possible.
    }
    entries.push({ name, used });
  }
  entries.sort((a, b) => b.used - a.used);
  for (const { name } of entries.slice(KEEP_ENTRIES)) {
    if (name !== keep) rmSync(path.join(assembliesDir, name), { recursive: true, force: true });
  }
}
