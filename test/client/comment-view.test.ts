import { CommentView, type Comment } from '../../client';
import { SnapshotAssembly } from '../../client/snapshot-assembly';
import { comment, created, edited, page, snapshot, updated } from './fake-websocket';

const ids = (comments: readonly Comment[]): string[] => comments.map((c) => c.id);
const edit = (id: string, content: string): Comment => ({
  ...comment(id),
  content,
  updatedAt: '2026-02-01T00:00:00.000Z',
});

describe('CommentView', () => {
  it('is empty and incomplete until a list is put in, then ordered by id whatever the input order', () => {
    const view = new CommentView();
    const before = { complete: view.complete, comments: view.comments };

    view.replace([comment('c3'), comment('c1'), comment('c2')]);

    expect(before).toEqual({ complete: false, comments: [] });
    expect(view.complete).toBe(true);
    expect(ids(view.comments)).toEqual(['c1', 'c2', 'c3']);
    expect(Object.isFrozen(view.comments)).toBe(true);
  });

  it('inserts a created comment, and keeps a copy it already has (read later, so at least as new)', () => {
    const view = new CommentView();
    view.replace([edit('c1', 'edited')]);

    const changes = [view.apply(created(5)), view.apply(created(1))];

    expect(changes).toEqual([true, false]);
    expect(view.comments).toEqual([edit('c1', 'edited'), comment('c5')]);
  });

  it('takes content and updatedAt from an edit that carries the comment, once', () => {
    const view = new CommentView();
    view.replace([comment('c1'), comment('c2')]);

    const changes = [view.apply(edited(3, edit('c2', 'new'))), view.apply(edited(4, edit('c2', 'new')))];

    expect(changes).toEqual([true, false]);
    expect(view.comments).toEqual([comment('c1'), edit('c2', 'new')]);
  });

  it('keeps the comment as it is on an edit without the comment (older servers)', () => {
    const view = new CommentView();
    view.replace([comment('c1')]);
    const before = view.comments;

    const changed = view.apply({
      type: 'comment.updated',
      data: { postId: 'post-1', commentId: 'c1', action: 'updated' },
      seq: 2,
      eventId: 'e2',
    });

    expect(changed).toBe(false);
    expect(view.comments).toBe(before);
  });

  it('removes a deleted comment, and a second delete changes nothing', () => {
    const view = new CommentView();
    view.replace([comment('c1'), comment('c2')]);

    const changes = [view.apply(updated(3, 'c1')), view.apply(updated(3, 'c1'))];

    expect(changes).toEqual([true, false]);
    expect(ids(view.comments)).toEqual(['c2']);
  });
});

describe('SnapshotAssembly', () => {
  it('merges the pages of a snapshot into one complete list, a later copy of an id winning', () => {
    const assembly = SnapshotAssembly.fromList(
      snapshot(7, { comments: [comment('c1'), comment('c2')], cursor: 'a' }),
    );

    const cursors = [assembly.cursor];
    assembly.add(page([comment('c3')], { cursor: 'b' }).data);
    cursors.push(assembly.cursor);
    assembly.add(page([edit('c2', 'newer')]).data);

    expect(cursors).toEqual(['a', 'b']);
    expect(assembly.complete).toBe(true);
    expect(assembly.toList()).toEqual({
      type: 'comments.list',
      data: {
        postId: 'post-1',
        comments: [comment('c1'), edit('c2', 'newer'), comment('c3')],
        count: 3,
        seq: 7,
        hasMore: false,
      },
    });
  });

  it('keeps the reset flag, and takes a page that says more without a cursor as the last', () => {
    const list = snapshot(9, { comments: [comment('c1')], reset: true });
    list.data.hasMore = true;

    const assembly = SnapshotAssembly.fromList(list);

    expect(assembly.complete).toBe(true);
    expect(assembly.toList()?.data).toEqual({
      postId: 'post-1',
      comments: [comment('c1')],
      count: 1,
      seq: 9,
      reset: true,
      hasMore: false,
    });
  });

  it('reads a view from the first page, and again from it after a refused cursor', () => {
    const assembly = SnapshotAssembly.fromFirstPage();
    const first = assembly.cursor;
    assembly.add(page([comment('c1')], { cursor: 'x' }).data);
    assembly.restartPaging();

    expect(first).toBeUndefined();
    expect(assembly.snapshot).toBe(false);
    expect(assembly.cursor).toBeUndefined();
    expect(assembly.complete).toBe(false);
    expect(assembly.toList()).toBeUndefined();
    expect(assembly.comments()).toEqual([comment('c1')]);
  });
});
