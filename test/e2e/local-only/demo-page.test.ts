import { DeleteCommand } from '@aws-sdk/lib-dynamodb';
import type { Browser, BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { commentKeys } from '../../../contracts/table-schema';
import { readOutputsFile } from '../../../local/launch/outputs-file';
import { CommentsApiClient } from '../comments-api-client';
import { documentClient, eventually, loadTarget } from '../target';
import {
  UI_TIMEOUT_MS,
  addComment,
  commentText,
  createPost,
  demoPageUrl,
  launchChromium,
  openConnected,
  recordProblems,
} from './demo-browser';

/**
 * The demo page in real Chromium against the e2e suite's local stack: live updates between tabs, inert
 * comment text, a clean first load with an empty state, posts that are unknown or deleted, editing in
 * place, a narrow screen, and a gateway outage ended early with "Reconnect now". demo-restart.test.ts
 * stops and restarts a stack of its own.
 */
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});

afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});

afterAll(async () => {
  await browser?.close();
});

/** A page in a profile of its own: its own user id and recent posts. */
async function newPage(options: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser.newContext(options);
  contexts.push(context);
  return context.newPage();
}

const isFocused = (page: Page, selector: string): Promise<boolean> =>
  page.locator(selector).evaluate((element) => element === document.activeElement);

it('shows a comment added in one tab in the other, live and inert', async () => {
  const base = demoPageUrl();
  const writer = await newPage();
  const reader = await newPage();
  const dialogs: string[] = [];
  reader.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });

  await openConnected(writer, base);
  await createPost(writer, 'Browser test post');
  const postUrl = writer.url();
  expect(postUrl).toMatch(/#post=/);
  await openConnected(reader, postUrl);
  await reader.locator('#post-state[data-state="live"]').waitFor({ timeout: UI_TIMEOUT_MS });
  const readerUrlBefore = reader.url();

  const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script> hello from tab one';
  await writer.fill('#comment-content', hostile);
  await writer.click('#add-comment button');

  const arrived = commentText(reader, 'hello from tab one');
  await arrived.waitFor({ timeout: UI_TIMEOUT_MS });
  expect(await arrived.textContent()).toBe(hostile);
  expect(await reader.locator('#comments img, #comments script').count()).toBe(0);
  expect(reader.url()).toBe(readerUrlBefore);
  expect(dialogs).toEqual([]);
});

it('loads without console errors or failed requests, has a favicon, and says what to do first', async () => {
  const base = demoPageUrl();
  const page = await newPage();
  const problems = recordProblems(page);

  await openConnected(page, base);

  expect(await page.isVisible('#post-notice')).toBe(true);
  expect(await page.isHidden('#post-panel')).toBe(true);
  expect(await page.textContent('#notice-heading')).toBe('No post open');
  expect(await page.textContent('#notice-text')).toMatch(/Create a post, or open one/);
  expect(await page.textContent('#connection-state')).toBe('open');
  expect(await page.isHidden('#reconnect-now')).toBe(true);
  const linked = await page.locator('link[rel="icon"]').evaluate((link) => (link as HTMLLinkElement).href);
  for (const icon of [linked, new URL('/favicon.ico', base).href]) {
    const response = await page.request.get(icon);
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toBe('image/svg+xml');
  }
  expect(problems).toEqual([]);
});

it('clears the previous post when an unknown or invalid post id is opened, and opens it again from the recent list', async () => {
  const page = await newPage();
  await openConnected(page, demoPageUrl());
  await createPost(page, 'Shown before a bad id');
  await addComment(page, 'should not outlive a bad id');

  await page.fill('#post-id', 'no-such-post-0000');
  await page.click('#open-post button');
  await page.locator('#notice-heading', { hasText: 'Post not found' }).waitFor({ timeout: UI_TIMEOUT_MS });
  expect(page.url()).toMatch(/#post=no-such-post-0000$/);
  expect(await page.textContent('#notice-text')).toContain('no-such-post-0000');
  expect(await page.isHidden('#post-panel')).toBe(true);
  expect(await page.locator('#comments li').count()).toBe(0);

  await page.evaluate(() => {
    window.location.hash = '#post=not%20an%20id';
  });
  await page.locator('#notice-text', { hasText: 'is not a post id' }).waitFor({ timeout: UI_TIMEOUT_MS });

  await page.click('#recent-posts a >> text=Shown before a bad id');
  await page.locator('#post-state[data-state="live"]').waitFor({ timeout: UI_TIMEOUT_MS });
  expect(await page.isHidden('#post-notice')).toBe(true);
  expect(await commentText(page, 'should not outlive a bad id').count()).toBe(1);
});

it('edits a comment in place: Escape cancels, Ctrl+Enter saves, and a comment arriving meanwhile leaves the editor alone', async () => {
  const page = await newPage();
  const dialogs: string[] = [];
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await openConnected(page, demoPageUrl());
  const postId = await createPost(page, 'Edited in place');
  await addComment(page, 'first version');
  const item = page.locator('#comments li', { hasText: 'first version' });
  const editor = page.locator('#comments textarea[aria-label="Edit comment"]');

  await item.getByRole('button', { name: 'Edit' }).click();
  expect(await editor.inputValue()).toBe('first version');
  expect(await isFocused(page, '#comments textarea')).toBe(true);
  await editor.fill('a draft to throw away');
  await editor.press('Escape');
  await editor.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  expect(await commentText(page, 'first version').count()).toBe(1);

  await item.getByRole('button', { name: 'Edit' }).click();
  await editor.fill('second version\nover two lines');
  const other = await CommentsApiClient.as(loadTarget(), 'demo-other-writer');
  await other.createComment(postId, 'arrives while editing');
  await commentText(page, 'arrives while editing').waitFor({ timeout: UI_TIMEOUT_MS });
  expect(await editor.inputValue()).toBe('second version\nover two lines');
  expect(await isFocused(page, '#comments textarea')).toBe(true);

  await editor.press('Control+Enter');
  await editor.waitFor({ state: 'detached', timeout: UI_TIMEOUT_MS });
  const edited = commentText(page, 'second version');
  expect(await edited.textContent()).toBe('second version\nover two lines');
  expect(
    await page.locator('#comments li', { hasText: 'second version' }).locator('.meta').textContent(),
  ).toContain('edited');
  expect(dialogs).toEqual([]);

  // What another tab builds from its own view agrees.
  const reader = await newPage();
  await openConnected(reader, page.url());
  await commentText(reader, 'second version').waitFor({ timeout: UI_TIMEOUT_MS });
  expect(await commentText(reader, 'first version').count()).toBe(0);
});

it('wraps long unbroken words on a 390 px screen: no horizontal scrolling', async () => {
  const page = await newPage({ viewport: { width: 390, height: 844 } });
  await openConnected(page, demoPageUrl());
  await createPost(page, `https://example.com/${'title-without-spaces-'.repeat(8)}`);
  const url = `https://example.com/${'a-very-long-path-segment/'.repeat(30)}?q=${'x'.repeat(200)}`;
  await addComment(page, url);

  const overflow = await page.evaluate(() => ({
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    widest: Math.max(
      ...Array.from(document.querySelectorAll('body *'), (element) => element.getBoundingClientRect().right),
    ),
  }));
  expect(overflow.page).toBe(0);
  expect(overflow.widest).toBeLessThanOrEqual(390);
});

it('says a post deleted on the server is gone when a write finds it missing, and clears it', async () => {
  const target = loadTarget();
  const page = await newPage();
  await openConnected(page, demoPageUrl());
  const postId = await createPost(page, 'Deleted behind the page');
  await addComment(page, 'about to lose its post');

  // The post and its counter (writes take their seq from it): what a stack restarted empty lacks too.
  const dynamo = documentClient(target);
  for (const sk of [commentKeys.postSortKey, commentKeys.counterSortKey]) {
    await dynamo.send(
      new DeleteCommand({
        TableName: target.commentsTableName,
        Key: { pk: commentKeys.postPartition(postId), sk },
      }),
    );
  }
  await page.fill('#comment-content', 'written to a post that is gone');
  await page.click('#add-comment button');

  await page
    .locator('#notice-heading', { hasText: 'This post no longer exists' })
    .waitFor({ timeout: UI_TIMEOUT_MS });
  expect(await page.isHidden('#post-panel')).toBe(true);
  expect(await page.locator('#comments li').count()).toBe(0);
  expect(await page.locator('#recent-posts', { hasText: 'Deleted behind the page' }).count()).toBe(0);
});

it('shows the connection and post states through a gateway outage, and "Reconnect now" skips the backoff wait', async () => {
  const crashUrl = readOutputsFile(process.env.E2E_LOCAL_OUTPUTS_FILE ?? '').required('GatewayCrashUrl');
  const outage = (downForMs: number): Promise<Response> =>
    fetch(crashUrl, { method: 'POST', body: JSON.stringify({ downForMs }) });
  const page = await newPage();
  let attempts = 0;
  page.on('websocket', () => (attempts += 1));
  await openConnected(page, demoPageUrl());
  await createPost(page, 'Through an outage');

  try {
    expect((await outage(120_000)).status).toBe(200);
    await page.locator('#connection-state[data-state="reconnecting"]').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator('#post-state[data-state="syncing"]').waitFor({ timeout: UI_TIMEOUT_MS });
    await page.locator('#reconnect-now').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    // Five failed attempts in a row: the next one waits a random 0 to 16 s (then up to 30 s).
    const before = attempts;
    await eventually(() => Promise.resolve(attempts >= before + 5 ? true : undefined), 45_000);
  } finally {
    await outage(0);
  }
  const clicked = Date.now();
  await page.click('#reconnect-now');
  await page.locator('#connection-state[data-state="open"]').waitFor({ timeout: UI_TIMEOUT_MS });
  expect(Date.now() - clicked).toBeLessThan(4_000);
  await page.locator('#post-state[data-state="live"]').waitFor({ timeout: UI_TIMEOUT_MS });
  expect(await page.isHidden('#reconnect-now')).toBe(true);
}, 120_000);
