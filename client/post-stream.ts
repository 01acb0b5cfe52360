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
 * - a snapshot (`comments.list`) sets `lastSeq = data.seq`; live events continue from seq + 1;
 * - an event with `seq <= lastSeq`, or an `eventId` seen before, is a duplicate and is dropped;
 * - `seq == lastSeq + 1` is delivered and advances `lastSeq`, then anything buffered that now follows;
 * - `seq > lastSeq + 1` is a gap: the event waits in a buffer until the server replays the missing ones;
 * - events without `seq` (servers older than sequencing) are delivered as they come.
 */
export class PostStream {
  private last: number | undefined;
  /** A subscribe without lastSeq is in flight: hold events until its snapshot sets the baseline. */
  private awaitingSnapshot = false;
  private readonly buffered = new Map<number, CommentEvent>();
  /** Events without seq that arrived while awaiting the snapshot: delivered right after it. */
  private held: CommentEvent[] = [];
  private readonly seen: RecentIds;

  constructor({ lastSeq, dedupeWindow }: { lastSeq?: number; dedupeWindow: number }) {
    this.last = lastSeq;
    this.seen = new RecentIds(dedupeWindow);
  }

  /** The seq of the last event delivered (or of the last snapshot); undefined before the first. */
  get lastSeq(): number | undefined {
    return this.last;
  }

  /** Events wait behind a missing seq. */
  get hasGap(): boolean {
    return !this.awaitingSnapshot && this.buffered.size > 0;
  }

  /**
   * The `lastSeq` to put in the next subscribe. Without one the server sends a snapshot, so until that
   * arrives events are held back rather than applied to a state the snapshot is about to replace.
   */
  resumeFrom(): number | undefined {
    if (this.last === undefined) this.awaitingSnapshot = true;
    return this.last;
  }

  /** Gives up on replay: the next subscribe asks for a fresh snapshot. Buffered events are kept. */
  restart(): void {
    this.last = undefined;
  }

  acceptSnapshot(snapshot: CommentsListEvent): StreamStep {
    const { seq, reset } = snapshot.data;
    // A plain snapshot older than what was already applied (it raced with live events on another
    // connection) would move the application back in time; the events since are not coming again.
    if (!reset && !this.awaitingSnapshot && seq !== undefined && this.last !== undefined && seq < this.last) {
      return NOTHING;
    }
    this.awaitingSnapshot = false;
    this.last = seq;
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
    return { snapshot, events, gap: this.hasGap };
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
