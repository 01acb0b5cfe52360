import { CommentView, RealtimeCommentsClient, type Comment } from '../../client';
import { NO_FAULTS, ScriptedServer, seededRandom, type Faults } from './scripted-server';

/**
 * "Every viewer sees every comment, live, exactly once, in order, whatever fails": the SDK against a
 * scripted server that drops, repeats and reorders events, loses and refuses answers, replays partly,
 * cuts pages short, loses pongs and drops connections, over many seeded runs. While faults last, the
 * application must never get a seq twice, out of order or after a hole, and lastSeq must never pass what
 * it got; once they stop, every post must converge to the server's stored list.
 */

const POSTS = ['post-a', 'post-b'];

const FAULTS: Faults = {
  dropEvent: 0.15,
  duplicateEvent: 0.1,
  maxEventDelayMs: 1500,
  loseAnswer: 0.1,
  errorAnswer: 0.1,
  losePart: 0.1,
  losePong: 0.05,
};

/** What the application saw of one post, and every rule it saw broken. */
class AppView {
  /** The seq the application is at: the last event's, or the last snapshot's. */
  position: number | undefined;
  readonly model = new CommentView();

  /** An application that kept a post's list and seq from an earlier session starts from them. */
  constructor(saved?: { seq: number; comments: Comment[] }) {
    if (!saved) return;
    this.position = saved.seq;
    this.model.replace(saved.comments);
  }

  readonly violations: string[] = [];
  snapshots = 0;
  events = 0;

  snapshot(seq: number | undefined, reset: boolean | undefined, comments: Comment[]): void {
    this.snapshots += 1;
    if (this.position !== undefined && !reset) this.violations.push(`a snapshot at ${seq} without reset`);
    if (reset && this.position !== undefined && seq !== undefined && seq <= this.position) {
      this.violations.push(`a reset snapshot at ${seq}, not after ${this.position}`);
    }
    this.position = seq;
    this.model.replace(comments);
  }

  event(seq: number | undefined, apply: () => void): void {
    this.events += 1;
    if (this.position === undefined || seq !== this.position + 1) {
      this.violations.push(`event ${seq} delivered after ${this.position}`);
    }
    this.position = seq;
    apply();
  }
}

async function run(seed: number): Promise<void> {
  const random = seededRandom(seed);
  const server = new ScriptedServer(random, { pageSize: 4, retainEvents: seed % 2 === 0 ? 1000 : 12 });
  for (const postId of POSTS) server.addPost(postId);
  // Some history before the client arrives, so snapshots have pages. In half the runs the application saved
  // the second post's list and seq in an earlier session, a few events ago, and resumes from them.
  for (let i = 0; i < 24; i += 1) server.write(POSTS[i % 2] as string);
  const saved = { seq: server.seq('post-b'), comments: server.stored('post-b') };
  for (let i = 0; i < 6; i += 1) server.write(POSTS[i % 2] as string);
  const resumed = seed % 4 >= 2;
  const client = new RealtimeCommentsClient({
    url: 'wss://scripted.test/dev',
    WebSocket: server.WebSocket,
    random,
    pingIntervalMs: 15_000,
  });
  const apps = new Map(
    POSTS.map((postId) => [postId, new AppView(resumed && postId === 'post-b' ? saved : undefined)]),
  );
  for (const [postId, app] of apps) {
    client.subscribe(
      postId,
      {
        onSnapshot: (event) => app.snapshot(event.data.seq, event.data.reset, event.data.comments),
        onEvent: (event) => app.event(event.seq, () => app.model.apply(event)),
      },
      app.position === undefined ? {} : { lastSeq: app.position },
    );
  }
  client.connect();

  const lastSeqChecks: string[] = [];
  const checkLastSeq = (): void => {
    for (const [postId, app] of apps) {
      const lastSeq = client.lastSeq(postId);
      if (app.position !== undefined && lastSeq !== app.position) {
        lastSeqChecks.push(`${postId}: lastSeq ${lastSeq} while the application is at ${app.position}`);
      }
    }
  };

  server.faults = FAULTS;
  for (let step = 0; step < 250; step += 1) {
    if (random() < 0.6) server.write(POSTS[Math.floor(random() * POSTS.length)] as string);
    if (random() < 0.01) server.dropConnection();
    // Now and then the client is away while comments keep coming: with few events retained, its
    // resubscribe finds them expired and gets a reset snapshot.
    if (random() < 0.01) server.goOffline(5_000 + Math.floor(random() * 15_000));
    await jest.advanceTimersByTimeAsync(Math.floor(random() * 800));
    checkLastSeq();
  }

  server.faults = NO_FAULTS;
  const converged = (): boolean =>
    POSTS.every(
      (postId) =>
        client.postState(postId) === 'live' &&
        client.lastSeq(postId) === server.seq(postId) &&
        apps.get(postId)?.position === server.seq(postId),
    );
  for (let waited = 0; waited < 10 * 60_000 && !converged(); waited += 1000) {
    await jest.advanceTimersByTimeAsync(1000);
    checkLastSeq();
  }

  const outcome = POSTS.map((postId) => {
    const app = apps.get(postId) as AppView;
    return {
      postId,
      violations: app.violations,
      state: client.postState(postId),
      lastSeq: client.lastSeq(postId),
      appAt: app.position,
      viewMatches: sameComments(client.comments(postId), server.stored(postId)),
      appModelMatches: sameComments(app.model.comments, server.stored(postId)),
    };
  });
  client.close();

  expect({ seed, lastSeqChecks, outcome }).toEqual({
    seed,
    lastSeqChecks: [],
    outcome: POSTS.map((postId) => ({
      postId,
      violations: [],
      state: 'live',
      lastSeq: server.seq(postId),
      appAt: server.seq(postId),
      viewMatches: true,
      appModelMatches: true,
    })),
  });
}

function sameComments(a: readonly Comment[], b: readonly Comment[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe('convergence under faults', () => {
  const seeds = Array.from({ length: 60 }, (_, index) => index + 1);

  it.each(seeds)(
    'seed %i: every seq once, in order; lastSeq never ahead; the view ends at the stored list',
    async (seed) => {
      await run(seed);
    },
  );
});
