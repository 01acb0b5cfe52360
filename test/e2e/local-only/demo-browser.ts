import { readFileSync } from 'node:fs';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

/**
 * What the demo page tests share: Debian's Chromium (never a downloaded browser), the page's URL from a
 * local stack's outputs file, and a record of what went wrong while a page loaded.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Long enough for a loaded 2-core machine, short enough that a broken page fails the test well inside its timeout. */
export const UI_TIMEOUT_MS = 20_000;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export function demoPageUrl(outputsFile = process.env.E2E_LOCAL_OUTPUTS_FILE): string {
  if (!outputsFile) throw new Error('the demo page tests need the local stack');
  const outputs = JSON.parse(readFileSync(outputsFile, 'utf8')) as { LocalStack?: { DemoPageUrl?: string } };
  const url = outputs.LocalStack?.DemoPageUrl;
  if (!url) throw new Error('DemoPageUrl missing from the local outputs');
  return url;
}

/**
 * Collects console errors, uncaught exceptions, failed requests and error answers (a missing favicon
 * among them) from the moment it is called: a page that loads cleanly leaves the list empty.
 */
export function recordProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`exception: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.push(`${response.status()}: ${response.url()}`);
  });
  return problems;
}

/** Loads the page and waits until its connection is open. */
export async function openConnected(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('#connection-state[data-state="open"]').waitFor({ timeout: UI_TIMEOUT_MS });
}

/** Creates a post through the page's form and waits until it is shown and live; returns its id. */
export async function createPost(page: Page, title: string): Promise<string> {
  await page.fill('#post-title', title);
  await page.click('#create-post button');
  await page.locator('#post-panel:not([hidden])').waitFor({ timeout: UI_TIMEOUT_MS });
  await page.locator('#post-state[data-state="live"]').waitFor({ timeout: UI_TIMEOUT_MS });
  const postId = await page.locator('#current-post-id').textContent();
  if (!postId) throw new Error('the page shows no post id');
  return postId;
}

/** Adds a comment through the page's form and waits until the view shows it. */
export async function addComment(page: Page, content: string): Promise<void> {
  await page.fill('#comment-content', content);
  await page.click('#add-comment button');
  await commentText(page, content).waitFor({ timeout: UI_TIMEOUT_MS });
}

export const commentText = (page: Page, content: string): Locator =>
  page.locator('#comments li .content', { hasText: content });
