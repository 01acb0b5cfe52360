import type { Comment, CommentsListEvent, CommentsPageEvent } from '../contracts/protocol';
import { orderedComments } from './comment-view';

type PageData = CommentsListEvent['data'] | CommentsPageEvent['data'];

/** Where the next page starts, when a page says more follow; undefined when the list is complete. */
function continuation(page: PageData): { cursor: string } | undefined {
  // A page that says `hasMore` without a cursor cannot be continued: take what it has (servers before
  // paging sent `truncated` alone, and the SDK then showed the first page only, as it did before).
  return page.hasMore === true && typeof page.cursor === 'string' && page.cursor.length > 0
    ? { cursor: page.cursor }
    : undefined;
}

/** A `comments.list` that is the whole list by itself. */
export function isCompleteList(list: CommentsListEvent): boolean {
  return continuation(list.data) === undefined;
}

let assemblies = 0;

/**
 * A post's complete list, put together page by page before anything is shown: from a `comments.list`
 * that says `hasMore` (a snapshot), or from the first page (a view for a subscription resumed from a
 * `lastSeq` the application kept). Pure bookkeeping; the subscription asks for the pages.
 *
 * Pages are read when asked for, so they may hold changes newer than the snapshot's `seq`, and a page
 * asked for twice (a retry) may come back twice. Every page is read after that `seq`, and every event
 * after it is applied on top once the list is complete, so the union by id of what was read still ends
 * at the stored list (docs/protocol.md, `comments.page`).
 */
export class SnapshotAssembly {
  /** Tells answers to this assembly's requests from those of one it replaced. */
  readonly id = ++assemblies;
  private readonly read: Comment[] = [];
  private next: { cursor: string | undefined } | undefined;

  private constructor(private readonly first: CommentsListEvent | undefined) {
    if (first) {
      this.read.push(...first.data.comments);
      this.next = continuation(first.data);
    } else {
      this.next = { cursor: undefined };
    }
  }

  /** Completes a snapshot whose first page says more follow. */
  static fromList(list: CommentsListEvent): SnapshotAssembly {
    return new SnapshotAssembly(list);
  }

  /** Reads the whole list from its first page, for a view that has no snapshot to start from. */
  static fromFirstPage(): SnapshotAssembly {
    return new SnapshotAssembly(undefined);
  }

  /** Completes a snapshot (rather than reading a view from the first page). */
  get snapshot(): boolean {
    return this.first !== undefined;
  }

  get complete(): boolean {
    return this.next === undefined;
  }

  /** The cursor of the next page to ask for; undefined asks for the first page. */
  get cursor(): string | undefined {
    return this.next?.cursor;
  }

  add(page: CommentsPageEvent['data']): void {
    if (this.complete) return;
    this.read.push(...(Array.isArray(page.comments) ? page.comments : []));
    this.next = continuation(page);
  }

  /** The server refused a cursor (INVALID_CURSOR): read again from the first page, keeping what was read. */
  restartPaging(): void {
    if (!this.complete) this.next = { cursor: undefined };
  }

  /** Every comment read, in id order. */
  comments(): Comment[] {
    return orderedComments(this.read);
  }

  /**
   * The snapshot as one `comments.list`: every comment, `count` their number, `hasMore` false, the first
   * page's `seq` and `reset`. Undefined for a view read from the first page, which has no snapshot.
   */
  toList(): CommentsListEvent | undefined {
    if (!this.first) return undefined;
    const { postId, seq, reset } = this.first.data;
    const comments = this.comments();
    return {
      type: 'comments.list',
      data: {
        postId,
        comments,
        count: comments.length,
        ...(seq === undefined ? {} : { seq }),
        ...(reset === undefined ? {} : { reset }),
        hasMore: false,
      },
    };
  }
}
