import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/**
 * The layer rules run through the project's own ESLint config, as `npm run lint` runs them: each case
 * lints a one-line module at a path inside the repository and expects the rule to fire, or not.
 */
const REFUSED: [file: string, source: string, reason: string][] = [
  ['lib/stacks/x.ts', "import '../../lambda/shared/telemetry';", 'lib/ never imports lambda/'],
  ['client/x.ts', "import '../lambda/shared/ids';", 'client/ never imports lambda/'],
  ['bench/x.ts', "import '../lambda/shared/connection-repository';", 'bench/ never imports lambda/'],
  ['client/x.ts', "import '../local/faults';", 'client/ is a package of its own'],
  ['bench/x.ts', "import '../test/e2e/target';", 'only test/ imports test/'],
  ['local/x.ts', "import { a } from '../test/fixtures';", 'only test/ imports test/'],
  ['lambda/broadcast/x.ts', "import '../fan-out-worker/fan-out-worker';", 'imports the function folder'],
  ['lambda/shared/x.ts', "import '../comments-api/routes';", 'imports the function folder'],
  ['contracts/x.ts', "import '../lambda/shared/ids';", 'contracts/ imports nothing outside itself'],
  ['contracts/x.ts', "import { randomUUID } from 'node:crypto';", 'contracts/ is import-free'],
  ['contracts/x.ts', "export * from '../lib/app';", 'contracts/ imports nothing outside itself'],
  ['lib/x.ts', "const m = require('../lambda/shared/ids');", 'lib/ never imports lambda/'],
  ['bench/x.ts', "void import('../lambda/shared/ids');", 'bench/ never imports lambda/'],
  ['signing/x.ts', "import '../local/local-stack';", 'signing/ imports only contracts/'],
  [
    'simulation/x.ts',
    "import '../test/lambda/fixtures/stage-settings-env';",
    'simulation/ never imports test/',
  ],
  ['simulation/models/x.ts', "import { a } from '../../test/fixtures';", 'simulation/ never imports test/'],
  ['lambda/fan-out/x.ts', "import '../../simulation/clock';", 'only test/ imports simulation/'],
  ['bench/x.ts', "import '../simulation/run';", 'only test/ imports simulation/'],
];

const ALLOWED: [file: string, source: string][] = [
  ['lib/stacks/x.ts', "import '../../contracts/protocol';"],
  ['client/x.ts', "import '../contracts/protocol';"],
  ['lambda/broadcast/x.ts', "import '../fan-out/fan-out';"],
  ['lambda/fan-out-worker/x.ts', "import '../shared/telemetry';"],
  ['lambda/broadcast/x.ts', "import './broadcast-service';"],
  ['local/x.ts', "import '../lambda/shared/ids';"],
  ['test/lambda/x.test.ts', "import '../../lambda/broadcast/handler';"],
  ['contracts/x.ts', "import './protocol';"],
  ['bench/x.ts', "import '@aws-sdk/client-dynamodb';"],
  ['bench/x.ts', "import '../signing/execute-api-signer';"],
  ['lambda/comments-api/x.ts', "import '../../signing/execute-api-signer';"],
  ['simulation/x.ts', "import '../lambda/fan-out/broadcast-service';"],
  ['simulation/models/x.ts', "import '../../lambda/shared/connection-notifier';"],
  ['simulation/x.ts', "import '../lib/config/stage-config';"],
  ['test/simulation/x.test.ts', "import '../../simulation/clock';"],
];

let messages: string[][] = [];

beforeAll(() => {
  const cases = [...REFUSED, ...ALLOWED].map(([file, source]) => ({
    file,
    source: `${source}\nexport {};\n`,
  }));
  const output = execFileSync(
    process.execPath,
    [path.join(__dirname, 'lint-text.mjs'), 'layers/layer-boundaries'],
    { input: JSON.stringify(cases), encoding: 'utf8' },
  );
  messages = JSON.parse(output) as string[][];
});

describe('layer boundaries (npm run lint)', () => {
  it.each(REFUSED.map((entry, index) => [...entry, index] as const))(
    'refuses %s: %s',
    (_file, _source, reason, index) => {
      expect(messages[index]).toEqual([expect.stringContaining(reason)]);
    },
  );

  it.each(ALLOWED.map((entry, index) => [...entry, REFUSED.length + index] as const))(
    'allows %s: %s',
    (_file, _source, index) => {
      expect(messages[index]).toEqual([]);
    },
  );
});
