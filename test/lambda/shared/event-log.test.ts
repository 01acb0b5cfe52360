import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Comment } from '../../../contracts/protocol';
import { toSequencedEvent } from '../../../lambda/shared/comment-items';
import { readEvent, readEvents } from '../../../lambda/shared/event-log';

const TABLE = 'comments-test';
const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));

const edited: Comment = {
  id: 'C1',
  postId: 'P1',
  userId: 'bob',
  content: 'Edited',
  createdAt: '2027-01-01T00:00:00.000Z',
  updatedAt: '2027-01-02T00:00:00.000Z',
};
/** A stored edit event as DynamoDB hands it back: keys, TTL and map attributes in another order. */
const editItem = (data: Record<string, unknown>): Record<string, unknown> => ({
  expiresAt: 1_798_848_000,
  sk: 'event#000000000003',
  seq: 3,
  type: 'comment.updated',
  pk: 'post#P1',
  createdAt: '2027-01-02T00:00:00.000Z',
  data,
  eventId: 'E3',
});

beforeEach(() => {
  ddb.reset();
});

describe('readEvent', () => {
  it('reads one seq’s event item consistently by its zero-padded key', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({
      Item: editItem({ action: 'updated', commentId: 'C1', postId: 'P1' }),
    });

    // Act
    const event = await readEvent(client, TABLE, 'P1', 3);

    // Assess
    expect(event).toEqual({
      type: 'comment.updated',
      data: { postId: 'P1', commentId: 'C1', action: 'updated' },
      eventId: 'E3',
      seq: 3,
    });
    expect(ddb).toHaveReceivedCommandWith(GetCommand, {
      TableName: TABLE,
      Key: { pk: 'post#P1', sk: 'event#000000000003' },
      ConsistentRead: true,
    });
  });

  it('answers undefined for a seq with no stored event', async () => {
    // Prepare
    ddb.on(GetCommand).resolves({});

    // Act
    const event = await readEvent(client, TABLE, 'P1', 4);

    // Assess
    expect(event).toBeUndefined();
  });
});

describe('readEvents', () => {
  it('reads afterSeq exclusive to throughSeq inclusive', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({ Items: [] });

    // Act
    await readEvents(client, TABLE, 'P1', { afterSeq: 0, throughSeq: 1, now: 0 });

    // Assess
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: {
        ':pk': 'post#P1',
        ':from': 'event#000000000001',
        ':through': 'event#000000000001',
      },
    });
  });

  it('reads nothing for a range that ends before it starts', async () => {
    // Act
    const events = await readEvents(client, TABLE, 'P1', { afterSeq: 5, throughSeq: 3, now: 0 });

    // Assess
    expect(events).toEqual([]);
    expect(ddb).not.toHaveReceivedCommand(QueryCommand);
  });
});

describe('toSequencedEvent', () => {
  it('keeps the edited comment of an update, field by field in the fixed order', () => {
    // Prepare
    const item = editItem({
      comment: { ...edited, pk: 'post#P1', sk: 'comment#C1', updatedAt: edited.updatedAt, id: 'C1' },
      action: 'updated',
      commentId: 'C1',
      postId: 'P1',
    });

    // Act
    const event = toSequencedEvent(item);

    // Assess
    expect(JSON.stringify(event)).toBe(
      JSON.stringify({
        type: 'comment.updated',
        data: { postId: 'P1', commentId: 'C1', action: 'updated', comment: edited },
        eventId: 'E3',
        seq: 3,
      }),
    );
  });

  it('sends an edit stored before events carried the comment as it was stored', () => {
    // Act
    const event = toSequencedEvent(editItem({ action: 'updated', commentId: 'C1', postId: 'P1' }));

    // Assess
    expect(event.data).toEqual({ postId: 'P1', commentId: 'C1', action: 'updated' });
    expect(event.data).not.toHaveProperty('comment');
  });

  it('never attaches a comment to a deletion', () => {
    // Act
    const event = toSequencedEvent(
      editItem({ action: 'deleted', commentId: 'C1', postId: 'P1', comment: edited }),
    );

    // Assess
    expect(event.data).toEqual({ postId: 'P1', commentId: 'C1', action: 'deleted' });
  });

  it('refuses an item of an unknown type, naming it', () => {
    // Act
    const read = (): unknown => toSequencedEvent({ ...editItem({}), type: 'post.renamed' });

    // Assess
    expect(read).toThrow('Stored event event#000000000003 has an unknown type post.renamed');
  });
});
