import type { Comment } from '@realtime-comments/client';
import { $, button, element, submitOnCtrlEnter } from './dom';

const DELETED = 'deleted';
const versionOf = (comment: Comment): string => comment.updatedAt ?? comment.createdAt;

export interface CommentListOptions {
  /** Who is signed in: their own comments get Edit and Delete. */
  signedInAs(): string | undefined;
  save(comment: Comment, content: string, save: HTMLButtonElement): Promise<void>;
  delete(comment: Comment, deleteButton: HTMLButtonElement): Promise<void>;
}

/**
 * The open post's comments on the page (#comments): the SDK's view, with the user's own edits and
 * deletions it has not caught up with yet. An item is built again only when what it shows changes, and
 * the one being edited in place is left alone, so its editor keeps its text, caret and focus.
 */
export class CommentList {
  private editingId: string | undefined;
  /** Own edits and deletions the view has not caught up with yet (it does within ms when live). */
  private readonly written = new Map<string, Comment | typeof DELETED>();
  private last: { view: readonly Comment[]; live: boolean } = { view: [], live: false };

  constructor(private readonly options: CommentListOptions) {}

  get editing(): string | undefined {
    return this.editingId;
  }

  wrote(comment: Comment): void {
    this.written.set(comment.id, comment);
  }

  deleted(commentId: string): void {
    this.written.set(commentId, DELETED);
  }

  /** Empties the list: another post, or none, is shown now. */
  clear(): void {
    this.editingId = undefined;
    this.written.clear();
    this.last = { view: [], live: false };
    $('comments').replaceChildren();
  }

  /** Shows the view (the SDK's complete, ordered list); without arguments, the last one again. */
  render(view: readonly Comment[] = this.last.view, live = this.last.live): void {
    this.last = { view, live };
    const comments = this.visible(view);
    if (this.editingId && !comments.some((comment) => comment.id === this.editingId)) {
      this.editingId = undefined;
    }
    const list = $('comments');
    const current = new Map<string, HTMLElement>();
    for (const item of Array.from(list.querySelectorAll<HTMLElement>(':scope > li'))) {
      current.set(item.dataset.commentId ?? '', item);
    }
    const items = comments.map((comment) => {
      const item = current.get(comment.id);
      return item && (item.dataset.key === this.itemKey(comment) || comment.id === this.editingId)
        ? item
        : this.renderComment(comment);
    });
    const kept = new Set(items);
    for (const item of current.values()) if (!kept.has(item)) item.remove();
    // Only items out of place are moved: moving the one being edited would take the focus from its editor.
    items.forEach((item, index) => {
      if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
    });
    const empty = $('no-comments');
    empty.hidden = comments.length > 0;
    empty.textContent = live ? 'No comments yet: write the first.' : 'Loading comments…';
  }

  /** Closes the editor, if one is open, and puts the keyboard back on its comment's Edit button. */
  stopEditing({ refocus = true } = {}): void {
    const id = this.editingId;
    if (id === undefined) return;
    this.editingId = undefined;
    this.render();
    if (refocus) this.item(id)?.querySelector<HTMLButtonElement>('.actions button')?.focus();
  }

  private visible(view: readonly Comment[]): Comment[] {
    const shown: Comment[] = [];
    const inView = new Set<string>();
    for (const comment of view) {
      inView.add(comment.id);
      const written = this.written.get(comment.id);
      if (written === DELETED) continue;
      if (written && versionOf(written) > versionOf(comment)) {
        shown.push(written);
        continue;
      }
      this.written.delete(comment.id);
      shown.push(comment);
    }
    // Deletions the view has caught up with, and edits of comments deleted since: nothing left to cover.
    for (const id of this.written.keys()) if (!inView.has(id)) this.written.delete(id);
    return shown;
  }

  /** What an item shows: it is built again when this changes. */
  private itemKey(comment: Comment): string {
    return `${versionOf(comment)} ${comment.userId === this.options.signedInAs() ? 'own' : 'other'}`;
  }

  private renderComment(comment: Comment): HTMLLIElement {
    const item = element('li', '');
    item.dataset.commentId = comment.id;
    item.dataset.key = this.itemKey(comment);
    const edited = comment.updatedAt ? ' · edited' : '';
    item.append(
      element('div', 'meta', `${comment.userId} · ${new Date(comment.createdAt).toLocaleString()}${edited}`),
      element('p', 'content', comment.content),
    );
    if (comment.userId === this.options.signedInAs()) {
      const actions = element('div', 'actions');
      actions.append(
        button('Edit', () => this.startEditing(comment)),
        button('Delete', (deleteButton) => void this.options.delete(comment, deleteButton)),
      );
      item.append(actions);
    }
    return item;
  }

  /** Replaces the comment's text with an editor: Ctrl+Enter (⌘+Enter) saves, Escape cancels. */
  private startEditing(comment: Comment): void {
    this.stopEditing();
    // Closing another editor re-rendered the list: take the comment's item as it is now.
    const item = this.item(comment.id);
    if (!item) return;
    this.editingId = comment.id;
    item.dataset.key = 'editing';
    const form = element('form', 'edit-form');
    const textarea = element('textarea', '');
    textarea.value = comment.content;
    textarea.required = true;
    textarea.maxLength = 2000;
    textarea.rows = Math.min(8, Math.max(3, comment.content.split('\n').length + 1));
    textarea.setAttribute('aria-label', 'Edit comment');
    const save = button('Save');
    save.type = 'submit';
    const actions = element('div', 'actions');
    actions.append(
      save,
      button('Cancel', () => this.stopEditing()),
      element('span', 'muted', 'Ctrl+Enter saves, Esc cancels'),
    );
    form.append(textarea, actions);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.options.save(comment, textarea.value, save);
    });
    textarea.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        this.stopEditing();
      }
    });
    submitOnCtrlEnter(textarea, form);
    item.querySelector('.content')?.replaceWith(form);
    item.querySelector(':scope > .actions')?.remove();
    textarea.focus();
    textarea.setSelectionRange(textarea.value.length, textarea.value.length);
  }

  private item(commentId: string): HTMLElement | undefined {
    return Array.from($('comments').children).find(
      (item): item is HTMLElement => item instanceof HTMLElement && item.dataset.commentId === commentId,
    );
  }
}
