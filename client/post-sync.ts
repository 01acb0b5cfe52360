import {
  ErrorCodes,
  type ClientMessage,
  type Comment,
  type CommentsListEvent,
  type CommentsPageEvent,
} from '../contracts/protocol';
import { backoffDelay } from './backoff';
import { CommentView } from './comment-view';
import type { Link } from './connection';
import { ClientErrorCodes, RealtimeCommentsError, errorMessage } from './errors';
import type { ClientSettings } from './options';
import { PageReader } from './page-reader';
import { PostStream, type CommentEvent, type StreamStep } from './post-stream';
import { SnapshotAssembly, isCompleteList } from './snapshot-assembly';

/**
 * `syncing`: subscribing, reading the pages of a list, or repairing a gap. `live`: the view is complete,
 * no gap is pending and the subscription stands on an open connection.
 */
export type PostState = 'syncing' | 'live';

export interface SubscriptionHandlers {
  /** A comment created, edited or deleted, in `seq` order, each exactly once. */
  onEvent(event: CommentEvent): void;
  /**
   * The post's comments as a whole, every page of them: replace what you have. `event.data.reset` is true
   * when the server could not replay what this client missed (it was away too long), so the list starts
   * afresh.
   */
  onSnapshot(event: CommentsListEvent): void;
  /** The post's complete list, ordered by id, after every message that changed it. */
  onView?(comments: readonly Comment[]): void;
  onState?(state: PostState): void;
  /** Errors concerning this subscription; `error.retrying` false means it has ended. */
  onError?(error: RealtimeCommentsError): void;
}

export type PostSyncSettings = Pick<
  ClientSettings,
  'dedupeWindow' | 'subscribeTimeoutMs' | 'gapGraceMs' | 'backoff' | 'random' | 'logger'
>;

/** What a post needs of the subscriptions around it. */
export interface PostSyncHost {
  /** The open link messages are sent on; undefined while there is none. */
  readonly link: Link | undefined;
  send(link: Link, message: ClientMessage): boolean;
  /** Queues a subscribe for the post on the current link; without one the next link subscribes it. */
  subscribe(postId: string): void;
  /** A subscribe for the post is queued or in flight on the current link. */
  subscribing(postId: string): boolean;
  /** Tells the application about an error, through `onError` when given and the `error` listeners. */
  report(error: RealtimeCommentsError, onError?: (error: RealtimeCommentsError) => void): void;
  /** The subscription ends for good (a final error): forget it. */
  end(sync: PostSync): void;
}

type Timer = ReturnType<typeof setTimeout>;
type TimerName = 'repair' | 'retry' | 'snapshot';

/** Errors after which asking the same again cannot succeed: the subscription ends. */
const FINAL_ERRORS: ReadonlySet<string> = new Set([
  ErrorCodes.postNotFound,
  ErrorCodes.invalidPostId,
  ErrorCodes.tooManySubscriptions,
]);

/**
 * One followed post: its event order (PostStream), its view (CommentView), the pages of a list being
 * read (PageReader), and the timers that repair what went missing. It hands the application the complete
 * list, then every event once, in order, and asks again, with backoff, for as long as it takes when an
 * answer does not come: a subscribe, its snapshot, a page, or a replay.
 */
export class PostSync {
  readonly stream: PostStream;
  private readonly view = new CommentView();
  /** Reads a list page by page; the view changes only once it is complete. */
  private readonly pages: PageReader;
  /** Events delivered while the view had no complete list (a subscription resumed from a saved lastSeq). */
  private unviewed: CommentEvent[] = [];
  /** The current link's subscribe was answered there. */
  private answeredOn: Link | undefined;
  private readonly timers: { [name in TimerName]?: Timer } = {};
  private repairs = 0;
  private retries = 0;
  private reported: PostState = 'syncing';
  private ended = false;

  constructor(
    readonly postId: string,
    readonly handlers: SubscriptionHandlers,
    private readonly settings: PostSyncSettings,
    private readonly host: PostSyncHost,
    lastSeq: number | undefined,
  ) {
    this.stream = new PostStream({
      dedupeWindow: settings.dedupeWindow,
      ...(lastSeq === undefined ? {} : { lastSeq }),
    });
    this.pages = new PageReader(postId, settings, {
      get link() {
        return host.link;
      },
      send: (link, message) => host.send(link, message),
      failed: (code, message) => this.report(code, message, true),
      completed: (assembly) => this.completed(assembly),
    });
  }

  get comments(): readonly Comment[] {
    return this.view.comments;
  }

  get state(): PostState {
    const answered = this.answeredOn !== undefined && !this.answeredOn.down;
    const synced = !this.pages.reading && !this.stream.awaiting && !this.stream.hasGap;
    return answered && synced && this.view.complete ? 'live' : 'syncing';
  }

  /** Stops every timer and hands nothing more to the application. */
  end(): void {
    this.ended = true;
    this.clearTimers();
  }

  /** Stops the timers and drops a list being read (the client closed); the next link subscribes again. */
  clearTimers(): void {
    for (const name of ['repair', 'retry', 'snapshot'] as const) this.clearTimer(name);
    this.pages.stop();
  }

  // ---- subscribes ----------------------------------------------------------------------------------

  /** The subscribe to send now. Its answer replaces any list being read, which is dropped. */
  subscribeMessage(): ClientMessage {
    this.clearTimer('retry');
    this.clearTimer('repair');
    this.clearTimer('snapshot');
    this.pages.abandon();
    const lastSeq = this.stream.resumeFrom();
    this.refreshState();
    return lastSeq === undefined
      ? { action: 'subscribe', postId: this.postId }
      : { action: 'subscribe', postId: this.postId, lastSeq };
  }

  /** The current link's subscribe was answered; a replay or a snapshot follows. */
  subscribed(link: Link): void {
    if (link !== this.host.link) return;
    this.answeredOn = link;
    this.retries = 0;
    if (!this.stream.awaiting || this.pages.reading) {
      this.afterChange();
      return;
    }
    // The snapshot follows `subscribed`; if it was lost, nothing else would ever ask for it again.
    this.clearTimer('snapshot');
    this.timers.snapshot = setTimeout(() => {
      this.timers.snapshot = undefined;
      if (!this.stream.awaiting || this.pages.reading) return;
      this.retryAfter(ClientErrorCodes.subscribeTimeout, `No snapshot of post ${this.postId} came`);
    }, this.settings.subscribeTimeoutMs);
    this.refreshState();
  }

  /** The server refused the subscribe. */
  subscribeRefused(code: RealtimeCommentsError['code'], message: string): void {
    if (FINAL_ERRORS.has(code)) {
      this.fail(code, message);
      return;
    }
    // INVALID_LAST_SEQ cannot come from a lastSeq this client kept: start over from a snapshot.
    if (code === ErrorCodes.invalidLastSeq) this.stream.restart();
    this.retryAfter(code, message);
  }

  subscribeTimedOut(): void {
    this.retryAfter(ClientErrorCodes.subscribeTimeout, `No answer to subscribe ${this.postId}`);
  }

  /** Server seqs from a pong: one above lastSeq, with nothing else pending, means a lost event. */
  serverSeq(seq: number): void {
    if (this.ended || this.stream.awaiting || this.pages.reading?.snapshot) return;
    if (this.timers.retry || this.host.subscribing(this.postId)) return;
    this.stream.noteServerSeq(seq);
    this.afterChange();
  }

  /** A link went down or retired: a page asked for on it will not be answered. */
  released(link: Link): void {
    this.pages.released(link);
    this.refreshState();
  }

  // ---- what arrives --------------------------------------------------------------------------------

  onEvent(event: CommentEvent): void {
    this.deliver(this.stream.acceptEvent(event));
  }

  onList(list: CommentsListEvent): void {
    // A subscribe sent drops the list being read, so a list arriving during one answers an older subscribe.
    if (this.pages.reading?.snapshot || !this.stream.admits(list)) return;
    this.clearTimer('snapshot');
    this.pages.abandon();
    if (isCompleteList(list)) {
      this.deliver(this.stream.acceptSnapshot(list));
      return;
    }
    this.stream.holdForSnapshot();
    this.pages.start(SnapshotAssembly.fromList(list));
    this.refreshState();
  }

  onPage(link: Link, page: CommentsPageEvent): void {
    this.pages.answered(link, page);
  }

  /** A page asked for on this link is in flight. */
  awaitsPage(link: Link): boolean {
    return this.pages.awaits(link);
  }

  pageRefused(code: RealtimeCommentsError['code'], message: string): void {
    if (FINAL_ERRORS.has(code)) this.fail(code, message);
    else this.pages.refused(code, message);
  }

  /** Every page of a list has arrived: a snapshot is handed over, a view read from the first page built. */
  private completed(assembly: SnapshotAssembly): void {
    const list = assembly.toList();
    if (list) {
      this.deliver(this.stream.acceptSnapshot(list));
      return;
    }
    this.view.replace(assembly.comments());
    for (const event of this.unviewed) this.view.apply(event);
    this.unviewed = [];
    this.emitView();
    this.afterChange();
  }

  // ---- delivery and repair -------------------------------------------------------------------------

  private deliver(step: StreamStep): void {
    if (this.ended) return;
    let changed = false;
    if (step.snapshot) {
      const snapshot = step.snapshot;
      this.view.replace(snapshot.data.comments);
      this.unviewed = [];
      changed = true;
      this.call(() => this.handlers.onSnapshot(snapshot));
    }
    for (const event of step.events) {
      if (this.ended) return;
      if (this.view.complete) changed = this.view.apply(event) || changed;
      else this.unviewed.push(event);
      this.call(() => this.handlers.onEvent(event));
    }
    if (this.ended) return;
    if (changed) this.emitView();
    this.afterChange();
  }

  /** After each change: a gap is repaired (or its repair called off), a missing view read, the state told. */
  private afterChange(): void {
    if (this.stream.hasGap) {
      this.scheduleRepair();
    } else {
      this.clearTimer('repair');
      this.repairs = 0;
      this.readMissingView();
    }
    this.refreshState();
  }

  /**
   * A subscription resumed from a lastSeq the application kept has no list to build its view on: it reads
   * the whole list, and applies the events delivered meanwhile on top once it is complete. Every page is
   * read after that lastSeq, so this ends at the stored list like a snapshot's pages do.
   */
  private readMissingView(): void {
    if (this.view.complete || this.pages.reading || this.stream.awaiting || this.ended) return;
    if (!this.answeredOn || this.answeredOn !== this.host.link) return;
    this.pages.start(SnapshotAssembly.fromFirstPage());
  }

  /**
   * A gap first waits `gapGraceMs` for the missing event (two broadcasts can overtake each other), then
   * the post is subscribed again with lastSeq so the server replays it. While the gap stays open, each
   * answered replay is given the grace period plus a jittered, growing delay before the next one, for as
   * long as it takes: the gap is never skipped.
   */
  private scheduleRepair(): void {
    if (this.timers.repair || this.ended) return;
    const backoff =
      this.repairs === 0 ? 0 : backoffDelay(this.repairs - 1, this.settings.backoff, this.settings.random);
    this.timers.repair = setTimeout(() => {
      this.timers.repair = undefined;
      if (this.ended || !this.stream.hasGap || this.host.subscribing(this.postId)) return;
      this.repairs += 1;
      this.settings.logger.debug?.('gap in seq; asking for a replay', {
        postId: this.postId,
        lastSeq: this.stream.lastSeq,
        attempt: this.repairs,
      });
      this.host.subscribe(this.postId);
    }, this.settings.gapGraceMs + backoff);
  }

  /** Reports a failed subscribe and sends it again after a jittered, growing delay. */
  private retryAfter(code: RealtimeCommentsError['code'], message: string): void {
    this.report(code, message, true);
    if (this.timers.retry) return;
    const delay = backoffDelay(this.retries, this.settings.backoff, this.settings.random);
    this.retries += 1;
    this.timers.retry = setTimeout(() => {
      this.timers.retry = undefined;
      if (!this.ended) this.host.subscribe(this.postId);
    }, delay);
    this.refreshState();
  }

  private fail(code: RealtimeCommentsError['code'], message: string): void {
    this.host.end(this);
    this.report(code, message, false);
  }

  private report(code: RealtimeCommentsError['code'], message: string, retrying: boolean): void {
    this.host.report(
      new RealtimeCommentsError(code, message, { postId: this.postId, retrying }),
      this.handlers.onError,
    );
  }

  private refreshState(): void {
    const state = this.state;
    if (state === this.reported || this.ended) return;
    this.reported = state;
    const { onState } = this.handlers;
    if (onState) this.call(() => onState(state));
  }

  private emitView(): void {
    const { onView } = this.handlers;
    if (!onView) return;
    const comments = this.view.comments;
    this.call(() => onView(comments));
  }

  private call(handler: () => void): void {
    try {
      handler();
    } catch (error) {
      this.settings.logger.error?.('a subscription handler threw', {
        postId: this.postId,
        error: errorMessage(error),
      });
      this.host.report(
        new RealtimeCommentsError(ClientErrorCodes.handlerFailed, `A handler threw: ${errorMessage(error)}`, {
          postId: this.postId,
          retrying: false,
          cause: error,
        }),
      );
    }
  }

  private clearTimer(name: TimerName): void {
    clearTimeout(this.timers[name]);
    this.timers[name] = undefined;
  }
}
