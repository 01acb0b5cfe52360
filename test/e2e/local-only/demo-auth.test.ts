import type { Browser, Page } from 'playwright-core';
import { TOKEN_PROTOCOL_PREFIX, WEBSOCKET_PROTOCOL } from '../../../contracts/websocket-auth';
import { eventually } from '../target';
import { demoPageUrl, launchChromium } from './demo-browser';

/**
 * The demo page in real Chromium (Debian's package, never a downloaded browser) authenticates its
 * WebSocket through Sec-WebSocket-Protocol: the handshake carries the token in the subprotocol list, the
 * answer selects the protocol, and no WebSocket URL the page opens, nor anything it logs, holds the token.
 */
interface Recorded {
  /** Every WebSocket URL the page opened. */
  urls: string[];
  /** Each handshake's Sec-WebSocket-Protocol, as Chromium sent it and as the server answered. */
  handshakes: { offered?: string; selected?: string }[];
  /** Every token the page was issued (the dev token route's answers). */
  tokens: string[];
  console: string[];
}

/** Records the page's WebSockets (playwright, and Chromium's own view of each handshake via CDP). */
async function record(page: Page): Promise<Recorded> {
  const recorded: Recorded = { urls: [], handshakes: [], tokens: [], console: [] };
  page.on('websocket', (socket) => recorded.urls.push(socket.url()));
  page.on('console', (message) => recorded.console.push(message.text()));
  page.on('response', (response) => {
    if (!response.url().endsWith('/_local/token') || !response.ok()) return;
    void response.json().then((body: { token?: string }) => {
      if (body.token) recorded.tokens.push(body.token);
    });
  });
  const cdp = await page.context().newCDPSession(page);
  const byRequest = new Map<string, { offered?: string; selected?: string }>();
  const headerOf = (headers: Record<string, string>): string | undefined =>
    Object.entries(headers).find(([name]) => name.toLowerCase() === 'sec-websocket-protocol')?.[1];
  cdp.on('Network.webSocketWillSendHandshakeRequest', ({ requestId, request }) => {
    const handshake = { offered: headerOf(request.headers) };
    byRequest.set(requestId, handshake);
    recorded.handshakes.push(handshake);
  });
  cdp.on('Network.webSocketHandshakeResponseReceived', ({ requestId, response }) => {
    const handshake = byRequest.get(requestId);
    if (handshake) handshake.selected = headerOf(response.headers);
  });
  await cdp.send('Network.enable');
  return recorded;
}

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

it('connects with the token in Sec-WebSocket-Protocol, and no WebSocket URL holds a token', async () => {
  // Prepare
  const context = await browser.newContext();
  const page = await context.newPage();
  const recorded = await record(page);

  // Act: open the page (it signs in and connects), then sign in as someone else (a new connection).
  await page.goto(demoPageUrl());
  await page.locator('#connection-state[data-state="open"]').waitFor();
  await page.fill('#user-id', 'demo-auth-other');
  await page.click('#sign-in button');
  await page.locator('#signed-in-as', { hasText: 'demo-auth-other' }).waitFor();
  // The second sign-in's connection has answered its handshake, and its token has been read.
  await eventually(async () =>
    recorded.handshakes.filter((h) => h.selected !== undefined).length >= 2 && recorded.tokens.length >= 2
      ? true
      : undefined,
  );
  await page.locator('#connection-state[data-state="open"]').waitFor();

  // Assess
  expect(recorded.tokens.length).toBeGreaterThanOrEqual(2);
  expect(recorded.urls.length).toBeGreaterThanOrEqual(2);
  for (const url of recorded.urls) {
    expect(url).not.toMatch(/[?&]token=/);
    for (const token of recorded.tokens) {
      expect(url).not.toContain(token);
      expect(url).not.toContain(token.split('.')[1]);
    }
  }
  const offered = recorded.handshakes.map((h) => h.offered ?? '');
  for (const token of recorded.tokens) {
    expect(offered).toContainEqual(`${WEBSOCKET_PROTOCOL}, ${TOKEN_PROTOCOL_PREFIX}${token}`);
  }
  for (const handshake of recorded.handshakes.filter((h) => h.selected !== undefined)) {
    expect(handshake.selected).toBe(WEBSOCKET_PROTOCOL);
  }
  for (const token of recorded.tokens) {
    expect(recorded.console.join('\n')).not.toContain(token.split('.')[1]);
  }

  await context.close();
});
