import { ErrorCodes, type ClientMessage, type CommentsPageEvent } from '../contracts/protocol';
import { backoffDelay } from './backoff';
import type { Link } from './connection';
import { ClientErrorCodes, type RealtimeCommentsError } from './errors';
import type { ClientSettings } from './options';
import type { SnapshotAssembly } from './snapshot-assembly';

/** What the reader needs of the post it reads for. */
export interface PageReaderHost {
  /** The open link requests are sent on; undefined while there is none. */
  readonly link: Link | undefined;
  send(link: Link, message: ClientMessage): boolean;
  /** A page was refused or not answered; it is asked for again after a backoff. */
  failed(code: RealtimeCommentsError['code'], message: string): void;
  /** Every page has arrived. */
  completed(assembly: SnapshotAssembly): void;
}

export type PageReaderSettings = Pick<ClientSettings, 'subscribeTimeoutMs' | 'backoff' | 'random'>;

type Timer = ReturnType<typeof setTimeout>;

/**
 * Asks for the pages of one post's list (`listComments`) until it is complete, retrying a refused or
 * unanswered page with backoff. Answers do not say which request they answer, so one request is in flight
 * at a time, per post: when a list is dropped for a newer one while a page of it is in flight, the next
 * request waits for that page (which is then dropped) or its timeout, so an old page never counts as
 * part of the newer list.
 */
export class PageReader {
  private assembly: SnapshotAssembly | undefined;
  private request: { link: Link; assembly: number; timer: Timer } | undefined;
  private retryTimer: Timer | undefined;
  private failures = 0;

  constructor(
    private readonly postId: string,
    private readonly settings: PageReaderSettings,
    private readonly host: PageReaderHost,
  ) {}

  /** The list being read; undefined when none is. */
  get reading(): SnapshotAssembly | undefined {
    return this.assembly;
  }

  /** Reads the rest of a list, in place of any being read. */
  start(assembly: SnapshotAssembly): void {
    this.abandon();
    this.assembly = assembly;
    this.ask();
  }

  /** Drops the list being read; a page of it still in flight is answered, and the answer dropped. */
  abandon(): void {
    this.assembly = undefined;
    this.failures = 0;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Drops everything, the request in flight included (the post ended, or the client closed). */
  stop(): void {
    this.abandon();
    this.clearRequest();
  }

  /** A page asked for on this link is in flight. */
  awaits(link: Link): boolean {
    return this.request?.link === link;
  }

  answered(link: Link, page: CommentsPageEvent): void {
    const request = this.request;
    // Only the answer to the request in flight, on its link: a late one after a timeout is dropped.
    if (request?.link !== link) return;
    this.clearRequest();
    const assembly = this.assembly;
    if (assembly?.id === request.assembly) {
      this.failures = 0;
      assembly.add(page.data);
      if (assembly.complete) {
        this.assembly = undefined;
        this.host.completed(assembly);
        return;
      }
    }
    this.ask();
  }

  /** The server refused the page in flight with an error that asking again may overcome. */
  refused(code: RealtimeCommentsError['code'], message: string): void {
    const request = this.request;
    this.clearRequest();
    if (request?.assembly !== this.assembly?.id) {
      this.ask();
      return;
    }
    if (code === ErrorCodes.invalidCursor) this.assembly?.restartPaging();
    this.retryAfter(code, message);
  }

  /** A link went down or retired: a page asked for on it will not be answered. */
  released(link: Link): void {
    if (this.request?.link === link) this.clearRequest();
  }

  private ask(): void {
    const assembly = this.assembly;
    if (!assembly || assembly.complete || this.request || this.retryTimer) return;
    // Without a link, the next one subscribes the post again, and that answer starts the list afresh.
    const link = this.host.link;
    if (!link) return;
    const { cursor } = assembly;
    const message: ClientMessage =
      cursor === undefined
        ? { action: 'listComments', postId: this.postId }
        : { action: 'listComments', postId: this.postId, cursor };
    if (!this.host.send(link, message)) return;
    this.request = {
      link,
      assembly: assembly.id,
      timer: setTimeout(() => {
        const timedOut = this.request;
        this.request = undefined;
        if (timedOut?.assembly !== this.assembly?.id) this.ask();
        else this.retryAfter(ClientErrorCodes.pageTimeout, `No answer to a page of post ${this.postId}`);
      }, this.settings.subscribeTimeoutMs),
    };
  }

  private retryAfter(code: RealtimeCommentsError['code'], message: string): void {
    this.host.failed(code, message);
    const delay = backoffDelay(this.failures, this.settings.backoff, this.settings.random);
    this.failures += 1;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.ask();
    }, delay);
  }

  private clearRequest(): void {
    if (this.request) clearTimeout(this.request.timer);
    this.request = undefined;
  }
}
