import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { bundleClient, CLIENT_DIST_ENTRY, clientPackageInfo } from '../../client/scripts/bundle';
import { jsonResponse, type HttpResponse } from '../http-io';

/**
 * The demo page: static files from local/devtools/demo, plus its TypeScript bundled once at start with the
 * project's own esbuild, so the page imports the same protocol module as the handlers. The client SDK it
 * imports (`@realtime-comments/client`) is the built package, client/dist, built here first: the page runs
 * what users install, not the SDK's sources (the repository type-checks the demo against those, through
 * tsconfig.json's `paths`).
 */
const DEMO_DIR = path.join(__dirname, 'demo');
const REPO_ROOT = path.resolve(__dirname, '..', '..');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

let bundle: Buffer | undefined;

function demoBundle(): Buffer {
  if (!bundle) {
    bundleClient();
    const result = buildSync({
      absWorkingDir: REPO_ROOT,
      entryPoints: [path.join(DEMO_DIR, 'app.ts')],
      bundle: true,
      format: 'esm',
      target: 'es2022',
      platform: 'browser',
      write: false,
      minify: false,
      alias: { [clientPackageInfo().name]: CLIENT_DIST_ENTRY },
      metafile: true,
    });
    const sources = Object.keys(result.metafile.inputs).filter((input) => /^client\/(?!dist\/)/.test(input));
    if (sources.length > 0) {
      throw new Error(
        `The demo page bundles the client SDK's sources (${sources.join(', ')}): import it as ` +
          `'${clientPackageInfo().name}', so that the page runs the built package`,
      );
    }
    const [file] = result.outputFiles;
    if (!file) throw new Error('esbuild produced no demo bundle');
    bundle = Buffer.from(file.contents);
  }
  return bundle;
}

const SECURITY_HEADERS = {
  // The page only talks to its own origin and the local WebSocket gateway.
  'content-security-policy':
    "default-src 'self'; connect-src 'self' ws: wss: http://localhost:* http://127.0.0.1:*; style-src 'self'; img-src 'self' data:",
  'x-content-type-options': 'nosniff',
};

/** What the page needs to know about the running stack; served as /config.json. */
export interface DemoConfig {
  webSocketUrl: string;
  /** Base of the comments API; empty for the page's own origin. */
  apiBaseUrl: string;
  /** The dev-only token route the demo signs in through. */
  tokenUrl: string;
}

export type StaticFiles = (urlPath: string) => Promise<HttpResponse | undefined>;

export function createStaticFiles(config: DemoConfig): StaticFiles {
  demoBundle();
  return (urlPath) => serveStatic(urlPath, config);
}

async function serveStatic(urlPath: string, config: DemoConfig): Promise<HttpResponse | undefined> {
  if (urlPath === '/config.json') {
    return jsonResponse(200, config, { 'cache-control': 'no-store' });
  }
  if (urlPath === '/app.js') {
    return {
      statusCode: 200,
      headers: { 'content-type': CONTENT_TYPES['.js'] ?? 'text/javascript', ...SECURITY_HEADERS },
      body: demoBundle(),
    };
  }
  // Browsers ask for /favicon.ico when a page links no icon (/config.json opened directly): the SVG, not a 404.
  const relative =
    urlPath === '/' ? 'index.html' : urlPath === '/favicon.ico' ? 'favicon.svg' : urlPath.replace(/^\/+/, '');
  const file = path.resolve(DEMO_DIR, relative);
  if (!file.startsWith(DEMO_DIR + path.sep) || path.extname(file) === '.ts') return undefined;
  const contentType = CONTENT_TYPES[path.extname(file)];
  if (!contentType) return undefined;
  try {
    const body = await readFile(file);
    return { statusCode: 200, headers: { 'content-type': contentType, ...SECURITY_HEADERS }, body };
  } catch {
    return undefined;
  }
}
