import type { BroadcastEnvelope, SequencedChangeEvent } from '../../../contracts/protocol';
import type { BroadcastOptions, BroadcastSummary } from '../../../lambda/fan-out/broadcast-service';
import {
  EventPublisher,
  PublishDeferredError,
  type StoredEvents,
} from '../../../lambda/fan-out/event-publisher';
import type {
  ClaimMode,
  ClaimResult,
  PublishClaim,
  PublishClaims,
} from '../../../lambda/fan-out/publish-claims';
import { CommentService } from '../../../lambda/comments-api/comment-service';
import { logger, metrics } from '../../../lambda/shared/telemetry';
import {
  fixedTimeDependencies,
  InMemoryCommentRepository,
  RecordingPublisher,
} from '../comments-api/fixtures';

const TTL_MS = 30_000;

/** A clock that only moves when the code under test sleeps; actions scheduled for a time run as it passes. */
class FakeClock {
  time = 0;
  readonly sleeps: number[] = [];
  private readonly due: { at: number; action: () => void }[] = [];

  readonly now = (): number => this.time;

  readonly sleep = async (ms: number): Promise<void> => {
    this.sleeps.push(ms);
    this.time += ms;
    for (const entry of this.due.filter(({ at }) => at <= this.time)) {
      this.due.splice(this.due.indexOf(entry), 1);
      entry.action();
    }
  };

  at(time: number, action: () => void): void {
    this.due.push({ at: time, action });
  }
}

/**
 * The publish cursor in memory, by the rules of DynamoPublishClaims: published first, then a live claim,
 * then (fast path only) the previous event must be published. `scripted` answers come first, when set.
 */
class FakeClaims implements PublishClaims {
  readonly published = new Map<string, number>();
  readonly held = new Map<string, PublishClaim>();
  readonly calls: string[] = [];
  readonly scripted: ClaimResult[] = [];
  releaseError?: Error;
  private tokens = 0;

  constructor(private readonly clock: FakeClock) {}

  async claim(postId: string, seq: number, mode: ClaimMode): Promise<ClaimResult> {
    this.calls.push(`claim ${postId} ${seq} ${mode}`);
    const scripted = this.scripted.shift();
    if (scripted) return scripted;
    const now = this.clock.now();
    const published = this.published.get(postId) ?? 0;
    if (published >= seq) return { outcome: 'published' };
    const holder = this.held.get(postId);
    if (holder && holder.expiresAt >= now) return { outcome: 'busy', until: holder.expiresAt };
    if (mode === 'next' && published !== seq - 1) return { outcome: 'notNext' };
    this.tokens += 1;
    const claim: PublishClaim = { postId, seq, token: `token-${this.tokens}`, expiresAt: now + TTL_MS };
    this.held.set(postId, claim);
    return { outcome: 'claimed', claim };
  }

  async complete(claim: PublishClaim): Promise<boolean> {
    this.calls.push(`complete ${claim.postId} ${claim.seq}`);
    if (this.held.get(claim.postId)?.token !== claim.token) return false;
    this.held.delete(claim.postId);
    if ((this.published.get(claim.postId) ?? 0) < claim.seq) this.published.set(claim.postId, claim.seq);
    return true;
  }

  async release(claim: PublishClaim): Promise<void> {
    this.calls.push(`release ${claim.postId} ${claim.seq}`);
    if (this.releaseError) throw this.releaseError;
    if (this.held.get(claim.postId)?.token === claim.token) this.held.delete(claim.postId);
  }

  /** Another path's claim on the event, as if it had claimed it at the current time. */
  holdElsewhere(postId: string, seq: number, expiresAt: number): PublishClaim {
    const claim: PublishClaim = { postId, seq, token: 'elsewhere', expiresAt };
    this.held.set(postId, claim);
    return claim;
  }
}

/** Records every broadcast; `failWith` makes them throw; `during` runs while one is in flight. */
class FakeBroadcaster {
  readonly sent: { envelope: BroadcastEnvelope; options: BroadcastOptions | undefined }[] = [];
  failWith?: Error;
  during?: () => void;

  readonly broadcast = async (
    envelope: BroadcastEnvelope,
    options?: BroadcastOptions,
  ): Promise<BroadcastSummary> => {
    this.sent.push({ envelope, options });
    this.during?.();
    if (this.failWith) throw this.failWith;
    return summary(`broadcast-${this.sent.length}`);
  };
}

const summary = (broadcastId: string): BroadcastSummary => ({
  broadcastId,
  connectionCount: 2,
  delivered: 2,
  stale: 0,
  retried: 0,
  failed: 0,
  queued: 0,
  batches: 0,
  handedOn: 0,
});

const stored = (seq: number, eventId = `event-${seq}`): SequencedChangeEvent => ({
  type: 'comment.created',
  data: {
    postId: 'p1',
    comment: { id: `c${seq}`, postId: 'p1', userId: 'u1', content: `stored ${seq}`, createdAt: 'then' },
  },
  eventId,
  seq,
});

function fakeEvents(events: SequencedChangeEvent[]): StoredEvents & { getEvent: jest.Mock } {
  return {
    getEvent: jest.fn(async (postId: string, seq: number) =>
      events.find((event) => event.data.postId === postId && event.seq === seq),
    ),
  };
}

function setUp(events: SequencedChangeEvent[] = [stored(1), stored(2), stored(3)]) {
  const clock = new FakeClock();
  const claims = new FakeClaims(clock);
  const broadcaster = new FakeBroadcaster();
  const storedEvents = fakeEvents(events);
  const publisher = new EventPublisher({
    claims,
    broadcaster,
    events: storedEvents,
    now: clock.now,
    sleep: clock.sleep,
    // Waits at the top of each backoff step: 49, 99, 198, 396, 792, 990 ms.
    random: () => 0.99,
  });
  return { clock, claims, broadcaster, events: storedEvents, publisher };
}

/** The envelope the comments API sends for a stored event: the same, as far as the caller says. */
const sent = (event: SequencedChangeEvent): BroadcastEnvelope => JSON.parse(JSON.stringify(event));

const metricNames = (addMetric: jest.SpyInstance): unknown[] => addMetric.mock.calls.map(([name]) => name);

afterEach(() => {
  jest.restoreAllMocks();
});

describe('EventPublisher.publishNow (the fast path)', () => {
  it('broadcasts an envelope that names no stored event as it is, without claiming anything', async () => {
    // Prepare
    const { publisher, broadcaster, claims, events } = setUp();
    const notice = { type: 'system.notice', data: { text: 'maintenance' } };

    // Act
    const result = await publisher.publishNow(notice, { correlationId: 'corr-1' });

    // Assess
    expect(result).toEqual({ published: true, summary: summary('broadcast-1') });
    expect(broadcaster.sent).toEqual([{ envelope: notice, options: { correlationId: 'corr-1' } }]);
    expect(events.getEvent).not.toHaveBeenCalled();
    expect(claims.calls).toEqual([]);
  });

  it.each([
    ['no seq', { type: 'comment.created', data: { postId: 'p1' }, eventId: 'e1' }],
    ['no eventId', { type: 'comment.created', data: { postId: 'p1' }, seq: 1 }],
    ['no data.postId', { type: 'comment.created', data: {}, eventId: 'e1', seq: 1 }],
  ])('broadcasts an envelope with %s as it is', async (_name, envelope) => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();

    // Act
    const result = await publisher.publishNow(envelope);

    // Assess
    expect(result.published).toBe(true);
    expect(broadcaster.sent.map((entry) => entry.envelope)).toEqual([envelope]);
    expect(claims.calls).toEqual([]);
  });

  it("claims the post's next event, fans out the stored event and marks it published", async () => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();
    claims.published.set('p1', 1);
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const result = await publisher.publishNow(sent(stored(2)), { correlationId: 'corr-1' });

    // Assess
    expect(result).toEqual({ published: true, summary: summary('broadcast-1') });
    expect(claims.calls).toEqual(['claim p1 2 next', 'complete p1 2']);
    expect(broadcaster.sent).toEqual([{ envelope: stored(2), options: { correlationId: 'corr-1' } }]);
    expect(claims.published.get('p1')).toBe(2);
    expect(claims.held.size).toBe(0);
    expect(metricNames(addMetric)).toEqual(['EventsPublished']);
  });

  it('publishes what the table stores, not what the caller says the event holds', async () => {
    // Prepare
    const { publisher, broadcaster } = setUp();
    const forged = {
      ...sent(stored(1)),
      data: { postId: 'p1', comment: { content: 'not what was stored' } },
    };

    // Act
    await publisher.publishNow(forged);

    // Assess
    expect(broadcaster.sent.map((entry) => entry.envelope)).toEqual([stored(1)]);
  });

  it('refuses an event the table does not store (notStored), claiming and sending nothing', async () => {
    // Prepare
    const { publisher, broadcaster, claims, events } = setUp([]);

    // Act
    const result = await publisher.publishNow(sent(stored(1)));

    // Assess
    expect(result).toEqual({ published: false, reason: 'notStored' });
    expect(events.getEvent).toHaveBeenCalledWith('p1', 1);
    expect(claims.calls).toEqual([]);
    expect(broadcaster.sent).toEqual([]);
  });

  it('refuses an event whose eventId is not the stored one (conflict), claiming and sending nothing', async () => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();

    // Act
    const result = await publisher.publishNow(sent(stored(1, 'another-event')));

    // Assess
    expect(result).toEqual({ published: false, reason: 'conflict' });
    expect(claims.calls).toEqual([]);
    expect(broadcaster.sent).toEqual([]);
  });

  it.each([
    [
      'alreadyPublished',
      'this event is published already',
      (claims: FakeClaims) => claims.published.set('p1', 2),
    ],
    [
      'claimedElsewhere',
      'the stream holds the claim',
      (claims: FakeClaims) => {
        claims.published.set('p1', 1);
        claims.holdElsewhere('p1', 2, TTL_MS);
      },
    ],
    [
      'awaitingEarlierEvent',
      'an earlier event is not published yet',
      (claims: FakeClaims) => claims.published.set('p1', 0),
    ],
  ] as const)('skips with %s when %s, sending nothing', async (reason, _when, prepare) => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();
    prepare(claims);
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const published = claims.published.get('p1');

    // Act
    const result = await publisher.publishNow(sent(stored(2)));

    // Assess
    expect(result).toEqual({ published: false, reason });
    expect(broadcaster.sent).toEqual([]);
    expect(claims.published.get('p1')).toBe(published);
    expect(metricNames(addMetric)).toEqual(['EventsSkipped']);
  });

  it('gives the claim back at once when the fan-out fails, and throws', async () => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();
    broadcaster.failWith = new Error('connections table unavailable');

    // Act
    const attempt = publisher.publishNow(sent(stored(1)));

    // Assess
    await expect(attempt).rejects.toThrow('connections table unavailable');
    expect(claims.calls).toEqual(['claim p1 1 next', 'release p1 1']);
    expect(claims.held.size).toBe(0);
    expect(claims.published.get('p1')).toBeUndefined();
  });

  it('throws the fan-out’s error, not the release’s, when the claim cannot be given back either', async () => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();
    broadcaster.failWith = new Error('fan-out failed');
    claims.releaseError = new Error('release failed');
    const warn = jest.spyOn(logger, 'warn');

    // Act
    const attempt = publisher.publishNow(sent(stored(1)));

    // Assess
    await expect(attempt).rejects.toThrow('fan-out failed');
    expect(warn).toHaveBeenCalledWith(
      expect.stringContaining('release'),
      expect.objectContaining({ postId: 'p1', seq: 1 }),
    );
  });

  it('counts a claim taken over while its fan-out ran, and still answers with the fan-out', async () => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();
    broadcaster.during = () => claims.holdElsewhere('p1', 1, 2 * TTL_MS);
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const warn = jest.spyOn(logger, 'warn');

    // Act
    const result = await publisher.publishNow(sent(stored(1)));

    // Assess
    expect(result).toEqual({ published: true, summary: summary('broadcast-1') });
    expect(claims.published.get('p1')).toBeUndefined();
    expect(metricNames(addMetric)).toEqual(['EventsPublished', 'ClaimsTakenOver']);
    expect(warn).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ seq: 1, path: 'fast' }));
  });
});

describe('EventPublisher.publishStored (the stream path)', () => {
  const DEADLINE = 60_000;

  it('claims any unpublished event, fans it out under the correlation id and marks it published', async () => {
    // Prepare
    const { publisher, broadcaster, claims, clock } = setUp();

    // Act
    const outcome = await publisher.publishStored(stored(3), {
      deadline: DEADLINE,
      correlationId: 'event-3',
    });

    // Assess
    expect(outcome).toBe('published');
    expect(claims.calls).toEqual(['claim p1 3 any', 'complete p1 3']);
    expect(broadcaster.sent).toEqual([{ envelope: stored(3), options: { correlationId: 'event-3' } }]);
    expect(claims.published.get('p1')).toBe(3);
    expect(clock.sleeps).toEqual([]);
  });

  it('passes no correlation id when it has none', async () => {
    // Prepare
    const { publisher, broadcaster } = setUp();

    // Act
    await publisher.publishStored(stored(1), { deadline: DEADLINE });

    // Assess
    expect(broadcaster.sent[0]?.options).toEqual({});
  });

  it('skips an event the fast path already published, sending nothing', async () => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();
    claims.published.set('p1', 2);
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const outcome = await publisher.publishStored(stored(2), { deadline: DEADLINE });

    // Assess
    expect(outcome).toBe('skipped');
    expect(broadcaster.sent).toEqual([]);
    expect(metricNames(addMetric)).toEqual(['EventsSkipped']);
  });

  it('waits, backing off, while the fast path holds the claim, then skips the event it published', async () => {
    // Prepare
    const { publisher, broadcaster, claims, clock } = setUp();
    const fastPath = claims.holdElsewhere('p1', 3, TTL_MS);
    clock.at(200, () => void claims.complete(fastPath));

    // Act
    const outcome = await publisher.publishStored(stored(3), { deadline: DEADLINE });

    // Assess
    expect(outcome).toBe('skipped');
    expect(clock.sleeps).toEqual([49, 99, 198]);
    expect(broadcaster.sent).toEqual([]);
    expect(claims.calls.filter((call) => call.startsWith('claim'))).toHaveLength(4);
  });

  it('backs off no further than 1 s between looks', async () => {
    // Prepare
    const { publisher, claims, clock } = setUp();
    const fastPath = claims.holdElsewhere('p1', 3, TTL_MS);
    clock.at(5000, () => void claims.complete(fastPath));

    // Act
    await publisher.publishStored(stored(3), { deadline: DEADLINE });

    // Assess
    expect(clock.sleeps.slice(0, 7)).toEqual([49, 99, 198, 396, 792, 990, 990]);
    expect(Math.max(...clock.sleeps)).toBeLessThanOrEqual(1000);
  });

  it('takes over a claim whose holder died, right after it expires, and fans the event out', async () => {
    // Prepare
    const { publisher, broadcaster, claims, clock } = setUp();
    const dead = claims.holdElsewhere('p1', 3, 1000);

    // Act
    const outcome = await publisher.publishStored(stored(3), { deadline: DEADLINE });

    // Assess
    expect(outcome).toBe('published');
    // The last wait ends just past the claim's expiry rather than a whole backoff step later.
    expect(clock.sleeps).toEqual([49, 99, 198, 396, 259]);
    expect(clock.time).toBe(1001);
    expect(broadcaster.sent.map((entry) => entry.envelope)).toEqual([stored(3)]);
    expect(claims.published.get('p1')).toBe(3);
    await expect(claims.complete(dead)).resolves.toBe(false);
  });

  it('gives up at its deadline while the claim is still live, with PublishDeferredError, sending nothing', async () => {
    // Prepare
    const { publisher, broadcaster, claims, clock } = setUp();
    claims.holdElsewhere('p1', 3, TTL_MS);

    // Act
    const attempt = publisher.publishStored(stored(3), { deadline: 2000 });

    // Assess
    await expect(attempt).rejects.toThrow(PublishDeferredError);
    await expect(attempt).rejects.toThrow(/Event 3 of post p1 not published yet: busy/);
    expect(clock.sleeps).toEqual([49, 99, 198, 396, 792]);
    expect(clock.time).toBeLessThanOrEqual(2000);
    expect(broadcaster.sent).toEqual([]);
    expect(claims.held.get('p1')?.token).toBe('elsewhere');
  });

  it('defers at once when even the first wait would pass the deadline', async () => {
    // Prepare
    const { publisher, claims, clock } = setUp();
    claims.holdElsewhere('p1', 3, TTL_MS);

    // Act
    const attempt = publisher.publishStored(stored(3), { deadline: 10 });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PublishDeferredError);
    expect(clock.sleeps).toEqual([]);
  });

  it('looks again after 1 ms when the cursor it was refused on has since let go', async () => {
    // Prepare
    const { publisher, claims, clock } = setUp();
    claims.scripted.push({ outcome: 'busy', until: 0 });

    // Act
    const outcome = await publisher.publishStored(stored(3), { deadline: DEADLINE });

    // Assess
    expect(outcome).toBe('published');
    expect(clock.sleeps).toEqual([1]);
  });

  it('gives the claim back when the fan-out fails and throws, so that the retry need not wait it out', async () => {
    // Prepare
    const { publisher, broadcaster, claims, clock } = setUp();
    broadcaster.failWith = new Error('Lambda refused the batch');

    // Act
    const failed = publisher.publishStored(stored(3), { deadline: DEADLINE });
    await expect(failed).rejects.toThrow('Lambda refused the batch');
    broadcaster.failWith = undefined;
    const retried = await publisher.publishStored(stored(3), { deadline: DEADLINE });

    // Assess
    expect(claims.calls).toEqual(['claim p1 3 any', 'release p1 3', 'claim p1 3 any', 'complete p1 3']);
    expect(retried).toBe('published');
    expect(clock.sleeps).toEqual([]);
  });

  it('counts a claim taken over while its fan-out ran', async () => {
    // Prepare
    const { publisher, broadcaster, claims } = setUp();
    broadcaster.during = () => claims.holdElsewhere('p1', 3, 2 * TTL_MS);
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const outcome = await publisher.publishStored(stored(3), { deadline: DEADLINE });

    // Assess
    expect(outcome).toBe('published');
    expect(metricNames(addMetric)).toEqual(['EventsPublished', 'ClaimsTakenOver']);
  });
});

describe('both paths on one post', () => {
  it('fan each event out once: the fast path publishes the next one, the stream skips it', async () => {
    // Prepare
    const { publisher, broadcaster } = setUp();

    // Act
    const fast = await publisher.publishNow(sent(stored(1)));
    const stream = await publisher.publishStored(stored(1), { deadline: 60_000 });

    // Assess
    expect(fast.published).toBe(true);
    expect(stream).toBe('skipped');
    expect(broadcaster.sent).toHaveLength(1);
  });

  it('keep seq order: the fast path leaves a later event to the stream, which publishes both in order', async () => {
    // Prepare
    const { publisher, broadcaster } = setUp();

    // Act
    const fast = await publisher.publishNow(sent(stored(2)));
    await publisher.publishStored(stored(1), { deadline: 60_000 });
    await publisher.publishStored(stored(2), { deadline: 60_000 });

    // Assess
    expect(fast).toEqual({ published: false, reason: 'awaitingEarlierEvent' });
    expect(broadcaster.sent.map((entry) => entry.envelope.seq)).toEqual([1, 2]);
  });
});

describe('with the comment service in front', () => {
  it('publishes every change exactly as the comment service stored and sent it, in order', async () => {
    // Prepare
    const repository = new InMemoryCommentRepository();
    const sent = new RecordingPublisher();
    const service = new CommentService({
      comments: repository,
      broadcaster: sent,
      ...fixedTimeDependencies(),
      websocketEndpoint: '',
      eventRetentionSeconds: 3600,
    });
    const post = await service.createPost({ userId: 'alice' }, { title: 'Post' });
    const comment = await service.createComment({ userId: 'bob' }, post.id, 'Hello');
    await service.updateComment({ userId: 'bob' }, post.id, comment.id, 'Edited');
    await service.deleteComment({ userId: 'bob' }, post.id, comment.id);
    const clock = new FakeClock();
    const broadcaster = new FakeBroadcaster();
    const publisher = new EventPublisher({
      claims: new FakeClaims(clock),
      broadcaster,
      events: repository,
      now: clock.now,
      sleep: clock.sleep,
    });

    // Act
    const results = [];
    for (const event of sent.events)
      results.push(await publisher.publishNow(JSON.parse(JSON.stringify(event))));

    // Assess
    expect(results.map((result) => result.published)).toEqual([true, true, true]);
    expect(broadcaster.sent.map((entry) => JSON.stringify(entry.envelope))).toEqual(
      sent.events.map((event) => JSON.stringify(event)),
    );
  });
});
