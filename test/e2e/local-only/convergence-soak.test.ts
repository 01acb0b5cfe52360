import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import WebSocket from 'ws';
import {
  CommentsApiClient,
  RealtimeCommentsClient,
  type Comment,
  type CommentEvent,
  type CommentsListEvent,
  type WebSocketConstructor,
} from '../../../client';
import {
  REPO_ROOT,
  startLocalStackProcess,
  type LocalStackProcess,
} from '../../../local/launch/local-stack-process';
import { readOutputsFile } from '../../../local/launch/outputs-file';

/**
 * The convergence guarantee under every fault at once: SDK clients on two posts, writers creating,
 * editing and deleting with retries that carry idempotency keys, while the gateway loses, throttles,
 * fails and slows pushes, crashes once and the broadcast API is down for a while; one post holds more
 * comments than a snapshot page, one client is away longer than the event log keeps events, one joins
 * mid-stream. At the end every client's view equals the stored list, every acknowledged write is stored
 * exactly once, and no event reached an application out of seq order.
 *
 * It runs a stack of its own, with an event retention of seconds (so "away longer than the event log" is
 * a short wait) and small fan-out batches (so the worker path carries most pushes). Bounded: a fixed number
 * of operations and clients, every wait a condition with a deadline. The seed is printed for a replay.
 */
const PORTS = { app: 16100, gateway: 16101, dynamodb: 16102 };
const EVENT_RETENTION_SECONDS = 12;
const CLIENTS = 20;
const WRITERS = 3;
const OPERATIONS_PER_WRITER = 40;
/** More than one snapshot page (100), so a fresh subscriber must page the rest. */
const PRELOADED_COMMENTS = 130;
const SEED = Number(process.env.E2E_SOAK_SEED ?? Date.now() % 1_000_000);

jest.setTimeout(240_000);

let stack: LocalStackProcess;
let urls: {
  webSocketUrl: string;
  commentsApiUrl: string;
  tokenUrl: string;
  faultsUrl: string;
  crashUrl: string;
};
const clients: RealtimeCommentsClient[] = [];

/** A small seeded generator (mulberry32), so a failing run can be replayed with E2E_SOAK_SEED. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = seeded(SEED);

async function tokenFor(userId: string): Promise<string> {
  const response = await fetch(urls.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (!response.ok) throw new Error(`token route answered ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}

async function setFaults(faults: Record<string, unknown>): Promise<void> {
  const response = await fetch(urls.faultsUrl, { method: 'PUT', body: JSON.stringify(faults) });
  if (!response.ok) throw new Error(`faults answered ${response.status}`);
}

async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (seed ${SEED})`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** What one client's application received for one post, in order: snapshots (by seq) and events. */
interface Received {
  log: (
    { kind: 'snapshot'; seq: number; reset: boolean; at: number } | { kind: 'event'; seq: number; at: number }
  )[];
  view: readonly Comment[];
}

interface Reader {
  name: string;
  client: RealtimeCommentsClient;
  posts: Map<string, Received>;
}

function reader(name: string, postIds: readonly string[]): Reader {
  const client = new RealtimeCommentsClient({
    url: urls.webSocketUrl,
    token: () => tokenFor(`reader-${name}`),
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    backoff: { initialMs: 200, maxMs: 2000, factor: 2 },
    // Often enough that a lost last event is noticed within the test's wait.
    pingIntervalMs: 3000,
    pongTimeoutMs: 5000,
    subscribeTimeoutMs: 4000,
    random,
  });
  clients.push(client);
  const posts = new Map<string, Received>();
  for (const postId of postIds) {
    const received: Received = { log: [], view: [] };
    posts.set(postId, received);
    client.subscribe(postId, {
      onSnapshot: (event: CommentsListEvent) =>
        received.log.push({
          kind: 'snapshot',
          seq: event.data.seq ?? -1,
          reset: event.data.reset === true,
          at: Date.now(),
        }),
      onEvent: (event: CommentEvent) =>
        received.log.push({ kind: 'event', seq: event.seq ?? -1, at: Date.now() }),
      onView: (comments) => {
        received.view = comments;
      },
    });
  }
  return { name, client, posts };
}

/** Every page of the stored list, as the comments API serves it. */
async function storedComments(api: CommentsApiClient, postId: string): Promise<Comment[]> {
  const comments: Comment[] = [];
  let cursor: string | undefined;
  do {
    const page = await api.listComments(postId, { limit: 100, ...(cursor ? { cursor } : {}) });
    comments.push(...page.comments);
    cursor = page.nextCursor;
  } while (cursor);
  return comments;
}

/** A comment as both sides show it: what a user sees, nothing the transport adds. */
const shown = (c: Comment) => ({
  id: c.id,
  content: c.content,
  userId: c.userId,
  updatedAt: c.updatedAt ?? null,
});

/** Events reach the application in seq order: each one after the previous event or snapshot it follows. */
function inSeqOrder(log: Received['log']): boolean {
  let applied: number | undefined;
  for (const entry of log) {
    if (entry.kind === 'snapshot') {
      applied = entry.seq;
      continue;
    }
    if (applied !== undefined && entry.seq !== applied + 1) return false;
    applied = entry.seq;
  }
  return true;
}

beforeAll(async () => {
  const workDir = path.join(REPO_ROOT, '.local', 'soak');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const outputsFile = path.join(workDir, 'outputs.json');
  stack = await startLocalStackProcess(
    {
      LOCAL_APP_PORT: String(PORTS.app),
      LOCAL_GATEWAY_PORT: String(PORTS.gateway),
      LOCAL_DYNAMODB_PORT: String(PORTS.dynamodb),
      LOCAL_OUTPUTS_FILE: outputsFile,
      LOCAL_ASSEMBLY_DIR: path.join(workDir, 'cdk.out'),
      LOCAL_ISSUER_KEYS_FILE: path.join(workDir, 'issuer-keys.json'),
      LOCAL_DYNAMODB_PATH: path.join(workDir, 'dynamodb'),
      LOCAL_EVENT_RETENTION_SECONDS: String(EVENT_RETENTION_SECONDS),
      LOCAL_FAN_OUT_BATCH_SIZE: '4',
      LOCAL_ASYNC_RETRY_DELAY_MS: '300',
    },
    { readyTimeoutMs: 180_000 },
  );
  const outputs = readOutputsFile(outputsFile);
  urls = {
    webSocketUrl: outputs.required('WebSocketUrl'),
    commentsApiUrl: outputs.required('CommentsApiUrl'),
    tokenUrl: outputs.required('TokenUrl'),
    faultsUrl: outputs.required('FaultsUrl'),
    crashUrl: outputs.required('GatewayCrashUrl'),
  };
  console.log(`[soak] seed ${SEED}: replay with E2E_SOAK_SEED=${SEED}`);
}, 200_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await stack?.stop();
});

it('converges every client to the stored list under every fault at once', async () => {
  // Prepare: two posts, one already past a snapshot page; most readers follow both.
  const api = (user: string) =>
    new CommentsApiClient({ url: urls.commentsApiUrl, token: () => tokenFor(user), maxAttempts: 8, random });
  const owner = api('soak-owner');
  const busy = await owner.createPost({ title: 'busy post' });
  const quiet = await owner.createPost({ title: 'quiet post' });
  for (let i = 1; i <= PRELOADED_COMMENTS; i += 1) await owner.createComment(busy.id, `preloaded ${i}`);
  const postIds = [busy.id, quiet.id];
  const readers = Array.from({ length: CLIENTS - 1 }, (_, i) => reader(`r${i}`, postIds));
  for (const { client } of readers) client.connect();
  await until(
    () => readers.every((r) => postIds.every((postId) => r.client.postState(postId) === 'live')),
    60_000,
    'every reader live before the faults',
  );
  // The one that will stay away longer than the event log keeps events.
  const away = readers[0] as Reader;
  away.client.close();
  const awaySince = Date.now();

  // Act: writers under every fault; a joiner midway; the gateway crashes once; the broadcast API goes down.
  await setFaults({ goneRate: 0.05, throttleRate: 0.2, errorRate: 0.05, slowRate: 0.1, slowMs: 150 });
  const acknowledged = new Map<string, { postId: string; content: string; deleted: boolean }>();
  let joiner: Reader | undefined;
  const writer = async (index: number): Promise<void> => {
    const client = api(`soak-writer-${index}`);
    const mine: string[] = [];
    for (let op = 0; op < OPERATIONS_PER_WRITER; op += 1) {
      const postId = random() < 0.7 ? busy.id : quiet.id;
      const roll = random();
      const target = mine[Math.floor(random() * mine.length)];
      const entry = target === undefined ? undefined : acknowledged.get(target);
      try {
        if (roll < 0.15 && entry && !entry.deleted) {
          await client.deleteComment(entry.postId, target as string);
          entry.deleted = true;
        } else if (roll < 0.35 && entry && !entry.deleted) {
          const content = `edited by w${index} op ${op}`;
          await client.editComment(entry.postId, target as string, content);
          entry.content = content;
        } else {
          const content = `w${index} op ${op}`;
          const comment = await client.createComment(postId, content);
          acknowledged.set(comment.id, { postId, content, deleted: false });
          mine.push(comment.id);
        }
      } catch {
        // Refused after every retry (all attempts throttled or failing): unacknowledged, so not counted.
      }
      if (index === 0 && op === 10) {
        await setFaults({ broadcastUnavailable: true });
      }
      if (index === 0 && op === 18) {
        await setFaults({ broadcastUnavailable: false });
        await fetch(urls.crashUrl, { method: 'POST', body: JSON.stringify({ downForMs: 2000 }) });
      }
      if (index === 1 && op === 20) {
        joiner = reader('joiner', postIds);
        joiner.client.connect();
      }
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: WRITERS }, (_, i) => writer(i)));
  // The away client must come back after its missed events expired.
  const awayFor = EVENT_RETENTION_SECONDS * 1000 + 2000 - (Date.now() - started);
  if (awayFor > 0) await new Promise((resolve) => setTimeout(resolve, awayFor));
  await fetch(urls.faultsUrl, { method: 'DELETE' });
  const awayUntil = Date.now();
  away.client.connect();
  const everyone = [...readers, ...(joiner ? [joiner] : [])];

  // Assess: every view converges to the stored list.
  const reference = api('soak-checker');
  const stored = new Map<string, Comment[]>();
  for (const postId of postIds) stored.set(postId, await storedComments(reference, postId));
  const mismatches = (): string[] =>
    everyone.flatMap((r) =>
      postIds.flatMap((postId) => {
        const view = (r.posts.get(postId)?.view ?? []).map(shown);
        const expected = (stored.get(postId) ?? []).map(shown);
        const state = r.client.postState(postId);
        if (state === 'live' && JSON.stringify(view) === JSON.stringify(expected)) return [];
        const viewIds = new Set(view.map((c) => c.id));
        const expectedIds = new Set(expected.map((c) => c.id));
        const missing = expected.filter((c) => !viewIds.has(c.id)).length;
        const extra = view.filter((c) => !expectedIds.has(c.id)).length;
        const stale = view.filter((c) => {
          const e = expected.find((x) => x.id === c.id);
          return e !== undefined && JSON.stringify(e) !== JSON.stringify(c);
        }).length;
        const log = r.posts.get(postId)?.log ?? [];
        const last = log[log.length - 1];
        return [
          `${r.name}/${postId === busy.id ? 'busy' : 'quiet'}: ${state}, connection ${r.client.state}, ` +
            `view ${view.length} vs ${expected.length} (missing ${missing}, extra ${extra}, stale ${stale}), ` +
            `last ${last ? `${last.kind} ${last.seq}` : 'none'}`,
        ];
      }),
    );
  try {
    await until(() => mismatches().length === 0, 90_000, 'every view equal to the stored list');
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${mismatches().join('\n')}`, { cause: error });
  }
  for (const r of everyone) {
    for (const postId of postIds) {
      const received = r.posts.get(postId) as Received;
      expect({ reader: r.name, postId, inOrder: inSeqOrder(received.log) }).toEqual({
        reader: r.name,
        postId,
        inOrder: true,
      });
      expect(received.view.map(shown)).toEqual((stored.get(postId) ?? []).map(shown));
    }
  }
  // Every acknowledged write is stored exactly once: each create's content appears once (no retry stored
  // a second copy), deletions are gone, edits are in place.
  const all = [...(stored.get(busy.id) ?? []), ...(stored.get(quiet.id) ?? [])];
  const byId = new Map(all.map((comment) => [comment.id, comment]));
  for (const [id, entry] of acknowledged) {
    if (entry.deleted) expect(byId.has(id)).toBe(false);
    else expect(byId.get(id)?.content).toBe(entry.content);
  }
  const contents = all.map((comment) => comment.content).filter((content) => /^w\d+ op \d+$/.test(content));
  expect(new Set(contents).size).toBe(contents.length);
  // The reader that was away came back past the event log: it converged from a complete reset snapshot.
  const awayLog = (away.posts.get(busy.id) as Received).log;
  expect({
    reset: awayLog.some((entry) => entry.kind === 'snapshot' && entry.reset),
    log: awayLog.map(
      (entry) =>
        `${entry.kind === 'snapshot' ? `S${entry.seq}${entry.reset ? 'r' : ''}` : entry.seq}@${entry.at - awaySince}`,
    ),
    awayForMs: awayUntil - awaySince,
  }).toEqual(expect.objectContaining({ reset: true }));
  expect(joiner).toBeDefined();
});
