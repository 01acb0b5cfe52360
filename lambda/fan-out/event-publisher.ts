import { backoffDelay, sleep as realSleep, type BackoffBounds } from '../../contracts/backoff';
import { broadcastPostId, type BroadcastEnvelope, type SequencedChangeEvent } from '../../contracts/protocol';
import { MetricNames } from '../../contracts/telemetry-names';
import { countMetric, logger } from '../shared/telemetry';
import type { BroadcastOptions, BroadcastService, BroadcastSummary } from './broadcast-service';
import type { PublishClaim, PublishClaims } from './publish-claims';

/** Reads a stored event back: the fast path publishes what the table holds, never what a caller claims. */
export interface StoredEvents {
  getEvent(postId: string, seq: number): Promise<SequencedChangeEvent | undefined>;
}

/** Why the fast path did not fan an event out itself. Only `notStored` and `conflict` are the caller's fault. */
export type SkipReason =
  /** Already fanned out, by the stream or an earlier call. */
  | 'alreadyPublished'
  /** The other path holds the claim and is fanning it out now. */
  | 'claimedElsewhere'
  /** An earlier event of the post is not published yet: the stream publishes both, in order. */
  | 'awaitingEarlierEvent'
  /** No stored event has this seq (it was never written, or has expired). */
  | 'notStored'
  /** The stored event with this seq has another eventId. */
  | 'conflict';

export type PublishNowResult =
  { published: true; summary: BroadcastSummary } | { published: false; reason: SkipReason };

/** The stream publisher could not finish before its deadline: the record is retried by Lambda. */
export class PublishDeferredError extends Error {
  constructor(postId: string, seq: number, reason: string) {
    super(`Event ${seq} of post ${postId} not published yet: ${reason}`);
    this.name = 'PublishDeferredError';
  }
}

export interface EventPublisherOptions {
  claims: PublishClaims;
  broadcaster: Pick<BroadcastService, 'broadcast'>;
  events: StoredEvents;
  /** Epoch milliseconds. @default Date.now */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * How long the stream waits between looks at a claim another path holds: 50 ms, doubling to 1 s. The
 * holder normally finishes in well under a second; a dead one is outlived by its claim's expiry.
 */
const CLAIM_POLL: BackoffBounds = { baseMs: 50, maxMs: 1000 };

/**
 * Publishes stored events exactly once in the normal case, by whichever of two paths claims each one first
 * (docs/fan-out.md, "Publishing"):
 * - `publishNow`, the fast path: the comments function calls the broadcast API right after its commit, and
 *   the event is fanned out at once if it is the post's next one and no one else is at it;
 * - `publishStored`, the durable path: the stream of the comments table hands every stored event to the
 *   publisher function, in seq order per post, and it fans out whatever the fast path did not, waiting
 *   out a claim the fast path holds, and taking it over when that claim's holder died.
 */
export class EventPublisher {
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly options: EventPublisherOptions) {
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? realSleep;
    this.random = options.random ?? Math.random;
  }

  /**
   * The broadcast API's publish. An envelope that names a stored event (`eventId`, `seq` and `data.postId`)
   * is published only by the path that claims it, as the table stores it; any other envelope (a backend's
   * own announcement) is broadcast as it is.
   */
  async publishNow(envelope: BroadcastEnvelope, options: BroadcastOptions = {}): Promise<PublishNowResult> {
    const postId = broadcastPostId(envelope);
    const { seq, eventId } = envelope;
    if (postId === undefined || seq === undefined || eventId === undefined) {
      return { published: true, summary: await this.options.broadcaster.broadcast(envelope, options) };
    }
    const stored = await this.options.events.getEvent(postId, seq);
    if (!stored) return { published: false, reason: 'notStored' };
    if (stored.eventId !== eventId) return { published: false, reason: 'conflict' };
    const result = await this.options.claims.claim(postId, seq, 'next');
    switch (result.outcome) {
      case 'claimed':
        return { published: true, summary: await this.fanOut(stored, result.claim, 'fast', options) };
      case 'published':
        return this.skip(stored, 'alreadyPublished');
      case 'busy':
        return this.skip(stored, 'claimedElsewhere');
      case 'notNext':
        return this.skip(stored, 'awaitingEarlierEvent');
    }
  }

  /**
   * The stream's publish of one stored event: done when it is fanned out, by this call or by the path that
   * claimed it. Waits out another path's live claim until `deadline` (epoch ms), then throws
   * PublishDeferredError so that Lambda retries the record; by then an expired claim is taken over.
   */
  async publishStored(
    event: SequencedChangeEvent,
    { deadline, correlationId }: { deadline: number; correlationId?: string },
  ): Promise<'published' | 'skipped'> {
    const { postId } = event.data;
    for (let look = 1; ; look += 1) {
      const result = await this.options.claims.claim(postId, event.seq, 'any');
      if (result.outcome === 'claimed') {
        await this.fanOut(event, result.claim, 'stream', correlationId ? { correlationId } : {});
        return 'published';
      }
      if (result.outcome === 'published') {
        countMetric(MetricNames.eventsSkipped);
        return 'skipped';
      }
      // Another path is at it: look again after a short wait, never later than its claim's end.
      const untilExpiry = result.outcome === 'busy' ? result.until - this.now() + 1 : 0;
      const wait = Math.max(1, Math.min(backoffDelay(look, CLAIM_POLL, this.random), untilExpiry));
      if (this.now() + wait > deadline) {
        throw new PublishDeferredError(
          postId,
          event.seq,
          `${result.outcome} until the invocation's deadline`,
        );
      }
      await this.sleep(wait);
    }
  }

  private skip(event: SequencedChangeEvent, reason: SkipReason): PublishNowResult {
    countMetric(MetricNames.eventsSkipped);
    logger.info('Event left to the other publishing path', {
      postId: event.data.postId,
      seq: event.seq,
      reason,
    });
    return { published: false, reason };
  }

  /** Fans the claimed event out and marks it published; a failed fan-out gives the claim back at once. */
  private async fanOut(
    event: SequencedChangeEvent,
    claim: PublishClaim,
    path: 'fast' | 'stream',
    options: BroadcastOptions,
  ): Promise<BroadcastSummary> {
    let summary: BroadcastSummary;
    try {
      summary = await this.options.broadcaster.broadcast(event, options);
    } catch (error) {
      await this.options.claims.release(claim).catch((releaseError: unknown) =>
        logger.warn('Could not release a publish claim; it expires on its own', {
          postId: claim.postId,
          seq: claim.seq,
          error: releaseError as Error,
        }),
      );
      throw error;
    }
    const completed = await this.options.claims.complete(claim);
    countMetric(MetricNames.eventsPublished);
    if (!completed) {
      // The claim outlived its term and another path took it over: that path publishes the event again.
      countMetric(MetricNames.claimsTakenOver);
      logger.warn('Publish claim was taken over before it completed', {
        postId: claim.postId,
        seq: claim.seq,
        path,
      });
    }
    logger.info('Event published', {
      postId: claim.postId,
      seq: claim.seq,
      path,
      broadcastId: summary.broadcastId,
    });
    return summary;
  }
}
