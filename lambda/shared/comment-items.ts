import type { Comment, CommentUpdatedEvent, Post, SequencedChangeEvent } from '../../contracts/protocol';

/**
 * The comments table's items read back as protocol objects, field by field: an item may carry the table's
 * own attributes (keys, `lastSeq`, `expiresAt`), which must not leak into what clients receive.
 */
export function toComment(item: Record<string, unknown>): Comment {
  const comment: Comment = {
    id: String(item.id),
    postId: String(item.postId),
    userId: String(item.userId),
    content: String(item.content),
    createdAt: String(item.createdAt),
  };
  if (typeof item.updatedAt === 'string') comment.updatedAt = item.updatedAt;
  return comment;
}

export function toPost(item: Record<string, unknown>): Post {
  return {
    id: String(item.id),
    title: String(item.title),
    body: String(item.body ?? ''),
    userId: String(item.userId),
    createdAt: String(item.createdAt),
  };
}

/**
 * The event of a stored item, rebuilt field by field in one fixed key order. The comments API broadcasts
 * what this returns for the item it wrote and a replay sends what it returns for the item it read, so a
 * replayed event is the same bytes as the live one whatever order DynamoDB hands map attributes back in.
 */
export function toSequencedEvent(item: Record<string, unknown>): SequencedChangeEvent {
  const data = (item.data ?? {}) as Record<string, unknown>;
  const postId = String(data.postId);
  const meta = { eventId: String(item.eventId), seq: Number(item.seq) };
  switch (item.type) {
    case 'comment.created':
      return {
        type: 'comment.created',
        data: { postId, comment: toComment((data.comment ?? {}) as Record<string, unknown>) },
        ...meta,
      };
    case 'comment.updated': {
      const action: CommentUpdatedEvent['data']['action'] = data.action === 'deleted' ? 'deleted' : 'updated';
      const updated: CommentUpdatedEvent['data'] = { postId, commentId: String(data.commentId), action };
      // Edits stored before events carried the comment have none: they go out as they were.
      if (action === 'updated' && data.comment !== undefined) {
        updated.comment = toComment(data.comment as Record<string, unknown>);
      }
      return { type: 'comment.updated', data: updated, ...meta };
    }
    default:
      throw new Error(`Stored event ${String(item.sk)} has an unknown type ${String(item.type)}`);
  }
}
