import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildSync } from 'esbuild';

/**
 * The package's JavaScript: client/index.ts and the contracts it imports, bundled into one ES module with
 * no imports left, for browsers and Node alike (platform neutral: no Node built-ins, no globals assumed
 * beyond what the sources check for). The local stack's demo page is bundled against this output too
 * (local/devtools/static-files.ts), so the page runs what users install.
 */
export const CLIENT_DIR = path.resolve(__dirname, '..');
export const CLIENT_DIST_DIR = path.join(CLIENT_DIR, 'dist');
/** The `exports` entry of client/package.json. */
export const CLIENT_DIST_ENTRY = path.join(CLIENT_DIST_DIR, 'index.mjs');
export const CLIENT_DIST_TYPES = path.join(CLIENT_DIST_DIR, 'index.d.mts');

/** The global that client/build-info.ts reads; replaced at build time, absent from the sources. */
const VERSION_GLOBAL = '__REALTIME_COMMENTS_CLIENT_VERSION__';

export interface ClientPackageInfo {
  readonly name: string;
  readonly version: string;
}

export function clientPackageInfo(): ClientPackageInfo {
  const manifest = JSON.parse(readFileSync(path.join(CLIENT_DIR, 'package.json'), 'utf8')) as Partial<
    Record<'name' | 'version', unknown>
  >;
  if (typeof manifest.name !== 'string' || typeof manifest.version !== 'string') {
    throw new Error('client/package.json needs a name and a version');
  }
  return { name: manifest.name, version: manifest.version };
}

/**
 * The first line of the bundle. A `/*!` comment is a legal comment: bundlers keep it, so an application
 * bundle (the demo page's, for one) still says which build of the package it contains.
 */
export function buildMarker(info: ClientPackageInfo = clientPackageInfo()): string {
  return `${info.name}@${info.version} (dist)`;
}

/**
 * Writes dist/index.mjs and its source map; returns the bundle's inputs (repository-relative paths).
 * Synchronous (tens of milliseconds) so the local stack can build it while it starts. Each file is written
 * beside its place and renamed into it, so a reader (another local stack starting, `npm pack`) never sees
 * half of one.
 */
export function bundleClient(): string[] {
  const info = clientPackageInfo();
  const result = buildSync({
    absWorkingDir: path.resolve(CLIENT_DIR, '..'),
    entryPoints: [path.join(CLIENT_DIR, 'index.ts')],
    outfile: CLIENT_DIST_ENTRY,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    sourcemap: true,
    sourcesContent: true,
    minify: false,
    legalComments: 'inline',
    banner: { js: `/*! ${buildMarker(info)} | MIT */` },
    define: { [VERSION_GLOBAL]: JSON.stringify(info.version) },
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs).sort();
  const outside = inputs.filter((input) => !/^(client|contracts)\//.test(input));
  if (outside.length > 0) {
    throw new Error(`The client bundle took in files outside client/ and contracts/: ${outside.join(', ')}`);
  }
  mkdirSync(CLIENT_DIST_DIR, { recursive: true });
  for (const file of result.outputFiles) {
    const partial = `${file.path}.${process.pid}.partial`;
    writeFileSync(partial, file.contents);
    renameSync(partial, file.path);
  }
  return inputs;
}
