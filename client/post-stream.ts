import type { CommentCreatedEvent, CommentUpdatedEvent, CommentsListEvent } from '../contracts/protocol';

/** A change to one comment, live or replayed. */
export type CommentEvent = CommentCreatedEvent | CommentUpdatedEvent;

/** What one incoming event leads to: things to hand to the application, in order, and what to ask for. */
export interface StreamStep {
  /** A full list that replaces the application's state; comes before `events`. */
  snapshot?: CommentsListEvent;
  events: CommentEvent[];
  /** Events are held back behind a missing `seq`: the server should replay from `lastSeq`. */
  gap: boolean;
}

const NOTHING: StreamStep = Object.freeze({ events: [], gap: false }) as StreamStep;

/** The last `size` ids seen, oldest forgotten first (a Set iterates in insertion order). */
class RecentIds {
  private readonly ids = new Set<string>();

  constructor(private readonly size: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.size <= 0 || this.ids.has(id)) return;
    this.ids.add(id);
    if (this.ids.size > this.size) {
      const oldest = this.ids.values().next();
      if (!oldest.done) this.ids.delete(oldest.value);
    }
  }
}

/**
 * Orders and de-duplicates one post's events. Pure bookkeeping, no I/O: the client feeds it what arrives
 * (from any of its connections, live or replayed) and sends the subscribes it asks for.
 *
 * Rules (docs/protocol.md, `EventMeta`):
 * - a complete snapshot (`comments.list`) sets `lastSeq = data.seq`; live events continue from seq + 1;
 * - an event with `seq <= lastSeq`, or an `eventId` seen before, is a duplicate and is dropped;
 * - `seq == lastSeq + 1` is delivered and advances `lastSeq`, then anything buffered that now follows;
 * - `seq > lastSeq + 1` is a gap: the event waits in a buffer until the server replays the missing ones;
 * - events without `seq` (servers older than sequencing) are delivered as they come.
 *
 * `lastSeq` therefore only moves to an event that was delivered, or to the `seq` of a complete snapshot
 * that replaces everything: it never skips an event the application has not received.
 */
export class PostStream {
  private last: number | undefined;
  /** A snapshot is on its way (a subscribe without lastSeq, or a list being paged): hold events for it. */
  private awaitingSnapshot = false;
  private readonly buffered = new Map<number, CommentEvent>();
  /** Events without seq that arrived while awaiting the snapshot: delivered right after it. */
  private held: CommentEvent[] = [];
  private readonly seen: RecentIds;
  /** The post's seq as the server last reported it (a pong): above `last`, an event is missing. */
  private reported: number | undefined;
  /** restart() dropped a baseline: the snapshot that replaces it is a reset, and says so. */
  private restarted = false;

  constructor({ lastSeq, dedupeWindow }: { lastSeq?: number; dedupeWindow: number }) {
    this.last = lastSeq;
    this.seen = new RecentIds(dedupeWindow);
  }

  /** The seq of the last event delivered (or of the last snapshot); undefined before the first. */
  get lastSeq(): number | undefined {
    return this.last;
  }

  /** Events are held for a snapshot rather than delivered. */
  get awaiting(): boolean {
    return this.awaitingSnapshot;
  }

  /** Events wait behind a missing seq, or the server reported a seq not yet delivered. */
  get hasGap(): boolean {
    if (this.awaitingSnapshot) return false;
    return this.buffered.size > 0 || this.behindReported();
  }

  /**
   * The `lastSeq` to put in the next subscribe. Without one the server sends a snapshot, so until that
   * arrives events are held back rather than applied to a state the snapshot is about to replace. With
   * one the answer may be a replay, which brings no snapshot: nothing is held for one any more.
   */
  resumeFrom(): number | undefined {
    this.awaitingSnapshot = this.last === undefined;
    return this.last;
  }

  /**
   * Forgets `lastSeq`: the next subscribe asks for a fresh snapshot, and events are held until it comes.
   * Only for a server that refuses the lastSeq this client kept; a gap is never repaired this way.
   */
  restart(): void {
    this.restarted = this.restarted || this.last !== undefined;
    this.last = undefined;
    this.awaitingSnapshot = true;
  }

  /** Whether a `comments.list` is to be taken: a reset, or the snapshot a subscribe asked for. */
  admits(snapshot: CommentsListEvent): boolean {
    const { seq, reset } = snapshot.data;
    // A plain snapshot that no subscribe is waiting for answers an earlier one (it raced with live events
    // on this or another connection): taking it could move lastSeq past events never delivered, and
    // those events reach the client anyway.
    return reset === true || this.awaitingSnapshot || seq === undefined || this.last === undefined;
  }

  /** A snapshot arrived incomplete: hold events until it is complete and taken with acceptSnapshot. */
  holdForSnapshot(): void {
    this.awaitingSnapshot = true;
  }

  /** The server's current seq for the post (from a pong); returns whether it shows a missing event. */
  noteServerSeq(seq: number): boolean {
    this.reported = seq;
    return this.hasGap;
  }

  /** Takes a complete snapshot the stream admits; returns NOTHING for one it does not. */
  acceptSnapshot(snapshot: CommentsListEvent): StreamStep {
    if (!this.admits(snapshot)) return NOTHING;
    this.awaitingSnapshot = false;
    this.reported = undefined;
    this.last = snapshot.data.seq;
    const delivered = this.restarted ? { ...snapshot, data: { ...snapshot.data, reset: true } } : snapshot;
    this.restarted = false;
    const events: CommentEvent[] = [];
    if (this.last === undefined) {
      // A snapshot without seq: whatever was buffered is delivered in order and sets the baseline.
      for (const event of this.drainAll()) events.push(...this.deliver(event));
    } else {
      for (const key of [...this.buffered.keys()]) if (key <= this.last) this.buffered.delete(key);
      events.push(...this.drainConsecutive());
    }
    const held = this.held;
    this.held = [];
    for (const event of held) {
      if (event.eventId === undefined || !this.seen.has(event.eventId)) events.push(...this.deliver(event));
    }
    return { snapshot: delivered, events, gap: this.hasGap };
  }

  acceptEvent(event: CommentEvent): StreamStep {
    if (event.eventId !== undefined && this.seen.has(event.eventId)) return NOTHING;
    const { seq } = event;
    if (seq === undefined) {
      if (this.awaitingSnapshot) {
        this.held.push(event);
        return NOTHING;
      }
      return { events: this.deliver(event), gap: this.hasGap };
    }
    if (this.awaitingSnapshot) {
      if (!this.buffered.has(seq)) this.buffered.set(seq, event);
      return NOTHING;
    }
    if (this.last === undefined) {
      // Sequenced events after a snapshot without seq (a server part-way through an upgrade): the first
      // one sets the baseline.
      return { events: [...this.deliver(event), ...this.drainConsecutive()], gap: this.hasGap };
    }
    if (seq <= this.last) return NOTHING;
    if (seq === this.last + 1) {
      return { events: [...this.deliver(event), ...this.drainConsecutive()], gap: this.hasGap };
    }
    if (!this.buffered.has(seq)) this.buffered.set(seq, event);
    return { events: [], gap: true };
  }

  private behindReported(): boolean {
    return this.reported !== undefined && this.last !== undefined && this.reported > this.last;
  }

  private deliver(event: CommentEvent): CommentEvent[] {
    if (event.eventId !== undefined) this.seen.add(event.eventId);
    if (event.seq !== undefined) this.last = event.seq;
    return [event];
  }

  private drainConsecutive(): CommentEvent[] {
    const events: CommentEvent[] = [];
    for (;;) {
      if (this.last === undefined) return events;
      const next = this.buffered.get(this.last + 1);
      if (!next) return events;
      this.buffered.delete(this.last + 1);
      events.push(...this.deliver(next));
    }
  }

  private drainAll(): CommentEvent[] {
    const events = [...this.buffered.entries()].sort(([a], [b]) => a - b).map(([, event]) => event);
    this.buffered.clear();
    return events;
  }
}
