import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { loadTarget, tokenFor } from '../target';
import { Dice, frame, httpCase, rawCase, upgradeCase, type FuzzTarget, type HttpCase } from './fuzz-inputs';

/**
 * No request can take the local stack down. A bounded fuzz of every local endpoint — the comments API and
 * the demo page, the broadcast API, the Management API, the Lambda Invoke API, the dev routes, the WebSocket
 * API — with random and malformed paths, methods, headers, percent-encodings, bodies, SigV4 headers,
 * request lines, upgrades and frames. Nothing may answer 5xx (the fault injection that would is left off,
 * and checked to be off at the end), and every endpoint must still work afterwards.
 *
 * Every input comes from one seeded generator, drawn before anything is sent, so a run is repeated exactly
 * with E2E_FUZZ_SEED=<seed>; the seed is printed first and named in every failure.
 */
const SEED = Number(process.env.E2E_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31)) >>> 0;
const HTTP_CASES = 2000;
const RAW_CASES = 300;
const UPGRADE_CASES = 120;
/** Time each phase may start cases for; what has started is waited for. Well under jest's 60 s per test. */
const HTTP_BUDGET_MS = 25_000;
const RAW_BUDGET_MS = 8_000;
const WEBSOCKET_CLIENTS = 6;
const FRAMES_PER_CLIENT = 50;
/** Requests in flight at once: enough to overlap, not enough to measure the machine instead of the stack. */
const CONCURRENCY = 8;

const target = loadTarget();
const outputs = JSON.parse(readFileSync(process.env.E2E_LOCAL_OUTPUTS_FILE ?? '', 'utf8')) as {
  LocalStack: { FaultsUrl: string; DeadLettersUrl: string };
};
const appUrl = new URL(target.commentsApiUrl);
const gatewayUrl = new URL(outputs.LocalStack.FaultsUrl);
const stage = new URL(target.broadcastUrl).pathname.replace(/^\//, '');
/** Where the generated cases go; the token is the fuzz user's, fetched once. */
const fuzzTarget = async (): Promise<FuzzTarget> => ({
  appPort: Number(appUrl.port),
  gatewayPort: Number(gatewayUrl.port),
  stage,
  token: await tokenFor(target, 'fuzz-user'),
});

/** One request, answered or not; never rejects. */
function sendHttp(
  agent: Agent | undefined,
  c: HttpCase,
): Promise<{ status: number; text: string } | { error: string }> {
  return new Promise((resolve) => {
    // Framing is explicit: Node's client sends a GET's body unframed unless told how.
    const framing = c.chunked
      ? { 'transfer-encoding': 'chunked' }
      : { 'content-length': String(c.body.length) };
    const headers = { ...c.headers, ...framing };
    let req: ReturnType<typeof request>;
    try {
      const options = { host: '127.0.0.1', port: c.port, method: c.method, path: c.path, headers };
      req = request(agent ? { ...options, agent } : { ...options, agent: false }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text = (text + chunk.toString()).slice(0, 300)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', (error) => resolve({ error: error.message }));
      });
    } catch (error) {
      // Node's client refuses some inputs itself (e.g. a path it will not send): nothing reached the stack.
      return resolve({ status: 0, text: `not sent: ${(error as Error).message}` });
    }
    req.setTimeout(15_000, () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', (error) => resolve({ error: error.message }));
    if (c.abandon) {
      req.write(c.body.subarray(0, c.body.length >> 1));
      setTimeout(() => {
        req.destroy();
        resolve({ status: 0, text: 'abandoned' });
      }, 20);
      return;
    }
    for (let at = 0; at < c.body.length; at += 16 * 1024) req.write(c.body.subarray(at, at + 16 * 1024));
    req.end();
  });
}

/** Writes raw bytes; returns the status line's code if one came back (0 if none) once the server is done. */
function sendRaw(port: number, data: Buffer): Promise<number> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write(data));
    const done = (): void => {
      socket.destroy();
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0));
    };
    // A request the server is still waiting on (an unfinished body) is given up after a moment.
    socket.setTimeout(500, done);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('close', done);
    socket.on('error', done);
  });
}

interface WebSocketOutcome {
  /** What the server said that only a failure would say. */
  failures: string[];
  /** The close code, when the server closed the connection before the final ping was answered. */
  closedWith?: number;
}

/** Sends the frames on one connection, then a ping, and waits for the pong or the server's close. */
async function fuzzWebSocket(
  frames: readonly { data: string | Buffer; binary: boolean }[],
  token?: string,
): Promise<WebSocketOutcome> {
  const failures: string[] = [];
  const url = token ? `${target.webSocketUrl}?token=${encodeURIComponent(token)}` : target.webSocketUrl;
  const socket = new WebSocket(url);
  socket.on('error', () => undefined);
  const ended = new Promise<number | undefined>((resolve) => {
    socket.on('message', (data) => {
      const message = String(data);
      if (/Internal server error|INTERNAL_ERROR/i.test(message)) {
        failures.push(`frame answered: ${message.slice(0, 200)}`);
      }
      if (/"type":"pong"/.test(message)) resolve(undefined);
    });
    socket.on('close', (code) => resolve(code));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
  });
  for (const { data, binary } of frames)
    if (socket.readyState === WebSocket.OPEN) socket.send(data, { binary });
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ action: 'ping' }));
  const timeout = new Promise<never>((_resolve, reject) =>
    setTimeout(() => reject(new Error('neither a pong nor a close within 15 s')), 15_000).unref(),
  );
  const closedWith = await Promise.race([ended, timeout]);
  socket.terminate();
  return closedWith === undefined ? { failures } : { failures, closedWith };
}

/**
 * Runs `work` over the cases in order, at most CONCURRENCY at a time, and starts no case after the deadline:
 * a slow machine runs a shorter prefix of the same seeded sequence instead of running out of time. Returns
 * how many cases ran.
 */
async function inPool<T>(
  cases: readonly T[],
  work: (c: T, index: number) => Promise<void>,
  budgetMs: number,
): Promise<number> {
  const deadline = Date.now() + budgetMs;
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < cases.length && Date.now() < deadline) {
        const index = next++;
        await work(cases[index] as T, index);
      }
    }),
  );
  return next;
}

const describeCase = (c: HttpCase): string =>
  `${c.method} :${c.port}${c.path.slice(0, 160)} (${c.body.length} bytes${c.chunked ? ', chunked' : ''})`;

describe(`fuzz (seed ${SEED}, replay with E2E_FUZZ_SEED=${SEED})`, () => {
  let faultsBefore: unknown;

  beforeAll(async () => {
    console.log(`[fuzz] seed ${SEED}: replay with E2E_FUZZ_SEED=${SEED}`);
    faultsBefore = await (await fetch(outputs.LocalStack.FaultsUrl)).json();
  });

  it('answers random and malformed HTTP requests on both ports without a 5xx', async () => {
    // Prepare
    const dice = new Dice(SEED);
    const to = await fuzzTarget();
    const cases: HttpCase[] = [];
    // First, so that they run however slow the machine: a body over each quota, sent chunked, so that
    // only reading tells the server its size.
    const overQuota = [
      [appUrl.port, '/api/v1/posts', 10 * 1024 * 1024 + 1],
      [gatewayUrl.port, `/${stage}/broadcast/comments`, 10 * 1024 * 1024 + 1],
      [gatewayUrl.port, `/${stage}/@connections/abc%3D`, 128 * 1024 + 1],
      [gatewayUrl.port, '/2015-03-31/functions/x/invocations', 6 * 1024 * 1024 + 1],
      [gatewayUrl.port, '/_local/faults', 64 * 1024 + 1],
    ] as const;
    for (const [port, path, size] of overQuota) {
      cases.push({
        port: Number(port),
        method: 'POST',
        path,
        headers: { host: `localhost:${port}` },
        body: Buffer.alloc(size, 97),
        chunked: true,
        abandon: false,
      });
    }
    for (let i = 0; i < HTTP_CASES; i += 1) cases.push(await httpCase(dice, to));
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const failures: string[] = [];
    const statuses: Record<number, number> = {};

    // Act
    const started = Date.now();
    const ran = await inPool(
      cases,
      async (c, index) => {
        let answer = await sendHttp(agent, c);
        // A keep-alive connection the server closed as it was being reused: once more on a fresh one.
        if ('error' in answer && !c.abandon) answer = await sendHttp(undefined, c);
        if ('error' in answer) {
          if (!c.abandon) failures.push(`#${index} ${describeCase(c)}: ${answer.error}`);
        } else if (answer.status >= 500 || (index < overQuota.length && answer.status !== 413)) {
          failures.push(`#${index} ${describeCase(c)}: ${answer.status} ${answer.text}`);
        } else {
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
        }
      },
      HTTP_BUDGET_MS,
    );
    agent.destroy();
    console.log(
      `[fuzz] HTTP: ${ran} of ${cases.length} requests in ${Date.now() - started} ms; ` +
        `answered ${JSON.stringify(statuses)}`,
    );

    // Assess
    expect({ seed: SEED, failures }).toEqual({ seed: SEED, failures: [] });
  });

  it('answers broken request lines, headers, framing and upgrades without a 5xx', async () => {
    // Prepare
    const dice = new Dice(SEED ^ 0x5bd1e995);
    const to = await fuzzTarget();
    const raw = Array.from({ length: RAW_CASES }, () => rawCase(dice, to));
    const upgrades = Array.from({ length: UPGRADE_CASES }, () => upgradeCase(dice, stage));
    const statuses: number[] = [];
    const failures: string[] = [];

    // Act
    const started = Date.now();
    const ranRaw = await inPool(
      raw,
      async ({ port, data }, index) => {
        const status = await sendRaw(port, data);
        statuses.push(status);
        if (status >= 500)
          failures.push(`raw #${index} ${JSON.stringify(data.toString('latin1').slice(0, 120))}: ${status}`);
      },
      RAW_BUDGET_MS,
    );
    const ranUpgrades = await inPool(
      upgrades,
      async (data, index) => {
        const status = await sendRaw(Number(gatewayUrl.port), data);
        if (status >= 500)
          failures.push(
            `upgrade #${index} ${JSON.stringify(data.toString('latin1').slice(0, 120))}: ${status}`,
          );
      },
      RAW_BUDGET_MS,
    );
    console.log(
      `[fuzz] raw: ${ranRaw} of ${raw.length} requests, ${ranUpgrades} of ${upgrades.length} upgrades ` +
        `in ${Date.now() - started} ms`,
    );

    // Assess
    expect({ seed: SEED, failures }).toEqual({ seed: SEED, failures: [] });
    expect(statuses.some((status) => status === 400)).toBe(true);
  });

  it('takes random, binary, invalid and oversized frames on open connections without a failure', async () => {
    // Prepare
    const dice = new Dice(SEED ^ 0x27d4eb2f);
    const token = await tokenFor(target, 'fuzz-user');
    const clients = Array.from({ length: WEBSOCKET_CLIENTS }, () => ({
      frames: Array.from({ length: FRAMES_PER_CLIENT }, () => frame(dice)),
    }));
    // Frames the server closes the connection for (not UTF-8, over 128 KB): each on a connection of its own.
    const closers = [
      { frames: [{ data: Buffer.from([0x7b, 0xc3, 0x28, 0xff, 0x7d]), binary: false }] },
      { frames: [{ data: 'x'.repeat(128 * 1024 + 1), binary: false }] },
    ];

    // Act
    const outcomes = await Promise.all(clients.map(({ frames }) => fuzzWebSocket(frames, token)));
    const closed = await Promise.all(closers.map(({ frames }) => fuzzWebSocket(frames, token)));

    // Assess
    const failures = [...outcomes, ...closed].flatMap((outcome) => outcome.failures);
    expect({ seed: SEED, failures }).toEqual({ seed: SEED, failures: [] });
    expect(outcomes.map((outcome) => outcome.closedWith)).toEqual(clients.map(() => undefined));
    // 1007 and 1009 as the server closes; 1006 when the server cuts an oversized frame's connection while
    // the client is still writing it, before the close frame can be read.
    for (const { closedWith } of closed) expect([1006, 1007, 1009]).toContain(closedWith);
  });

  it('is still up afterwards: every endpoint answers, and no fault was turned on', async () => {
    // Act
    const page = await fetch(`${appUrl.origin}/`);
    const missingPost = await fetch(`${target.commentsApiUrl}/api/v1/posts/fuzz-no-such-post`);
    const faults = await (await fetch(outputs.LocalStack.FaultsUrl)).json();
    const deadLetters = await fetch(outputs.LocalStack.DeadLettersUrl);
    const ping = await fuzzWebSocket([], await tokenFor(target, 'fuzz-user'));

    // Assess
    expect(page.status).toBe(200);
    expect(missingPost.status).toBe(404);
    expect(faults).toEqual(faultsBefore);
    expect(deadLetters.status).toBe(200);
    expect(ping).toEqual({ failures: [] });
  });
});
