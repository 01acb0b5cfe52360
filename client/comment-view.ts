import type { Comment } from '../contracts/protocol';
import type { CommentEvent } from './post-stream';

const NO_COMMENTS: readonly Comment[] = Object.freeze([]);

/** Ids are ULIDs: their code-unit order is their creation order. */
const byId = (a: Comment, b: Comment): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** The comments of a list, in id order, one per id (a later copy of an id wins). */
export function orderedComments(comments: Iterable<Comment>): Comment[] {
  const unique = new Map<string, Comment>();
  for (const comment of comments) unique.set(comment.id, comment);
  return [...unique.values()].sort(byId);
}

/**
 * One post's comments as the application should show them: a complete list, ordered by id, with events
 * applied idempotently. Idempotence matters because a list assembled from pages can already include
 * changes newer than its `seq`, and the events after that `seq` are applied on top of it all the same
 * (docs/protocol.md, `comments.page`).
 */
export class CommentView {
  private readonly byId = new Map<string, Comment>();
  private ordered: readonly Comment[] = NO_COMMENTS;
  private stale = false;
  private filled = false;

  /** True once a complete list has been put in; before that the view is empty, not the post's list. */
  get complete(): boolean {
    return this.filled;
  }

  /** The comments, oldest first; a new frozen array after every change, the same one otherwise. */
  get comments(): readonly Comment[] {
    if (this.stale) {
      this.ordered = Object.freeze(orderedComments(this.byId.values()));
      this.stale = false;
    }
    return this.ordered;
  }

  /** Replaces everything with a complete list. */
  replace(comments: readonly Comment[]): void {
    this.byId.clear();
    for (const comment of comments) this.byId.set(comment.id, comment);
    this.filled = true;
    this.stale = true;
  }

  /** Applies one change; returns whether the view changed. */
  apply(event: CommentEvent): boolean {
    if (event.type === 'comment.created') {
      const { comment } = event.data;
      // A copy already here is this comment as read later (a page read after the event), so at least as
      // new as the creation: keep it.
      if (!comment || this.byId.has(comment.id)) return false;
      return this.set(comment);
    }
    const { commentId, action, comment } = event.data;
    if (action === 'deleted') {
      if (!this.byId.delete(commentId)) return false;
      this.stale = true;
      return true;
    }
    // Servers that predate `data.comment` name the edited comment without its content: keep it as it is.
    if (!comment) return false;
    const current = this.byId.get(commentId);
    if (current && current.content === comment.content && current.updatedAt === comment.updatedAt) {
      return false;
    }
    // An edit of a comment missing here was deleted after the page that lacked it was read; the delete
    // follows in seq order, so storing it now changes nothing in the end.
    return this.set(current ? { ...current, content: comment.content, ...updatedAt(comment) } : comment);
  }

  private set(comment: Comment): boolean {
    this.byId.set(comment.id, comment);
    this.stale = true;
    return true;
  }
}

function updatedAt(comment: Comment): { updatedAt?: string } {
  return comment.updatedAt === undefined ? {} : { updatedAt: comment.updatedAt };
}
