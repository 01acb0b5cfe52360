import {
  ConditionalCheckFailedException,
  InternalServerError,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createDocumentClient } from '../../../lambda/shared/aws-clients';
import { DynamoCommentRepository, InvalidCursorError } from '../../../lambda/shared/comment-repository';
import type { Comment } from '../../../lambda/shared/protocol';

const TABLE = 'comments-test';
const ddb = mockClient(DynamoDBDocumentClient);
const repository = new DynamoCommentRepository(createDocumentClient({}), TABLE);

const comment: Comment = {
  id: '01J0000000000000000000000A',
  postId: 'P1',
  userId: 'bob',
  content: 'Hello',
  createdAt: '2027-01-01T00:00:00.000Z',
};
const commentKey = { pk: 'post#P1', sk: `comment#${comment.id}` };
const conditionFailed = (): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({ message: 'x', $metadata: {} });
const cancelled = (codes: string[]): TransactionCanceledException =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

beforeEach(() => {
  ddb.reset();
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

  describe('createComment', () => {
    it('checks the post and writes the comment in one transaction', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const stored = await repository.createComment(comment);

      // Assess
      expect(stored).toBe(true);
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          {
            ConditionCheck: {
              TableName: TABLE,
              Key: { pk: 'post#P1', sk: 'post' },
              ConditionExpression: 'attribute_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
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
        ],
      });
    });

    it('returns false when the post condition fails', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None']));

      // Act
      const stored = await repository.createComment(comment);

      // Assess
      expect(stored).toBe(false);
    });

    it('rethrows a cancellation for any other reason', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'ConditionalCheckFailed']));

      // Act
      const attempt = repository.createComment(comment);

      // Assess
      await expect(attempt).rejects.toThrow(TransactionCanceledException);
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

    it('rejects a cursor it did not issue, without querying', async () => {
      // Act
      const attempt = repository.listComments('P1', { limit: 1, cursor: 'not a cursor!' });

      // Assess
      await expect(attempt).rejects.toThrow(InvalidCursorError);
      expect(ddb).not.toHaveReceivedCommand(QueryCommand);
    });
  });

  describe('updateComment', () => {
    it('sets content and updatedAt on an existing comment and returns it', async () => {
      // Prepare
      const updated = { ...comment, content: 'Edited', updatedAt: '2027-01-02T00:00:00.000Z' };
      ddb.on(UpdateCommand).resolves({ Attributes: { ...commentKey, ...updated } });

      // Act
      const result = await repository.updateComment('P1', comment.id, 'Edited', updated.updatedAt);

      // Assess
      expect(result).toEqual(updated);
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE,
        Key: commentKey,
        ConditionExpression: 'attribute_exists(#pk)',
        ExpressionAttributeValues: { ':content': 'Edited', ':updatedAt': updated.updatedAt },
        ReturnValues: 'ALL_NEW',
      });
    });

    it('returns undefined when there is no such comment', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(conditionFailed());

      // Act
      const result = await repository.updateComment('P1', comment.id, 'Edited', '2027-01-02T00:00:00.000Z');

      // Assess
      expect(result).toBeUndefined();
    });

    it('rethrows other failures', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(new InternalServerError({ message: 'boom', $metadata: {} }));

      // Act
      const attempt = repository.updateComment('P1', comment.id, 'Edited', '2027-01-02T00:00:00.000Z');

      // Assess
      await expect(attempt).rejects.toThrow('boom');
    });
  });

  describe('deleteComment', () => {
    it('deletes an existing comment and returns true', async () => {
      // Prepare
      ddb.on(DeleteCommand).resolves({});

      // Act
      const deleted = await repository.deleteComment('P1', comment.id);

      // Assess
      expect(deleted).toBe(true);
      expect(ddb).toHaveReceivedCommandWith(DeleteCommand, {
        TableName: TABLE,
        Key: commentKey,
        ConditionExpression: 'attribute_exists(#pk)',
      });
    });

    it('returns false when there is no such comment', async () => {
      // Prepare
      ddb.on(DeleteCommand).rejects(conditionFailed());

      // Act
      const deleted = await repository.deleteComment('P1', comment.id);

      // Assess
      expect(deleted).toBe(false);
    });
  });
});
