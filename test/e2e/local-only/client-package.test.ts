import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import type { Browser } from 'playwright-core';
import { CLIENT_DIR, buildMarker, clientPackageInfo } from '../../../client/scripts/bundle';
import { REPO_ROOT } from '../../../local/launch/local-stack-process';
import { CommentsApiClient } from '../comments-api-client';
import { loadTarget, tokenFor } from '../target';
import { demoPageUrl, launchChromium } from './demo-browser';

/**
 * The client SDK as its users get it: `npm pack` in client/ (which builds client/dist), the tarball
 * installed offline into an empty project, then used from there, in Node against the local stack, and
 * type-checked as a consumer's TypeScript would be. In Chromium, the demo page runs the built package
 * too, and this checks that its script was bundled from client/dist rather than the sources.
 * Local-only: the users sign in through the local stack's token route, and the demo page is the local
 * stack's.
 */
const run = promisify(execFile);
const target = loadTarget();
const info = clientPackageInfo();
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

let workDir: string;
let tarball: string;
let packed: PackResult;
/** An empty project with the tarball installed. */
let consumerDir: string;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), 'client-package-'));
  // `prepack` builds the package; npm prints the build's lines to stderr, the pack's JSON to stdout.
  const { stdout } = await run(NPM, ['pack', '--json', '--pack-destination', workDir], {
    cwd: CLIENT_DIR,
    maxBuffer: 8 * 1024 * 1024,
  });
  const [result] = JSON.parse(stdout) as PackResult[];
  if (!result) throw new Error(`npm pack printed no result: ${stdout}`);
  packed = result;
  tarball = path.join(workDir, result.filename);

  consumerDir = path.join(workDir, 'consumer');
  mkdirSync(consumerDir);
  writeFileSync(
    path.join(consumerDir, 'package.json'),
    JSON.stringify({ name: 'client-package-consumer', private: true, type: 'module' }, null, 2),
  );
  // Offline, with a cache of its own (empty): the package has no dependencies to fetch, and `ws` is an
  // optional peer, not installed.
  const cache = path.join(workDir, 'npm-cache');
  await run(NPM, ['install', tarball, '--offline', '--no-audit', '--no-fund', '--cache', cache], {
    cwd: consumerDir,
  });
  // What a Node 20 user adds beside it; linked from this repository, since nothing is downloaded here.
  symlinkSync(
    path.join(REPO_ROOT, 'node_modules', 'ws'),
    path.join(consumerDir, 'node_modules', 'ws'),
    'dir',
  );
}, 120_000);

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

const installed = (...segments: string[]): string =>
  path.join(consumerDir, 'node_modules', '@realtime-comments', 'client', ...segments);

describe('the packed tarball', () => {
  it('holds the built module, its source map, its declarations and the README, and nothing else', () => {
    expect(packed.files.map((file) => file.path).sort()).toEqual([
      'README.md',
      'dist/index.d.mts',
      'dist/index.mjs',
      'dist/index.mjs.map',
      'package.json',
    ]);
  });

  it('declares no runtime dependency, ws as an optional peer, and an ESM entry with its types', () => {
    const manifest = JSON.parse(readFileSync(installed('package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({
      name: info.name,
      version: info.version,
      sideEffects: false,
      exports: { '.': { types: './dist/index.d.mts', default: './dist/index.mjs' } },
      peerDependencies: { ws: expect.any(String) },
      peerDependenciesMeta: { ws: { optional: true } },
    });
    expect(manifest.dependencies).toBeUndefined();
  });

  it('is self-contained: the module imports nothing, the declarations point nowhere outside them', () => {
    const code = readFileSync(installed('dist', 'index.mjs'), 'utf8');
    // One bundle, the contracts inside it: no import of another file or package, browser or Node.
    expect(code).not.toMatch(/^\s*import\s/m);
    expect(code).not.toMatch(/\brequire\(/);
    expect(code.startsWith(`/*! ${buildMarker(info)}`)).toBe(true);
    const declarations = readFileSync(installed('dist', 'index.d.mts'), 'utf8');
    expect(declarations).not.toMatch(/from\s+['"]/);
    expect(declarations).not.toMatch(/\/\/\/\s*<reference/);
    expect(declarations).not.toContain('../contracts');
  });
});

describe('a TypeScript consumer', () => {
  const CONSUMER = `
import {
  CLIENT_VERSION,
  CommentsApiClient,
  ErrorCodes,
  RealtimeCommentsClient,
  type Comment,
  type CommentEvent,
  type ErrorCode,
} from '@realtime-comments/client';

const client = new RealtimeCommentsClient({ url: 'wss://example.invalid/prod', token: async () => 'jwt' });
const contents: string[] = [];
client.subscribe('post-1', {
  onEvent: (event: CommentEvent) => {
    if (event.type === 'comment.created') contents.push(event.data.comment.content);
  },
  onSnapshot: (snapshot) => {
    const comments: Comment[] = snapshot.data.comments;
    const seq: number | undefined = snapshot.data.seq;
    void comments;
    void seq;
  },
});
// @ts-expect-error a post id is a string: the declarations are typed, not any
client.subscribe(42, { onEvent: () => undefined, onSnapshot: () => undefined });
const code: ErrorCode = ErrorCodes.postNotFound;
const version: string = CLIENT_VERSION;
const api = new CommentsApiClient({ url: 'https://example.invalid' });
void api.createComment('post-1', 'hello').then((comment: Comment) => comment.id);
void code;
void version;
`;

  it.each([
    ['nodenext', { module: 'NodeNext', moduleResolution: 'NodeNext' }],
    ['bundler', { module: 'ESNext', moduleResolution: 'Bundler' }],
  ])(
    'type-checks against the installed declarations (moduleResolution %s)',
    async (name, resolution) => {
      writeFileSync(path.join(consumerDir, 'consumer.ts'), CONSUMER);
      const config = path.join(consumerDir, `tsconfig.${name}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          compilerOptions: {
            ...resolution,
            target: 'ES2022',
            lib: ['es2022', 'dom'],
            types: [],
            strict: true,
            noEmit: true,
            skipLibCheck: false,
          },
          files: ['consumer.ts'],
        }),
      );
      const tsc = path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      await expect(run(process.execPath, [tsc, '-p', config], { cwd: consumerDir })).resolves.toBeDefined();
    },
    60_000,
  );
});

/** A Node program that uses only the installed package and ws, as a user's would; prints JSON lines. */
const NODE_CONSUMER = `
import WebSocket from 'ws';
import { CLIENT_VERSION, CommentsApiClient, RealtimeCommentsClient } from '@realtime-comments/client';

const [webSocketUrl, apiUrl, readerToken, writerToken] = process.argv.slice(2);
const say = (line) => process.stdout.write(JSON.stringify(line) + '\\n');

const api = new CommentsApiClient({ url: apiUrl, token: writerToken });
const post = await api.createPost({ title: 'Installed package' });
const client = new RealtimeCommentsClient({ url: webSocketUrl, token: readerToken, WebSocket });
client.subscribe(post.id, {
  onSnapshot: async (snapshot) => {
    say({ kind: 'snapshot', version: CLIENT_VERSION, postId: post.id, seq: snapshot.data.seq });
    const comment = await api.createComment(post.id, 'from the installed package');
    say({ kind: 'created', comment });
  },
  onEvent: (event) => {
    say({ kind: 'event', event });
    client.close();
  },
  onError: (error) => say({ kind: 'error', code: error.code, message: error.message }),
});
client.connect();
`;

interface ConsumerLine {
  kind: 'snapshot' | 'created' | 'event' | 'error';
  [key: string]: unknown;
}

describe('in Node', () => {
  let child: ChildProcessWithoutNullStreams | undefined;

  afterEach(() => {
    if (child && child.exitCode === null) child.kill();
  });

  it('connects, subscribes and receives the comment created through it, from the local stack', async () => {
    writeFileSync(path.join(consumerDir, 'follow.mjs'), NODE_CONSUMER);
    const [readerToken, writerToken] = await Promise.all([
      tokenFor(target, 'package-reader'),
      tokenFor(target, 'package-writer'),
    ]);
    const consumer = spawn(
      process.execPath,
      ['follow.mjs', target.webSocketUrl, target.commentsApiUrl, readerToken, writerToken],
      { cwd: consumerDir },
    );
    child = consumer;
    let stderr = '';
    consumer.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const lines: ConsumerLine[] = [];
    for await (const line of createInterface({ input: consumer.stdout })) {
      const parsed = JSON.parse(line) as ConsumerLine;
      lines.push(parsed);
      // The event may arrive before the answer to the write that caused it.
      if (lines.some((seen) => seen.kind === 'event') && lines.some((seen) => seen.kind === 'created')) break;
    }
    const exitCode = await new Promise<number | null>((resolve) => {
      if (consumer.exitCode !== null) resolve(consumer.exitCode);
      else consumer.once('exit', resolve);
    });
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' });

    const snapshot = lines.find((line) => line.kind === 'snapshot');
    const created = lines.find((line) => line.kind === 'created')?.comment as { id: string; postId: string };
    const event = lines.find((line) => line.kind === 'event')?.event as {
      type: string;
      seq: number;
      data: { postId: string; comment: { id: string; content: string } };
    };
    expect(lines.filter((line) => line.kind === 'error')).toEqual([]);
    // The built package ran: its version is set by the build, and is 'source' only in the sources.
    expect(snapshot).toMatchObject({ version: info.version, seq: 0 });
    expect(event).toMatchObject({
      type: 'comment.created',
      seq: 1,
      data: { postId: snapshot?.postId, comment: { id: created.id, content: 'from the installed package' } },
    });
    // And the comment is stored, as the repository's own API client reads it.
    const reader = new CommentsApiClient(target, undefined);
    const listing = await reader.request('GET', `/posts/${created.postId}/comments`);
    expect(listing).toMatchObject({ status: 200, body: { comments: [{ id: created.id }] } });
  }, 60_000);
});

describe('in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('runs the demo page on the built package, not on the SDK sources', async () => {
    const pageUrl = demoPageUrl();
    const context = await browser.newContext();
    const page = await context.newPage();
    const script = page.waitForResponse((response) => new URL(response.url()).pathname === '/app.js');
    await page.goto(pageUrl);
    await page.locator('#connection-state[data-state="open"]').waitFor();
    const body = await (await script).text();

    // esbuild names each module it bundles in a `// path` line: the SDK came in as client/dist/index.mjs,
    // whose legal comment names the package build, and none of client/*.ts did.
    const modules = body.split('\n').filter((line) => /^\/\/ \S+\.(m?js|ts)$/.test(line));
    expect(modules).toContain('// client/dist/index.mjs');
    expect(modules.filter((line) => line.startsWith('// client/') && line.endsWith('.ts'))).toEqual([]);
    expect(body).toContain(`/*! ${buildMarker(info)}`);
    await context.close();
  }, 60_000);
});
