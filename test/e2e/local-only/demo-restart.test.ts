import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startLocalStackProcess, type LocalStackProcess } from '../../../local/launch/local-stack-process';
import {
  UI_TIMEOUT_MS,
  addComment,
  commentText,
  createPost,
  demoPageUrl,
  launchChromium,
  openConnected,
} from './demo-browser';

/**
 * The demo page while its stack is stopped and started again. The suite's shared stack cannot be
 * stopped, so this file runs one of its own, on free ports, with its DynamoDB data in a folder of its own:
 * started again as it was, its posts survive; started with a reset, they are gone.
 */
const STACK_READY_MS = 240_000;
/** The page reconnects by itself within its longest backoff wait (30 s), "Reconnect now" or not. */
const RECONNECT_TIMEOUT_MS = 45_000;
/** Two stack starts and a stop, on a machine that may be busy. */
const TEST_TIMEOUT_MS = 2 * STACK_READY_MS + 60_000;

/** A port free now; the stack binds it a moment later (and again after each restart). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject()));
    });
  });
}

/**
 * One local stack process at a time, restarted on the same ports and data folder: as it was (its data
 * kept, as `npm start` keeps it), or reset to empty tables (`npm start -- --reset`).
 */
class RestartableStack {
  private process: LocalStackProcess | undefined;

  constructor(
    private readonly workDir: string,
    private readonly env: Record<string, string>,
  ) {}

  get outputsFile(): string {
    return path.join(this.workDir, 'outputs.json');
  }

  async start({ reset = false } = {}): Promise<void> {
    await this.stop();
    this.process = await startLocalStackProcess(
      {
        ...this.env,
        LOCAL_OUTPUTS_FILE: this.outputsFile,
        LOCAL_ASSEMBLY_DIR: path.join(this.workDir, 'cdk.out'),
        // The same keys across restarts: the page's token stays valid, as it would after `npm start` again.
        LOCAL_ISSUER_KEYS_FILE: path.join(this.workDir, 'issuer-keys.json'),
        LOCAL_DYNAMODB_PATH: path.join(this.workDir, 'dynamodb'),
        LOCAL_RESET: String(reset),
      },
      { readyTimeoutMs: STACK_READY_MS },
    );
  }

  /** Starts it unless it runs (a test that failed midway may have left it stopped). */
  async ensureStarted(): Promise<void> {
    if (!this.process) await this.start();
  }

  async stop(): Promise<void> {
    const running = this.process;
    this.process = undefined;
    await running?.stop();
  }
}

let browser: Browser;
let stack: RestartableStack;
let workDir: string;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), 'demo-restart-'));
  const [appPort, gatewayPort, dynamoDbPort] = [await freePort(), await freePort(), await freePort()];
  stack = new RestartableStack(workDir, {
    LOCAL_APP_PORT: String(appPort),
    LOCAL_GATEWAY_PORT: String(gatewayPort),
    LOCAL_DYNAMODB_PORT: String(dynamoDbPort),
  });
  [browser] = await Promise.all([launchChromium(), stack.start({ reset: true })]);
}, STACK_READY_MS + 30_000);

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
}, 60_000);

async function newPage(): Promise<Page> {
  const context = await browser.newContext();
  contexts.push(context);
  return context.newPage();
}

/** After a restart: "Reconnect now" skips what is left of the backoff wait, when the page still waits. */
async function reconnectNow(page: Page): Promise<void> {
  const button = page.locator('#reconnect-now');
  if (await button.isVisible()) {
    // It may have reconnected by itself in between, which hides the button: that is fine too.
    await button.click({ timeout: 2_000 }).catch(() => undefined);
  }
}

it(
  'says the server is unreachable while the stack is down, keeps the typed text, and catches up once it is back',
  async () => {
    const page = await newPage();
    await openConnected(page, demoPageUrl(stack.outputsFile));
    await createPost(page, 'Survives a restart');
    await addComment(page, 'written before the restart');

    await stack.stop();
    await page.locator('#connection-state[data-state="reconnecting"]').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator('#post-state[data-state="syncing"]').waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.isVisible('#reconnect-now')).toBe(true);
    await page.fill('#comment-content', 'typed while the server was down');
    await page.click('#add-comment button');
    const error = page.locator('#error');
    await error.filter({ hasText: 'unreachable' }).waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await error.textContent()).toContain('Your comment is kept');
    expect(await error.textContent()).not.toContain('Failed to fetch');
    expect(await page.inputValue('#comment-content')).toBe('typed while the server was down');
    // The last complete view stays on screen, marked as syncing.
    expect(await commentText(page, 'written before the restart').count()).toBe(1);

    await stack.start();
    await reconnectNow(page);
    await page.locator('#connection-state[data-state="open"]').waitFor({ timeout: RECONNECT_TIMEOUT_MS });
    await page.locator('#post-state[data-state="live"]').waitFor({ timeout: UI_TIMEOUT_MS });
    await error.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    expect(await commentText(page, 'written before the restart').count()).toBe(1);
    expect(await page.inputValue('#comment-content')).toBe('typed while the server was down');

    await page.click('#add-comment button');
    await commentText(page, 'typed while the server was down').waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.inputValue('#comment-content')).toBe('');
    expect(await page.locator('#comments li').count()).toBe(2);
  },
  TEST_TIMEOUT_MS,
);

it(
  'clears the post and says it is gone when the stack comes back with an empty database',
  async () => {
    await stack.ensureStarted();
    const page = await newPage();
    await openConnected(page, demoPageUrl(stack.outputsFile));
    const postId = await createPost(page, 'Lost in a reset');
    await addComment(page, 'gone with the data');

    await stack.stop();
    await page.locator('#connection-state[data-state="reconnecting"]').waitFor({ timeout: UI_TIMEOUT_MS });
    await stack.start({ reset: true });
    await reconnectNow(page);

    await page
      .locator('#notice-heading', { hasText: 'This post no longer exists' })
      .waitFor({ timeout: RECONNECT_TIMEOUT_MS });
    expect(await page.textContent('#notice-text')).toContain(postId);
    expect(await page.isHidden('#post-panel')).toBe(true);
    expect(await page.locator('#comments li').count()).toBe(0);
    expect(await page.locator('#recent-posts', { hasText: 'Lost in a reset' }).count()).toBe(0);
    expect(await page.isVisible('#error')).toBe(false);
    expect(await page.textContent('#connection-state')).toBe('open');
  },
  TEST_TIMEOUT_MS,
);
