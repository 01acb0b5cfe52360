import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { ASSET_RESOURCE_METADATA_ENABLED_CONTEXT } from 'aws-cdk-lib/cx-api';
import { ASSET_PATH_METADATA_KEY } from '../../../contracts/cfn-metadata';
import { ServiceNames } from '../../../contracts/telemetry-names';
import { stageConfigs } from '../../../lib/config/stage-config';
import { HANDLER_BUNDLING } from '../../../lib/constructs/bundling';
import { HandlerFunction, REPO_ROOT } from '../../../lib/constructs/handler-function';
import { cdkJsonContext } from '../synth-stage';
import { logicalIdOf } from '../template-queries';

/** The SDK version the tests run: the one package-lock.json pins. */
const PINNED_SDK = (
  JSON.parse(
    readFileSync(path.join(REPO_ROOT, 'node_modules', '@aws-sdk', 'client-dynamodb', 'package.json'), 'utf8'),
  ) as { version: string }
).version;

/**
 * The optional CRT signer (SigV4a, for multi-region access points), which the SDK requires inside a
 * try/catch only when asked for; it is not installed, so esbuild leaves the require as it is.
 */
const OPTIONAL_SDK_MODULES = ['@aws-sdk/signature-v4-crt'];

describe('function bundles', () => {
  let outdir: string;
  let bundle: string;

  beforeAll(() => {
    outdir = mkdtempSync(path.join(os.tmpdir(), 'bundling-test-'));
    // As the CLI does: asset metadata on the resource says where the function's bundle is.
    const app = new App({
      outdir,
      context: { ...cdkJsonContext(), [ASSET_RESOURCE_METADATA_ENABLED_CONTEXT]: true },
    });
    const stack = new Stack(app, 'Bundling');
    const fn = new HandlerFunction(stack, 'SdkVersion', {
      entry: 'test/lib/fixtures/sdk-version-handler.ts',
      serviceName: ServiceNames.websocketConnection,
      stageConfig: stageConfigs.prod,
    });
    const assembly = app.synth();
    const template = assembly.getStackByName('Bundling').template as {
      Resources: Record<string, { Metadata?: Record<string, string> }>;
    };
    const assetPath = template.Resources[logicalIdOf(fn.function)]?.Metadata?.[ASSET_PATH_METADATA_KEY];
    bundle = path.join(outdir, String(assetPath), 'index.js');
  });

  afterAll(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('carry the AWS SDK inside: nothing left for the runtime to provide', () => {
    const required = [...readFileSync(bundle, 'utf8').matchAll(/require\("(@aws-sdk\/[^"]+)"\)/g)].map(
      (match) => match[1],
    );
    expect([...new Set(required)].filter((name) => !OPTIONAL_SDK_MODULES.includes(String(name)))).toEqual([]);
  });

  it('run the pinned SDK version, loaded where no node_modules can be found', () => {
    // A directory of its own, no NODE_PATH: as on Lambda, but without the runtime's own SDK to fall back on.
    const isolated = mkdtempSync(path.join(os.tmpdir(), 'bundle-run-'));
    try {
      copyFileSync(bundle, path.join(isolated, 'index.js'));
      const userAgent = execFileSync(
        process.execPath,
        ['-e', "require('./index.js').handler().then((ua) => process.stdout.write(JSON.stringify(ua)))"],
        {
          cwd: isolated,
          env: { PATH: process.env.PATH, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        },
      ).toString();
      expect(JSON.parse(userAgent)).toEqual(expect.arrayContaining([['aws-sdk-js', PINNED_SDK]]));
    } finally {
      rmSync(isolated, { recursive: true, force: true });
    }
  });

  it('are minified and tree-shaken from the ES module builds: commands the code never uses are left out', () => {
    expect(HANDLER_BUNDLING).toMatchObject({
      minify: true,
      mainFields: ['module', 'main'],
      bundleAwsSDK: true,
    });
    const code = readFileSync(bundle, 'utf8');
    expect(code).toContain('DynamoDB_20120810');
    expect(code).not.toMatch(/"Scan"|"PutItem"|"TransactWriteItems"/);
  });
});
