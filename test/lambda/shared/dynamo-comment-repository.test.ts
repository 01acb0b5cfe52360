import { InternalServerError, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '../../../lambda/shared/aws-clients';
import { InvalidCursorError } from '../../../lambda/shared/comment-cursor';
import {
  DEFAULT_MAX_SEQ_ATTEMPTS,
  DynamoCommentRepository,
  SeqContentionError,
  type EventStamp,
} from '../../../lambda/shared/comment-repository';
import type { Comment } from '../../../contracts/protocol';

const TABLE = 'comments-test';
const ddb = mockClient(DynamoDBDocumentClient);
const waits: number[] = [];
const repository = new DynamoCommentRepository(createDocumentClient({}), TABLE, {
  sleep: async (ms) => {
    waits.push(ms);
  },
});

const comment: Comment = {
  id: '01J0000000000000000000000A',
  postId: 'P1',
  userId: 'bob',
  content: 'Hello',
  createdAt: '2027-01-01T00:00:00.000Z',
};
const commentKey = { pk: 'post#P1', sk: `comment#${comment.id}` };
const postKey = { pk: 'post#P1', sk: 'post' };
const stamp: EventStamp = {
  eventId: '01J0000000000000000000000E',
  createdAt: '2027-01-01T00:00:00.000Z',
  expiresAt: 1_798_848_000,
};
const cancelled = (
  reasons: ({ Code: string; Item?: Record<string, unknown> } | string)[],
): TransactionCanceledException =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: reasons.map((reason) =>
      typeof reason === 'string' ? { Code: reason } : (reason as { Code: string }),
    ),
  });
/** The post item as a consistent GetItem of lastSeq answers it; undefined: no such post. */
const postWithSeq = (lastSeq?: number): { Item?: Record<string, unknown> } => ({
  Item: lastSeq === undefined ? { pk: 'post#P1' } : { pk: 'post#P1', lastSeq },
});
/** The stored event item of seq n, as DynamoDB returns it (map attributes in another key order). */
const eventItem = (seq: number, expiresAt = stamp.expiresAt): Record<string, unknown> => ({
  expiresAt,
  sk: `event#${String(seq).padStart(12, '0')}`,
  seq,
  type: 'comment.updated',
  pk: 'post#P1',
  createdAt: stamp.createdAt,
  data: { action: 'updated', commentId: `C${seq}`, postId: 'P1' },
  eventId: `E${seq}`,
});

beforeEach(() => {
  ddb.reset();
  waits.length = 0;
});

describe('DynamoCommentRepository', () => {
  describe('createPost and getPost', () => {
    it('stores a post under its post key, refusing to overwrite one', async () => {
      // Prepare
      ddb.on(PutCommand).resolves({});
      const post = {
        id: 'P1',
        title: 'T',
        body: 'B',
        userId: 'alice',
        createdAt: '2027-01-01T00:00:00.000Z',
      };

      // Act
      await repository.createPost(post);

      // Assess
      expect(ddb).toHaveReceivedCommandWith(PutCommand, {
        TableName: TABLE,
        Item: { pk: 'post#P1', sk: 'post', ...post },
        ConditionExpression: 'attribute_not_exists(#pk)',
      });
    });

    it('returns the post without its key attributes, or undefined when absent', async () => {
      // Prepare
      const post = {
        id: 'P1',
        title: 'T',
        body: 'B',
        userId: 'alice',
        createdAt: '2027-01-01T00:00:00.000Z',
      };
      ddb.on(GetCommand).resolves({});
      ddb
        .on(GetCommand, { Key: { pk: 'post#P1', sk: 'post' } })
        .resolves({ Item: { pk: 'post#P1', sk: 'post', ...post } });

      // Act
      const found = await repository.getPost('P1');
      const missing = await repository.getPost('P2');

      // Assess
      expect(found).toEqual(post);
      expect(missing).toBeUndefined();
    });
  });

  describe('getLastSeq', () => {
    it('reads the post’s lastSeq consistently, 0 before its first event, undefined without the post', async () => {
      // Prepare
      ddb.on(GetCommand).resolves({});
      ddb.on(GetCommand, { Key: postKey }).resolvesOnce(postWithSeq(7)).resolvesOnce(postWithSeq());

      // Act
      const seven = await repository.getLastSeq('P1');
      const none = await repository.getLastSeq('P1');
      const missing = await repository.getLastSeq('P2');

      // Assess
      expect([seven, none, missing]).toEqual([7, 0, undefined]);
      expect(ddb).toHaveReceivedCommandWith(GetCommand, {
        TableName: TABLE,
        Key: postKey,
        ConsistentRead: true,
        ProjectionExpression: '#pk, #lastSeq',
      });
    });
  });

  describe('createComment', () => {
    it('takes the next seq, writes the comment and stores its event in one transaction', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(4));
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toEqual({
        ok: true,
        event: {
          type: 'comment.created',
          data: { postId: 'P1', comment },
          eventId: stamp.eventId,
          seq: 5,
        },
      });
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          {
            Update: {
              TableName: TABLE,
              Key: postKey,
              UpdateExpression: 'SET #lastSeq = :seq',
              ConditionExpression: 'attribute_exists(#pk) AND #lastSeq = :previous',
              ExpressionAttributeNames: { '#pk': 'pk', '#lastSeq': 'lastSeq' },
              ExpressionAttributeValues: { ':seq': 5, ':previous': 4 },
            },
          },
          {
            Put: {
              TableName: TABLE,
              Item: { ...commentKey, ...comment },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
            },
          },
          {
            Put: {
              TableName: TABLE,
              Item: {
                pk: 'post#P1',
                sk: 'event#000000000005',
                eventId: stamp.eventId,
                seq: 5,
                type: 'comment.created',
                data: { postId: 'P1', comment },
                createdAt: stamp.createdAt,
                expiresAt: stamp.expiresAt,
              },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
            },
          },
        ],
      });
    });

    it('takes seq 1 on a post without lastSeq, on condition that it still has none', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq());
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 1 } });
      const [advance] = ddb.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
      expect(advance?.Update).toMatchObject({
        ConditionExpression: 'attribute_exists(#pk) AND attribute_not_exists(#lastSeq)',
        ExpressionAttributeValues: { ':seq': 1 },
      });
      expect(advance?.Update?.ExpressionAttributeValues).not.toHaveProperty(':previous');
    });

    it('refuses, writing nothing, when the post does not exist', async () => {
      // Prepare
      ddb.on(GetCommand).resolves({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'postNotFound' });
      expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    });

    it('re-reads lastSeq and takes the next one when another writer took its seq first', async () => {
      // Prepare
      ddb.on(GetCommand).resolvesOnce(postWithSeq(4)).resolvesOnce(postWithSeq(6));
      ddb
        .on(TransactWriteCommand)
        .rejectsOnce(cancelled(['ConditionalCheckFailed', 'None', 'None']))
        .resolvesOnce({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 7, eventId: stamp.eventId } });
      expect(ddb).toHaveReceivedCommandTimes(GetCommand, 2);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, TransactWriteCommand, {
        TransactItems: [
          expect.objectContaining({
            Update: expect.objectContaining({ ExpressionAttributeValues: { ':seq': 7, ':previous': 6 } }),
          }),
          expect.anything(),
          expect.objectContaining({
            Put: expect.objectContaining({ Item: expect.objectContaining({ sk: 'event#000000000007' }) }),
          }),
        ],
      });
      expect(waits).toHaveLength(1);
    });

    it('retries a transaction conflict with a concurrent writer the same way', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(1));
      ddb
        .on(TransactWriteCommand)
        .rejectsOnce(cancelled(['TransactionConflict', 'None', 'None']))
        .resolvesOnce({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 2 } });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    });

    it('answers postNotFound when the post is gone by the retry', async () => {
      // Prepare
      ddb.on(GetCommand).resolvesOnce(postWithSeq(4)).resolvesOnce({});
      ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'None']));

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'postNotFound' });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('gives up with SeqContentionError after a few lost races, backing off in between', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(4));
      ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'None']));

      // Act
      const attempt = repository.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toThrow(SeqContentionError);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, DEFAULT_MAX_SEQ_ATTEMPTS);
      expect(waits).toHaveLength(DEFAULT_MAX_SEQ_ATTEMPTS - 1);
      for (const [index, ms] of waits.entries()) {
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThanOrEqual(Math.min(250, 10 * 2 ** (index + 1)));
      }
    });

    it('rethrows a failed condition on the new comment (an id collision is not a user error)', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(4));
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'ConditionalCheckFailed', 'None']));

      // Act
      const attempt = repository.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toThrow(TransactionCanceledException);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('rethrows other failures without retrying', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(4));
      ddb.on(TransactWriteCommand).rejects(new InternalServerError({ message: 'boom', $metadata: {} }));

      // Act
      const attempt = repository.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toThrow('boom');
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });
  });

  describe('listComments', () => {
    it('queries one post’s comments oldest first, without a start key on the first page', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [{ ...commentKey, ...comment }] });

      // Act
      const page = await repository.listComments('P1', { limit: 10 });

      // Assess
      expect(page).toEqual({ comments: [comment] });
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeValues: { ':pk': 'post#P1', ':prefix': 'comment#' },
        ScanIndexForward: true,
        Limit: 10,
        ExclusiveStartKey: undefined,
      });
    });

    it('issues a nextCursor that resumes after the page’s last comment', async () => {
      // Prepare
      ddb
        .on(QueryCommand)
        .resolvesOnce({ Items: [{ ...commentKey, ...comment }], LastEvaluatedKey: commentKey })
        .resolvesOnce({ Items: [] });

      // Act
      const first = await repository.listComments('P1', { limit: 1 });
      const second = await repository.listComments('P1', { limit: 1, cursor: first.nextCursor });

      // Assess
      expect(first.nextCursor).toEqual(expect.any(String));
      expect(second).toEqual({ comments: [] });
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, { ExclusiveStartKey: commentKey });
    });

    it('reads consistently when asked to, as the subscribe snapshot does', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [] });

      // Act
      await repository.listComments('P1', { limit: 10, consistent: true });

      // Assess
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, { ConsistentRead: true, Limit: 10 });
    });

    it('rejects a cursor it did not issue, without querying', async () => {
      // Act
      const attempt = repository.listComments('P1', { limit: 1, cursor: 'not a cursor!' });

      // Assess
      await expect(attempt).rejects.toThrow(InvalidCursorError);
      expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    });
  });

  describe('updateComment', () => {
    const edit = {
      postId: 'P1',
      commentId: comment.id,
      userId: 'bob',
      content: 'Edited',
      updatedAt: '2027-01-02T00:00:00.000Z',
    };

    it('sets content and updatedAt on the author’s comment and records comment.updated', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(2));
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.updateComment(edit, stamp);

      // Assess
      expect(outcome).toEqual({
        ok: true,
        event: {
          type: 'comment.updated',
          data: { postId: 'P1', commentId: comment.id, action: 'updated' },
          eventId: stamp.eventId,
          seq: 3,
        },
      });
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          expect.objectContaining({ Update: expect.objectContaining({ Key: postKey }) }),
          {
            Update: {
              TableName: TABLE,
              Key: commentKey,
              UpdateExpression: 'SET content = :content, updatedAt = :updatedAt',
              ConditionExpression: 'attribute_exists(#pk) AND userId = :userId',
              ExpressionAttributeNames: { '#pk': 'pk' },
              ExpressionAttributeValues: {
                ':content': 'Edited',
                ':updatedAt': edit.updatedAt,
                ':userId': 'bob',
              },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          expect.objectContaining({
            Put: expect.objectContaining({
              Item: expect.objectContaining({
                sk: 'event#000000000003',
                type: 'comment.updated',
                data: { postId: 'P1', commentId: comment.id, action: 'updated' },
              }),
            }),
          }),
        ],
      });
    });

    it('answers commentNotFound when the comment condition fails and no old item comes back', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(2));
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'ConditionalCheckFailed', 'None']));

      // Act
      const outcome = await repository.updateComment(edit, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'commentNotFound' });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('answers notAuthor when the comment exists (its old item comes back) but is someone else’s', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(2));
      ddb
        .on(TransactWriteCommand)
        .rejects(
          cancelled(['None', { Code: 'ConditionalCheckFailed', Item: { userId: { S: 'alice' } } }, 'None']),
        );

      // Act
      const outcome = await repository.updateComment(edit, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'notAuthor' });
    });

    it('judges the comment before the seq: a refused change is not retried', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(2));
      ddb
        .on(TransactWriteCommand)
        .rejects(cancelled(['ConditionalCheckFailed', 'ConditionalCheckFailed', 'None']));

      // Act
      const outcome = await repository.updateComment(edit, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'commentNotFound' });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('answers postNotFound without a transaction when the post does not exist', async () => {
      // Prepare
      ddb.on(GetCommand).resolves({});

      // Act
      const outcome = await repository.updateComment(edit, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'postNotFound' });
      expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    });
  });

  describe('deleteComment', () => {
    const removal = { postId: 'P1', commentId: comment.id, userId: 'bob' };

    it('deletes the author’s comment and records comment.updated with action deleted', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(9));
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.deleteComment(removal, stamp);

      // Assess
      expect(outcome).toEqual({
        ok: true,
        event: {
          type: 'comment.updated',
          data: { postId: 'P1', commentId: comment.id, action: 'deleted' },
          eventId: stamp.eventId,
          seq: 10,
        },
      });
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          expect.anything(),
          {
            Delete: {
              TableName: TABLE,
              Key: commentKey,
              ConditionExpression: 'attribute_exists(#pk) AND userId = :userId',
              ExpressionAttributeNames: { '#pk': 'pk' },
              ExpressionAttributeValues: { ':userId': 'bob' },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          expect.objectContaining({
            Put: expect.objectContaining({ Item: expect.objectContaining({ sk: 'event#000000000010' }) }),
          }),
        ],
      });
    });

    it.each([
      ['commentNotFound', { Code: 'ConditionalCheckFailed' }],
      ['notAuthor', { Code: 'ConditionalCheckFailed', Item: { userId: { S: 'alice' } } }],
    ])('answers %s for the matching cancellation of the comment item', async (reason, commentReason) => {
      // Prepare
      ddb.on(GetCommand).resolves(postWithSeq(9));
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', commentReason, 'None']));

      // Act
      const outcome = await repository.deleteComment(removal, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason });
    });

    it('retries a lost seq race and then succeeds', async () => {
      // Prepare
      ddb.on(GetCommand).resolvesOnce(postWithSeq(9)).resolvesOnce(postWithSeq(10));
      ddb
        .on(TransactWriteCommand)
        .rejectsOnce(cancelled(['ConditionalCheckFailed', 'None', 'None']))
        .resolvesOnce({});

      // Act
      const outcome = await repository.deleteComment(removal, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 11 } });
    });
  });

  describe('listEvents', () => {
    it('queries the range consistently, in seq order, and returns each event in the fixed key order', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({ Items: [eventItem(4), eventItem(5)] });

      // Act
      const events = await repository.listEvents('P1', { afterSeq: 3, throughSeq: 5, now: 1_798_000_000 });

      // Assess
      expect(events).toEqual([
        {
          type: 'comment.updated',
          data: { postId: 'P1', commentId: 'C4', action: 'updated' },
          eventId: 'E4',
          seq: 4,
        },
        {
          type: 'comment.updated',
          data: { postId: 'P1', commentId: 'C5', action: 'updated' },
          eventId: 'E5',
          seq: 5,
        },
      ]);
      expect(JSON.stringify(events[0])).toBe(
        '{"type":"comment.updated","data":{"postId":"P1","commentId":"C4","action":"updated"},"eventId":"E4","seq":4}',
      );
      expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
        TableName: TABLE,
        KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :through',
        ExpressionAttributeValues: {
          ':pk': 'post#P1',
          ':from': 'event#000000000004',
          ':through': 'event#000000000005',
        },
        ScanIndexForward: true,
        ConsistentRead: true,
      });
    });

    it('follows LastEvaluatedKey through every page', async () => {
      // Prepare
      ddb
        .on(QueryCommand)
        .resolvesOnce({
          Items: [eventItem(1)],
          LastEvaluatedKey: { pk: 'post#P1', sk: 'event#000000000001' },
        })
        .resolvesOnce({ Items: [eventItem(2)] });

      // Act
      const events = await repository.listEvents('P1', { afterSeq: 0, throughSeq: 2, now: 0 });

      // Assess
      expect(events.map((event) => event.seq)).toEqual([1, 2]);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, QueryCommand, {
        ExclusiveStartKey: { pk: 'post#P1', sk: 'event#000000000001' },
      });
    });

    it('leaves out events that have expired but not yet been deleted by TTL', async () => {
      // Prepare
      const now = 1_798_000_000;
      ddb
        .on(QueryCommand)
        .resolves({ Items: [eventItem(1, now - 1), eventItem(2, now), eventItem(3, now + 1)] });

      // Act
      const events = await repository.listEvents('P1', { afterSeq: 0, throughSeq: 3, now });

      // Assess
      expect(events.map((event) => event.seq)).toEqual([2, 3]);
    });

    it('reads nothing for an empty range', async () => {
      // Act
      const events = await repository.listEvents('P1', { afterSeq: 5, throughSeq: 5, now: 0 });

      // Assess
      expect(events).toEqual([]);
      expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    });

    it('rebuilds comment.created events with the comment’s fields in order', async () => {
      // Prepare
      ddb.on(QueryCommand).resolves({
        Items: [
          {
            ...eventItem(1),
            type: 'comment.created',
            data: {
              comment: {
                content: 'Hello',
                createdAt: comment.createdAt,
                userId: 'bob',
                postId: 'P1',
                id: comment.id,
              },
              postId: 'P1',
            },
          },
        ],
      });

      // Act
      const [event] = await repository.listEvents('P1', { afterSeq: 0, throughSeq: 1, now: 0 });

      // Assess
      expect(JSON.stringify(event)).toBe(
        JSON.stringify({ type: 'comment.created', data: { postId: 'P1', comment }, eventId: 'E1', seq: 1 }),
      );
    });
  });
});
