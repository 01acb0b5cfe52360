import { PostStream, type CommentEvent } from '../../client';
import { created, snapshot, updated } from './fake-websocket';

const seqs = (events: CommentEvent[]): (number | undefined)[] => events.map((event) => event.seq);

function streamAt(lastSeq: number): PostStream {
  const stream = new PostStream({ dedupeWindow: 1000 });
  stream.resumeFrom();
  stream.acceptSnapshot(snapshot(lastSeq));
  return stream;
}

describe('PostStream', () => {
  it('takes lastSeq from the snapshot and delivers the events that follow it', () => {
    const stream = new PostStream({ dedupeWindow: 1000 });
    expect(stream.resumeFrom()).toBeUndefined();

    const first = stream.acceptSnapshot(snapshot(4));
    const next = stream.acceptEvent(created(5));

    expect(first.snapshot?.data.seq).toBe(4);
    expect(seqs(next.events)).toEqual([5]);
    expect(stream.lastSeq).toBe(5);
    expect(stream.resumeFrom()).toBe(5);
  });

  it('holds events that arrive before the snapshot and drops those it already includes', () => {
    const stream = new PostStream({ dedupeWindow: 1000 });
    stream.resumeFrom();

    const early = [
      stream.acceptEvent(created(3)),
      stream.acceptEvent(created(5)),
      stream.acceptEvent(created(4)),
    ];
    const step = stream.acceptSnapshot(snapshot(3));

    expect(early.flatMap((s) => s.events)).toEqual([]);
    expect(step.snapshot).toBeDefined();
    expect(seqs(step.events)).toEqual([4, 5]);
    expect(step.gap).toBe(false);
  });

  it('drops an event whose seq is not after lastSeq', () => {
    const stream = streamAt(10);

    expect(stream.acceptEvent(created(10))).toEqual({ events: [], gap: false });
    expect(stream.acceptEvent(created(7))).toEqual({ events: [], gap: false });
    expect(stream.hasGap).toBe(false);
    expect(seqs(stream.acceptEvent(created(11)).events)).toEqual([11]);
    expect(stream.acceptEvent(created(11)).events).toEqual([]);
  });

  it('drops a second copy of an eventId, with or without seq', () => {
    const stream = streamAt(0);
    stream.acceptEvent(created(1, 'post-1', 'same-id'));

    expect(stream.acceptEvent({ ...created(undefined), eventId: 'same-id' }).events).toEqual([]);
  });

  it('buffers past a gap and drains in order once the missing events arrive', () => {
    const stream = streamAt(1);

    const ahead = [stream.acceptEvent(created(4)), stream.acceptEvent(created(3))];
    const filled = stream.acceptEvent(created(2));

    expect(ahead.map((s) => s.gap)).toEqual([true, true]);
    expect(ahead.flatMap((s) => s.events)).toEqual([]);
    expect(stream.lastSeq).toBe(4);
    expect(seqs(filled.events)).toEqual([2, 3, 4]);
    expect(filled.gap).toBe(false);
    expect(stream.hasGap).toBe(false);
  });

  it('reports a gap still open after a partial fill', () => {
    const stream = streamAt(1);
    stream.acceptEvent(created(5));

    const step = stream.acceptEvent(created(2));

    expect(seqs(step.events)).toEqual([2]);
    expect(step.gap).toBe(true);
  });

  it('accepts a reset snapshot whatever it had, and drains what follows it', () => {
    const stream = streamAt(5);
    stream.acceptEvent(created(43));

    const step = stream.acceptSnapshot(snapshot(42, { reset: true }));

    expect(step.snapshot?.data.reset).toBe(true);
    expect(seqs(step.events)).toEqual([43]);
    expect(stream.lastSeq).toBe(43);
    expect(stream.acceptEvent(created(40)).events).toEqual([]);
  });

  it('ignores a plain snapshot older than what it has applied', () => {
    const stream = streamAt(5);
    stream.acceptEvent(created(6));

    expect(stream.acceptSnapshot(snapshot(5)).snapshot).toBeUndefined();
    expect(stream.lastSeq).toBe(6);
  });

  it('delivers events without seq as they come (servers before sequencing)', () => {
    const stream = new PostStream({ dedupeWindow: 1000 });
    stream.resumeFrom();
    const held = stream.acceptEvent(created(undefined, 'post-1', 'a'));
    const step = stream.acceptSnapshot(snapshot(undefined));

    const later = stream.acceptEvent({ ...created(undefined, 'post-1', 'b') });

    expect(held.events).toEqual([]);
    expect(step.events).toHaveLength(1);
    expect(later.events).toHaveLength(1);
    expect(stream.lastSeq).toBeUndefined();
  });

  it('restarts from a snapshot when asked, keeping what it buffered', () => {
    const stream = streamAt(1);
    stream.acceptEvent(created(9));

    stream.restart();
    expect(stream.resumeFrom()).toBeUndefined();
    const step = stream.acceptSnapshot(snapshot(8));

    expect(seqs(step.events)).toEqual([9]);
    expect(step.snapshot?.data.reset).toBe(true);
  });

  it('forgets eventIds beyond its window', () => {
    const stream = new PostStream({ dedupeWindow: 2 });
    const deliveries = ['a', 'b', 'c', 'a'].map(
      (id) => stream.acceptEvent({ ...created(undefined), eventId: id }).events.length,
    );

    expect(deliveries).toEqual([1, 1, 1, 1]);
    expect(stream.acceptEvent({ ...created(undefined), eventId: 'c' }).events).toEqual([]);
  });

  it('handles updates like creations', () => {
    const stream = streamAt(0);

    expect(seqs(stream.acceptEvent(updated(1, 'c1')).events)).toEqual([1]);
  });
});

describe('PostStream: snapshots paged, pongs', () => {
  it('admits a reset or an awaited snapshot, never a plain one nobody asked for', () => {
    const stream = streamAt(5);

    expect(stream.admits(snapshot(9))).toBe(false);
    expect(stream.admits(snapshot(9, { reset: true }))).toBe(true);
    stream.holdForSnapshot();
    expect(stream.admits(snapshot(9))).toBe(true);
  });

  it('holds events while a snapshot is paged, and keeps lastSeq where it was until it is taken', () => {
    const stream = streamAt(5);
    stream.holdForSnapshot();

    const held = [stream.acceptEvent(created(6)), stream.acceptEvent(created(43))];
    const heldAt = stream.lastSeq;
    const step = stream.acceptSnapshot(snapshot(42, { reset: true }));

    expect(held.flatMap((s) => s.events)).toEqual([]);
    expect(heldAt).toBe(5);
    expect(seqs(step.events)).toEqual([43]);
  });

  it('reports a gap when the server says it is ahead, until the events arrive', () => {
    const stream = streamAt(3);

    const behind = stream.noteServerSeq(5);
    const partly = stream.acceptEvent(created(4));
    const filled = stream.acceptEvent(created(5));

    expect([behind, partly.gap, filled.gap]).toEqual([true, true, false]);
    expect(stream.noteServerSeq(5)).toBe(false);
    expect(stream.noteServerSeq(2)).toBe(false);
  });

  it('waits for a snapshot again after resumeFrom only when it has no lastSeq', () => {
    const stream = streamAt(5);
    stream.holdForSnapshot();

    expect(stream.resumeFrom()).toBe(5);
    expect(stream.awaiting).toBe(false);
    expect(seqs(stream.acceptEvent(created(6)).events)).toEqual([6]);
  });
});
