import { renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { generateDtsBundle } from 'dts-bundle-generator';
import { bundleClient, CLIENT_DIR, CLIENT_DIST_TYPES } from './bundle';

/**
 * Builds the package into client/dist (git-ignored): `npm run build` here, and `npm pack` through
 * `prepack`. The JavaScript is one ES module (bundle.ts); the declarations are one file too, with the
 * contracts' types inlined, so nothing in the package points outside it (no `../contracts`) and it reads
 * the same under every `moduleResolution` (a .d.mts has no extension-less relative imports to resolve).
 */
function main(): void {
  const inputs = bundleClient();
  const [declarations] = generateDtsBundle(
    [
      {
        filePath: path.join(CLIENT_DIR, 'index.ts'),
        output: { noBanner: true, exportReferencedTypes: false },
      },
    ],
    { preferredConfigPath: path.join(CLIENT_DIR, 'tsconfig.build.json') },
  );
  if (declarations === undefined) throw new Error('dts-bundle-generator produced no declarations');
  if (/from ['"]\.\.?\//.test(declarations)) {
    throw new Error('The bundled declarations still import a relative path');
  }
  const partial = `${CLIENT_DIST_TYPES}.${process.pid}.partial`;
  writeFileSync(partial, declarations);
  renameSync(partial, CLIENT_DIST_TYPES);
  console.error(`client/dist: index.mjs (${inputs.length} modules), index.d.mts`);
}

try {
  main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
