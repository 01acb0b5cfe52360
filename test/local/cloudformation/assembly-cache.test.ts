import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  ASSEMBLY_INPUTS,
  assemblyKey,
  synthesizeCached,
  type CachedSynthesisOptions,
} from '../../../local/cloudformation/assembly-cache';
import type { StackTemplate } from '../../../local/cloudformation/template';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const INPUTS = ['lib', 'lambda', 'package-lock.json'];

let root: string;

/** A repository with an input of each kind: folders with nested files, and a single file. */
function fakeRepo(): string {
  const repo = path.join(root, 'repo');
  const files: Record<string, string> = {
    'lib/app.ts': 'export const app = 1;',
    'lib/stacks/data.ts': 'export const data = 1;',
    'lambda/broadcast/handler.ts': 'export const handler = 1;',
    'package-lock.json': '{"lockfileVersion":3}',
    'README.md': '# not an input',
  };
  for (const [file, content] of Object.entries(files)) write(repo, file, content);
  return repo;
}

function write(repo: string, file: string, content: string): void {
  mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
  writeFileSync(path.join(repo, file), content);
}

/** Writes what a synthesis writes: a manifest, a template per stack and a bundle, whose content it returns. */
function fakeSynthesis(bundle: () => string) {
  return jest.fn(async (stage: string, outDir: string): Promise<StackTemplate[]> => {
    const stackName = `App-${stage}-Api`;
    mkdirSync(path.join(outDir, 'asset.0123'), { recursive: true });
    writeFileSync(path.join(outDir, 'asset.0123', 'index.js'), bundle());
    const template = { Resources: { Fn: { Type: 'AWS::Lambda::Function' } } };
    writeFileSync(path.join(outDir, `${stackName}.template.json`), JSON.stringify(template));
    const manifest = {
      artifacts: {
        [stackName]: {
          type: 'aws:cloudformation:stack',
          properties: { templateFile: `${stackName}.template.json` },
        },
      },
    };
    writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest));
    return [{ stackName, template, assemblyDir: outDir }];
  });
}

function options(repo: string, overrides: Partial<CachedSynthesisOptions> = {}): CachedSynthesisOptions {
  return {
    stage: 'dev',
    assemblyDir: path.join(root, 'cdk.out.local'),
    cacheDir: path.join(root, 'cache'),
    repoRoot: repo,
    inputs: INPUTS,
    synthesize: fakeSynthesis(() => 'bundle v1'),
    log: () => undefined,
    ...overrides,
  };
}

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'assembly-cache-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('assemblyKey', () => {
  it('is the same for the same sources and stage', () => {
    // Prepare
    const repo = fakeRepo();

    // Act / Assess
    expect(assemblyKey(repo, 'dev', INPUTS)).toBe(assemblyKey(repo, 'dev', INPUTS));
  });

  it.each([
    [
      'an edited file in a folder',
      (repo: string) => write(repo, 'lib/stacks/data.ts', 'export const data = 2;'),
    ],
    [
      'an edited single-file input',
      (repo: string) => write(repo, 'package-lock.json', '{"lockfileVersion":2}'),
    ],
    ['a new file', (repo: string) => write(repo, 'lambda/broadcast/limits.ts', 'export {};')],
    ['a deleted file', (repo: string) => rmSync(path.join(repo, 'lib/stacks/data.ts'))],
    [
      'a renamed file',
      (repo: string) => renameSync(path.join(repo, 'lib/app.ts'), path.join(repo, 'lib/main.ts')),
    ],
  ])('changes with %s', (_change, change) => {
    // Prepare
    const repo = fakeRepo();
    const before = assemblyKey(repo, 'dev', INPUTS);

    // Act
    change(repo);

    // Assess
    expect(assemblyKey(repo, 'dev', INPUTS)).not.toBe(before);
  });

  it('changes with the stage', () => {
    // Prepare
    const repo = fakeRepo();

    // Act / Assess
    expect(assemblyKey(repo, 'prod', INPUTS)).not.toBe(assemblyKey(repo, 'dev', INPUTS));
  });

  it('ignores files that are not inputs', () => {
    // Prepare
    const repo = fakeRepo();
    const before = assemblyKey(repo, 'dev', INPUTS);

    // Act
    write(repo, 'README.md', '# edited');

    // Assess
    expect(assemblyKey(repo, 'dev', INPUTS)).toBe(before);
  });
});

describe('ASSEMBLY_INPUTS', () => {
  /** Relative module specifiers of a TypeScript source: imports, re-exports and dynamic imports, not types. */
  const relativeImports = (source: string): string[] =>
    [
      ...source
        .replace(/import type [^;]*;/g, '')
        .matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*)'(\.{1,2}\/[^']+)'/g),
    ].map((match) => match[1] ?? '');
  const sourcesUnder = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return sourcesUnder(full);
      return entry.name.endsWith('.ts') ? [full] : [];
    });
  const isInput = (file: string): boolean => {
    const relative = path.relative(REPO_ROOT, file).split(path.sep).join('/');
    return ASSEMBLY_INPUTS.some((input) => relative === input || relative.startsWith(`${input}/`));
  };

  it('holds every source the synthesis and the bundles import, so no change goes unnoticed', () => {
    // Prepare
    const folders = ASSEMBLY_INPUTS.filter((input) => !path.extname(input));
    const sources = [
      ...folders.flatMap((folder) => sourcesUnder(path.join(REPO_ROOT, folder))),
      path.join(REPO_ROOT, 'local/cloudformation/synthesize.ts'),
    ];

    // Act
    const outside = sources.flatMap((source) =>
      relativeImports(readFileSync(source, 'utf8'))
        .map((specifier) => path.resolve(path.dirname(source), specifier))
        .filter((target) => !isInput(target))
        .map((target) => `${path.relative(REPO_ROOT, source)} → ${path.relative(REPO_ROOT, target)}`),
    );

    // Assess
    expect(sources.length).toBeGreaterThan(20);
    expect(outside).toEqual([]);
  });
});

describe('synthesizeCached', () => {
  it('synthesizes the first time and stores the assembly under its key', async () => {
    // Prepare
    const repo = fakeRepo();
    const synthesize = fakeSynthesis(() => 'bundle v1');

    // Act
    const result = await synthesizeCached(options(repo, { synthesize }));

    // Assess
    expect(result.source).toBe('synthesized');
    expect(synthesize).toHaveBeenCalledTimes(1);
    expect(result.stacks).toEqual([
      expect.objectContaining({ stackName: 'App-dev-Api', assemblyDir: path.join(root, 'cdk.out.local') }),
    ]);
    expect(readFileSync(path.join(root, 'cdk.out.local', 'asset.0123', 'index.js'), 'utf8')).toBe(
      'bundle v1',
    );
    expect(existsSync(path.join(root, 'cache', 'assemblies', result.key ?? '', 'manifest.json'))).toBe(true);
  });

  it('reuses the assembly directory when nothing changed, without synthesizing', async () => {
    // Prepare
    const repo = fakeRepo();
    const first = await synthesizeCached(options(repo));
    const synthesize = fakeSynthesis(() => 'bundle v2');

    // Act
    const second = await synthesizeCached(options(repo, { synthesize }));

    // Assess
    expect(second).toMatchObject({ source: 'assembly', key: first.key });
    expect(synthesize).not.toHaveBeenCalled();
    expect(second.stacks).toEqual(first.stacks);
  });

  it('copies a cached assembly into another assembly directory (as each e2e run has its own)', async () => {
    // Prepare
    const repo = fakeRepo();
    await synthesizeCached(options(repo));
    const synthesize = fakeSynthesis(() => 'bundle v2');
    const assemblyDir = path.join(root, 'e2e', 'cdk.out');

    // Act
    const result = await synthesizeCached(options(repo, { synthesize, assemblyDir }));

    // Assess
    expect(result.source).toBe('cache');
    expect(synthesize).not.toHaveBeenCalled();
    expect(result.stacks[0]?.assemblyDir).toBe(assemblyDir);
    expect(readFileSync(path.join(assemblyDir, 'asset.0123', 'index.js'), 'utf8')).toBe('bundle v1');
  });

  it('synthesizes again after any input changes, and serves the new assembly', async () => {
    // Prepare
    const repo = fakeRepo();
    const first = await synthesizeCached(options(repo));
    write(repo, 'lambda/broadcast/handler.ts', 'export const handler = 2;');
    const synthesize = fakeSynthesis(() => 'bundle v2');

    // Act
    const second = await synthesizeCached(options(repo, { synthesize }));

    // Assess
    expect(second.source).toBe('synthesized');
    expect(second.key).not.toBe(first.key);
    expect(synthesize).toHaveBeenCalledTimes(1);
    expect(readFileSync(path.join(root, 'cdk.out.local', 'asset.0123', 'index.js'), 'utf8')).toBe(
      'bundle v2',
    );
  });

  it('serves the older assembly from the cache again when a change is undone', async () => {
    // Prepare
    const repo = fakeRepo();
    const first = await synthesizeCached(options(repo));
    write(repo, 'lib/app.ts', 'export const app = 2;');
    await synthesizeCached(options(repo, { synthesize: fakeSynthesis(() => 'bundle v2') }));
    write(repo, 'lib/app.ts', 'export const app = 1;');
    const synthesize = fakeSynthesis(() => 'bundle v3');

    // Act
    const third = await synthesizeCached(options(repo, { synthesize }));

    // Assess
    expect(third).toMatchObject({ source: 'cache', key: first.key });
    expect(synthesize).not.toHaveBeenCalled();
    expect(readFileSync(path.join(root, 'cdk.out.local', 'asset.0123', 'index.js'), 'utf8')).toBe(
      'bundle v1',
    );
  });

  it('always synthesizes with the cache off', async () => {
    // Prepare
    const repo = fakeRepo();
    await synthesizeCached(options(repo));
    const synthesize = fakeSynthesis(() => 'bundle v2');

    // Act
    const result = await synthesizeCached(options(repo, { synthesize, cacheDir: undefined }));

    // Assess
    expect(result.source).toBe('synthesized');
    expect(synthesize).toHaveBeenCalledTimes(1);
  });

  it('does not cache a synthesis during which the sources changed', async () => {
    // Prepare
    const repo = fakeRepo();
    const synthesize = fakeSynthesis(() => {
      write(repo, 'lib/app.ts', 'export const app = 3;');
      return 'bundle of a moving target';
    });

    // Act
    const result = await synthesizeCached(options(repo, { synthesize }));

    // Assess
    expect(result.source).toBe('synthesized');
    expect(result.stacks[0]?.stackName).toBe('App-dev-Api');
    expect(readdirSync(path.join(root, 'cache', 'assemblies'))).toEqual([]);
    const next = fakeSynthesis(() => 'bundle v3');
    await expect(synthesizeCached(options(repo, { synthesize: next }))).resolves.toMatchObject({
      source: 'synthesized',
    });
  });

  it('leaves alone what else the assembly directory holds', async () => {
    // Prepare
    const repo = fakeRepo();
    write(root, 'cdk.out.local/notes.txt', 'mine');

    // Act
    await synthesizeCached(options(repo));

    // Assess
    expect(readFileSync(path.join(root, 'cdk.out.local', 'notes.txt'), 'utf8')).toBe('mine');
  });
});
