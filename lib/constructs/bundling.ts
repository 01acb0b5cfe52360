import { LogLevel, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';

/**
 * How every function is bundled (NodejsFunction runs the local esbuild with these; the benchmark bundles
 * its comparisons with the same, see bench/measurements/cold-start.ts).
 *
 * The AWS SDK is bundled, not left to the runtime: the function runs exactly the SDK version the tests run
 * (package-lock.json), never the one the Node.js runtime happens to ship that month. The code relies on
 * behaviour of the pinned version (NodeHttpHandler's `throwOnRequestTimeout`, lambda/shared/aws-clients.ts)
 * that an older runtime SDK would silently ignore. Bundled from the packages' ES module builds
 * (`mainFields`), esbuild drops what the three clients never reach, and minifies the rest.
 */
export const HANDLER_BUNDLING = {
  minify: true,
  // Source maps embed absolute paths, which would make the asset hash differ per checkout.
  sourceMap: false,
  target: 'node22',
  format: OutputFormat.CJS,
  // The SDK's and Powertools' ES module builds (dist-es) tree-shake; their CommonJS builds do not.
  mainFields: ['module', 'main'],
  bundleAwsSDK: true,
  logLevel: LogLevel.WARNING,
} as const satisfies BundlingOptions;

/**
 * The same settings as esbuild build options, for bundling an entry outside the CDK (the benchmark's
 * comparisons). `external` lists what to leave out, as NodejsFunction's `externalModules` would.
 */
export function esbuildOptions(external: readonly string[] = []) {
  return {
    bundle: true,
    platform: 'node' as const,
    minify: HANDLER_BUNDLING.minify,
    sourcemap: HANDLER_BUNDLING.sourceMap,
    target: HANDLER_BUNDLING.target,
    format: 'cjs' as const,
    mainFields: [...HANDLER_BUNDLING.mainFields] as string[],
    external: [...external],
    logLevel: 'warning' as const,
  };
}

/** What the bundles left out before they carried the SDK (the Node.js runtime's own SDK was used). */
export const RUNTIME_SDK_EXTERNALS: readonly string[] = ['@aws-sdk/*'];
