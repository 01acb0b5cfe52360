import {
  byteLength,
  type Comment,
  type CommentsListEvent,
  type CommentsPageEvent,
} from '../../contracts/protocol';
import { encodeCursor } from '../shared/comment-cursor';
import type { CommentRepository } from '../shared/comment-repository';

/** A snapshot or later page carries at most this many comments, like one page of the comments API. */
export const SNAPSHOT_LIMIT = 100;

/**
 * API Gateway refuses a pushed message over 128 KB (413), which would leave a subscriber without its page.
 * Keep well under it: the newest comments of a page that do not fit are left out, the page says so
 * (`truncated`), and its cursor points past the last comment sent, so the client asks for the rest.
 */
export const MAX_SNAPSHOT_BYTES = 120 * 1024;

/** How often a snapshot re-reads its first page when the post's seq moved while it was read. */
const SNAPSHOT_SEQ_ATTEMPTS = 3;

/** A page cut to fit: the comments kept, and where the next page starts when more follow. */
interface FittedPage {
  comments: Comment[];
  truncated: boolean;
  hasMore: boolean;
  cursor?: string;
}

/**
 * Keeps the oldest comments of a page that fit in `fits`. When some are left out, or the store said more
 * follow, the page has more, and its cursor is the last comment kept (or, with nothing kept at all, where
 * the page started).
 */
function fitPage(
  comments: Comment[],
  storeCursor: string | undefined,
  startCursor: string | undefined,
  fits: (page: FittedPage) => boolean,
): FittedPage {
  const complete = (kept: Comment[], truncated: boolean): FittedPage => {
    const last = kept[kept.length - 1];
    const cursor = truncated ? (last ? encodeCursor(last.id) : startCursor) : storeCursor;
    return cursor === undefined
      ? { comments: kept, truncated, hasMore: false }
      : { comments: kept, truncated, hasMore: true, cursor };
  };
  let kept = comments;
  let page = complete(kept, false);
  while (kept.length > 0 && !fits(page)) {
    kept = kept.slice(0, -1);
    page = complete(kept, true);
  }
  return page;
}

/**
 * The first page as a subscriber receives it. `hasMore`/`cursor` appear only when more comments follow
 * and `truncated` only when the 128 KB limit cut the page, so a post whose comments fit one page gets the
 * same bytes as before paging existed.
 */
export function snapshotEvent(
  postId: string,
  comments: Comment[],
  seq: number,
  reset: boolean,
  nextCursor?: string,
): CommentsListEvent {
  const build = (page: FittedPage): CommentsListEvent => ({
    type: 'comments.list',
    data: {
      postId,
      comments: page.comments,
      count: page.comments.length,
      seq,
      ...(reset ? { reset: true } : {}),
      ...(page.truncated ? { truncated: true } : {}),
      ...(page.hasMore ? { hasMore: true, cursor: page.cursor } : {}),
    },
  });
  const page = fitPage(comments, nextCursor, undefined, (candidate) => fitsMessage(build(candidate)));
  return build(page);
}

/** A later page, the answer to `listComments`. */
export function pageEvent(
  postId: string,
  comments: Comment[],
  startCursor: string | undefined,
  nextCursor: string | undefined,
): CommentsPageEvent {
  const build = (page: FittedPage): CommentsPageEvent => ({
    type: 'comments.page',
    data: {
      postId,
      comments: page.comments,
      count: page.comments.length,
      ...(page.truncated ? { truncated: true } : {}),
      hasMore: page.hasMore,
      ...(page.cursor === undefined ? {} : { cursor: page.cursor }),
    },
  });
  return build(fitPage(comments, nextCursor, startCursor, (candidate) => fitsMessage(build(candidate))));
}

function fitsMessage(event: CommentsListEvent | CommentsPageEvent): boolean {
  return byteLength(JSON.stringify(event)) <= MAX_SNAPSHOT_BYTES;
}

/** Reads the pages a subscriber needs, from the comments repository. */
export class CommentPages {
  constructor(
    private readonly comments: CommentRepository,
    private readonly pageSize: number = SNAPSHOT_LIMIT,
  ) {}

  /**
   * The first page and the seq it stands at. `seq` was read (consistently) before the page, so the page
   * reflects at least every event up to it; reading the seq again after the page and retrying until the
   * two agree makes `seq` exact, so a live event after it is never already in the page. Under constant
   * writes the last pair is sent as is: the client applies events idempotently (an upsert, a replace, a
   * removal), so a change it sees twice does no harm.
   */
  async snapshot(postId: string, seq: number, reset: boolean): Promise<CommentsListEvent> {
    const read = () => this.comments.listComments(postId, { limit: this.pageSize, consistent: true });
    let atSeq = seq;
    let page = await read();
    for (let attempt = 0; attempt < SNAPSHOT_SEQ_ATTEMPTS; attempt += 1) {
      const after = await this.comments.getLastSeq(postId);
      if (after === undefined || after === atSeq) break;
      atSeq = after;
      page = await read();
    }
    return snapshotEvent(postId, page.comments, atSeq, reset, page.nextCursor);
  }

  /** The page after `cursor` (the first one without it). Throws InvalidCursorError for a forged cursor. */
  async page(postId: string, cursor: string | undefined): Promise<CommentsPageEvent> {
    const page = await this.comments.listComments(postId, {
      limit: this.pageSize,
      consistent: true,
      ...(cursor === undefined ? {} : { cursor }),
    });
    return pageEvent(postId, page.comments, cursor, page.nextCursor);
  }
}
