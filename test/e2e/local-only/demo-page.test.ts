import { readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * The demo page in real Chromium (Debian's package, never a downloaded browser): a comment added in one
 * tab appears in another without a reload, and comment text is shown as text, never run as HTML.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

function demoPageUrl(): string {
  const file = process.env.E2E_LOCAL_OUTPUTS_FILE;
  if (!file) throw new Error('the demo page test needs the local stack');
  const outputs = JSON.parse(readFileSync(file, 'utf8')) as { LocalStack?: { DemoPageUrl?: string } };
  const url = outputs.LocalStack?.DemoPageUrl;
  if (!url) throw new Error('DemoPageUrl missing from the local outputs');
  return url;
}

let browser: Browser;

beforeAll(async () => {
  browser = await chromium.launch({
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
});

afterAll(async () => {
  await browser?.close();
});

async function openConnected(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.locator('#connection-state[data-state="open"]').waitFor();
}

it('shows a comment added in one tab in the other, live and inert', async () => {
  const base = demoPageUrl();
  const writerContext = await browser.newContext();
  const readerContext = await browser.newContext();
  const writer = await writerContext.newPage();
  const reader = await readerContext.newPage();
  const dialogs: string[] = [];
  reader.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });

  await openConnected(writer, base);
  await writer.fill('#post-title', 'Browser test post');
  await writer.click('#create-post button');
  await writer.locator('#post-panel:not([hidden])').waitFor();
  const postUrl = writer.url();
  expect(postUrl).toMatch(/#post=/);
  await openConnected(reader, postUrl);
  await reader.locator('#post-panel:not([hidden])').waitFor();
  const readerUrlBefore = reader.url();

  const hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script> hello from tab one';
  await writer.fill('#comment-content', hostile);
  await writer.click('#add-comment button');

  const arrived = reader.locator('#comments li .content', { hasText: 'hello from tab one' });
  await arrived.waitFor();
  expect(await arrived.textContent()).toBe(hostile);
  expect(await reader.locator('#comments img, #comments script').count()).toBe(0);
  expect(reader.url()).toBe(readerUrlBefore);
  expect(dialogs).toEqual([]);

  await writerContext.close();
  await readerContext.close();
});
