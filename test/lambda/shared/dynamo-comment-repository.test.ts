import {
  InternalServerError,
  TransactionCanceledException,
  type CancellationReason,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import type { Comment, Post } from '../../../contracts/protocol';
import { createDocumentClient } from '../../../lambda/shared/aws-clients';
import { InvalidCursorError } from '../../../lambda/shared/comment-cursor';
import {
  SeqContentionError,
  StoreBusyError,
  type CommentEdit,
  type EventStamp,
} from '../../../lambda/shared/comment-repository';
import {
  DEFAULT_SEQ_DEADLINE_MS,
  DynamoCommentRepository,
} from '../../../lambda/shared/dynamo-comment-repository';
import type { IdempotentWrite } from '../../../lambda/shared/idempotency-record';

const TABLE = 'comments-test';
const ddb = mockClient(DynamoDBDocumentClient);
/** The repository's clock (milliseconds) and the waits it asked for: a test moves the clock itself. */
let clock = 0;
const waits: number[] = [];
const options = {
  sleep: async (ms: number) => {
    waits.push(ms);
  },
  now: () => clock,
};
const repository = new DynamoCommentRepository(createDocumentClient({}), TABLE, options);

const comment: Comment = {
  id: '01J0000000000000000000000A',
  postId: 'P1',
  userId: 'bob',
  content: 'Hello',
  createdAt: '2027-01-01T00:00:00.000Z',
};
const post: Post = {
  id: 'P1',
  title: 'T',
  body: 'B',
  userId: 'alice',
  createdAt: '2027-01-01T00:00:00.000Z',
};
const commentKey = { pk: 'post#P1', sk: `comment#${comment.id}` };
const postKey = { pk: 'post#P1', sk: 'post' };
const counterKey = { pk: 'post#P1', sk: 'seq' };
const stamp: EventStamp = {
  eventId: '01J0000000000000000000000E',
  createdAt: '2027-01-01T00:00:00.000Z',
  expiresAt: 1_798_848_000,
};
/** Epoch seconds the idempotency record's condition compares expiry with; Date.now is pinned to it. */
const NOW_SECONDS = 1_798_000_000;
const write: IdempotentWrite = {
  userId: 'bob',
  key: 'key-0001',
  requestHash: 'hash-1',
  result: '{"id":"first"}',
  expiresAt: NOW_SECONDS + 86_400,
};
const recordKey = { pk: 'idem#bob#key-0001', sk: 'write' };
/** The first request's record, as a cancellation brings it back: in DynamoDB's own JSON. */
const storedRecord = {
  pk: { S: 'idem#bob#key-0001' },
  sk: { S: 'write' },
  requestHash: { S: 'hash-0' },
  result: { S: '{"id":"earlier"}' },
  expiresAt: { N: String(NOW_SECONDS + 100) },
};
const previous = { requestHash: 'hash-0', result: '{"id":"earlier"}' };

const cancelled = (reasons: (CancellationReason | string)[]): TransactionCanceledException =>
  new TransactionCanceledException({
    message: 'Transaction cancelled',
    $metadata: {},
    CancellationReasons: reasons.map((reason) => (typeof reason === 'string' ? { Code: reason } : reason)),
  });
/** Another writer took the seq first; the counter comes back as it left it, in DynamoDB's own JSON. */
const lostRace = (lastSeq: number, ...rest: (CancellationReason | string)[]): TransactionCanceledException =>
  cancelled([
    {
      Code: 'ConditionalCheckFailed',
      Item: { pk: { S: 'post#P1' }, sk: { S: 'seq' }, lastSeq: { N: String(lastSeq) } },
    },
    ...(rest.length > 0 ? rest : ['None', 'None']),
  ]);
/** The counter item as a consistent GetItem of lastSeq answers it; undefined: no such post. */
const counterAt = (lastSeq?: number): { Item?: Record<string, unknown> } =>
  lastSeq === undefined ? {} : { Item: { lastSeq } };
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
type SentItems = NonNullable<TransactWriteCommand['input']['TransactItems']>;
const transactItems = (call: number): SentItems =>
  ddb.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems ?? [];
/** The seqs each transaction tried to move the counter from and to. */
const attemptedSeqs = (): unknown[] =>
  ddb.commandCalls(TransactWriteCommand).map((call) => {
    const values = call.args[0].input.TransactItems?.[0]?.Update?.ExpressionAttributeValues;
    return [values?.[':previous'], values?.[':seq']];
  });

beforeEach(() => {
  ddb.reset();
  waits.length = 0;
  clock = 0;
  jest.spyOn(Date, 'now').mockReturnValue(NOW_SECONDS * 1000);
});

afterEach(() => {
  jest.restoreAllMocks();
});

describe('DynamoCommentRepository', () => {
  describe('createPost and getPost', () => {
    it('stores the post and its counter at lastSeq 0 in one transaction, refusing to overwrite either', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.createPost(post);

      // Assess
      expect(outcome).toEqual({ ok: true });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          {
            Put: {
              TableName: TABLE,
              Item: { pk: 'post#P1', sk: 'post', ...post },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
            },
          },
          {
            Put: {
              TableName: TABLE,
              Item: { ...counterKey, lastSeq: 0 },
              ConditionExpression: 'attribute_not_exists(#pk)',
              ExpressionAttributeNames: { '#pk': 'pk' },
            },
          },
        ],
      });
      expect(ddb).not.toHaveReceivedCommand(PutCommand);
    });

    it('stores the idempotency record in the same transaction, as its last item', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.createPost(post, write);

      // Assess
      expect(outcome).toEqual({ ok: true });
      const items = transactItems(0);
      expect(items).toHaveLength(3);
      expect(items[0]?.Put?.Item).toMatchObject(postKey);
      expect(items[1]?.Put?.Item).toMatchObject(counterKey);
      expect(items[2]).toEqual({
        Put: {
          TableName: TABLE,
          Item: { ...recordKey, requestHash: 'hash-1', result: '{"id":"first"}', expiresAt: write.expiresAt },
          ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now',
          ExpressionAttributeNames: { '#pk': 'pk', '#expiresAt': 'expiresAt' },
          ExpressionAttributeValues: { ':now': NOW_SECONDS },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        },
      });
    });

    it('answers keyUsed with the record the cancellation brought back, reading nothing more', async () => {
      // Prepare
      ddb
        .on(TransactWriteCommand)
        .rejects(cancelled(['None', 'None', { Code: 'ConditionalCheckFailed', Item: storedRecord }]));

      // Act
      const outcome = await repository.createPost(post, write);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'keyUsed', previous });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
      expect(ddb).not.toHaveReceivedCommand(GetCommand);
    });

    it('reads the record consistently when the cancellation did not bring it back', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'None', 'ConditionalCheckFailed']));
      ddb.on(GetCommand).resolves({ Item: { ...recordKey, ...previous, expiresAt: NOW_SECONDS + 100 } });

      // Act
      const outcome = await repository.createPost(post, write);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'keyUsed', previous });
      expect(ddb).toHaveReceivedCommandWith(GetCommand, {
        TableName: TABLE,
        Key: recordKey,
        ConsistentRead: true,
      });
    });

    it('throws StoreBusyError when the used key’s record is gone by the time it is read', async () => {
      // Prepare: taken when the transaction ran, expired and reaped before the read
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'None', 'ConditionalCheckFailed']));
      ddb.on(GetCommand).resolves({});

      // Act
      const creating = repository.createPost(post, write);

      // Assess
      await expect(creating).rejects.toThrow(StoreBusyError);
    });

    it('throws StoreBusyError when the transaction is cancelled for capacity', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(cancelled(['ThrottlingError', 'None', 'None']));

      // Act
      const creating = repository.createPost(post, write);

      // Assess
      await expect(creating).rejects.toThrow(StoreBusyError);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    // Without a key the capacity cancellation is let through as a TransactionCanceledException, which the
    // HTTP layer answers 500: the same throttle answers 503 or 500 depending on a header.
    it('throws StoreBusyError for a capacity cancellation without an idempotency key too', async () => {
      // Prepare
      ddb.on(TransactWriteCommand).rejects(cancelled(['ThrottlingError', 'None']));

      // Act
      const creating = repository.createPost(post);

      // Assess
      await expect(creating).rejects.toThrow(StoreBusyError);
    });

    it.each([
      ['with', write],
      ['without', undefined],
    ])(
      'lets a post id collision through %s a key: a fresh ULID taken is not a user error',
      async (_with, key) => {
        // Prepare
        const collision = cancelled(['ConditionalCheckFailed', 'ConditionalCheckFailed', 'None']);
        ddb.on(TransactWriteCommand).rejects(collision);

        // Act
        const creating = repository.createPost(post, key);

        // Assess
        await expect(creating).rejects.toBe(collision);
      },
    );

    it('returns the post without its key attributes, or undefined when absent', async () => {
      // Prepare
      ddb.on(GetCommand).resolves({});
      ddb.on(GetCommand, { Key: postKey }).resolves({ Item: { ...postKey, ...post } });

      // Act
      const found = await repository.getPost('P1');
      const missing = await repository.getPost('P2');

      // Assess
      expect(found).toEqual(post);
      expect(missing).toBeUndefined();
      expect(ddb).toHaveReceivedCommandWith(GetCommand, {
        TableName: TABLE,
        Key: postKey,
        ConsistentRead: true,
      });
    });
  });

  describe('getLastSeq', () => {
    it('reads lastSeq from the post’s counter item consistently, undefined without the post', async () => {
      // Prepare
      ddb.on(GetCommand).resolves({});
      ddb.on(GetCommand, { Key: counterKey }).resolvesOnce(counterAt(7)).resolvesOnce(counterAt(0));

      // Act
      const seven = await repository.getLastSeq('P1');
      const none = await repository.getLastSeq('P1');
      const missing = await repository.getLastSeq('P2');

      // Assess
      expect([seven, none, missing]).toEqual([7, 0, undefined]);
      expect(ddb).toHaveReceivedCommandWith(GetCommand, {
        TableName: TABLE,
        Key: counterKey,
        ConsistentRead: true,
        ProjectionExpression: '#lastSeq',
        ExpressionAttributeNames: { '#lastSeq': 'lastSeq' },
      });
      expect(ddb).not.toHaveReceivedCommandWith(GetCommand, { Key: postKey });
    });
  });

  describe('getLastSeqs', () => {
    it('reads every counter in one consistent BatchGet, once per post, leaving out posts that do not exist', async () => {
      // Prepare
      ddb.on(BatchGetCommand).resolves({
        Responses: {
          [TABLE]: [
            { pk: 'post#P2', lastSeq: 0 },
            { pk: 'post#P1', lastSeq: 4 },
          ],
        },
      });

      // Act
      const seqs = await repository.getLastSeqs(['P1', 'P2', 'P1', 'P3']);

      // Assess
      expect(seqs).toEqual(
        new Map([
          ['P2', 0],
          ['P1', 4],
        ]),
      );
      expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 1);
      expect(ddb).toHaveReceivedCommandWith(BatchGetCommand, {
        RequestItems: {
          [TABLE]: {
            Keys: [counterKey, { pk: 'post#P2', sk: 'seq' }, { pk: 'post#P3', sk: 'seq' }],
            ConsistentRead: true,
            ProjectionExpression: '#pk, #lastSeq',
            ExpressionAttributeNames: { '#pk': 'pk', '#lastSeq': 'lastSeq' },
          },
        },
      });
    });

    it('reads nothing for no posts', async () => {
      // Act
      const seqs = await repository.getLastSeqs([]);

      // Assess
      expect(seqs.size).toBe(0);
      expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
    });

    it("reads distinct posts in batches of at most 100 keys, BatchGetItem's own limit", async () => {
      // Prepare
      ddb.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
      const hundred = Array.from({ length: 100 }, (_, i) => `P${i}`);

      // Act
      await repository.getLastSeqs([...hundred, ...hundred]);
      await repository.getLastSeqs([...hundred, 'P100']);

      // Assess: 100 distinct posts are one request; 101 are two, of 100 and 1 keys.
      const sizes = ddb
        .commandCalls(BatchGetCommand)
        .map(({ args: [command] }) => command.input.RequestItems?.[TABLE]?.Keys?.length);
      expect(sizes).toEqual([100, 100, 1]);
    });

    it('asks again for the UnprocessedKeys only, after a backoff wait, and merges the answers', async () => {
      // Prepare
      const p2 = { pk: 'post#P2', sk: 'seq' };
      ddb
        .on(BatchGetCommand)
        .resolvesOnce({
          Responses: { [TABLE]: [{ pk: 'post#P1', lastSeq: 4 }] },
          UnprocessedKeys: { [TABLE]: { Keys: [p2] } },
        })
        .resolvesOnce({ Responses: { [TABLE]: [{ pk: 'post#P2', lastSeq: 9 }] }, UnprocessedKeys: {} });

      // Act
      const seqs = await repository.getLastSeqs(['P1', 'P2']);

      // Assess
      expect(seqs).toEqual(
        new Map([
          ['P1', 4],
          ['P2', 9],
        ]),
      );
      expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 2);
      expect(ddb).toHaveReceivedNthSpecificCommandWith(2, BatchGetCommand, {
        RequestItems: { [TABLE]: expect.objectContaining({ Keys: [p2], ConsistentRead: true }) },
      });
      expect(waits).toHaveLength(1);
    });

    it('throws StoreBusyError when keys are still unprocessed after five requests', async () => {
      // Prepare
      ddb.on(BatchGetCommand).resolves({ UnprocessedKeys: { [TABLE]: { Keys: [counterKey] } } });

      // Act
      const reading = repository.getLastSeqs(['P1']);

      // Assess
      await expect(reading).rejects.toThrow(StoreBusyError);
      expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 5);
      expect(waits).toHaveLength(4);
    });
  });

  describe('createComment', () => {
    it('moves the counter to the next seq, writes the comment and stores its event in one transaction', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(4));
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
              Key: counterKey,
              UpdateExpression: 'SET #lastSeq = :seq',
              ConditionExpression: '#lastSeq = :previous',
              ExpressionAttributeNames: { '#lastSeq': 'lastSeq' },
              ExpressionAttributeValues: { ':seq': 5, ':previous': 4 },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
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
      expect(ddb).toHaveReceivedCommandWith(GetCommand, { Key: counterKey, ConsistentRead: true });
    });

    it('takes seq 1 on a new post, on condition that its counter is still at 0', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(0));
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 1 } });
      expect(attemptedSeqs()).toEqual([[0, 1]]);
    });

    it('refuses, writing nothing, when the post has no counter (it does not exist)', async () => {
      // Prepare
      ddb.on(GetCommand).resolves({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'postNotFound' });
      expect(ddb).not.toHaveReceivedCommand(TransactWriteCommand);
    });

    it('learns the new lastSeq from the counter the cancellation brought back, without reading it again', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(4));
      ddb.on(TransactWriteCommand).rejectsOnce(lostRace(6)).resolvesOnce({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 7, eventId: stamp.eventId } });
      expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
      expect(attemptedSeqs()).toEqual([
        [4, 5],
        [6, 7],
      ]);
      expect(transactItems(1)[2]?.Put?.Item).toMatchObject({ sk: 'event#000000000007', seq: 7 });
      expect(waits).toHaveLength(1);
    });

    it('re-reads lastSeq when the cancellation did not bring the counter back', async () => {
      // Prepare
      ddb.on(GetCommand).resolvesOnce(counterAt(4)).resolvesOnce(counterAt(6));
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

    it('retries a transaction conflict with a concurrent writer, reading the counter again', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(1));
      ddb
        .on(TransactWriteCommand)
        .rejectsOnce(cancelled(['TransactionConflict', 'None', 'None']))
        .resolvesOnce({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 2 } });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
      expect(ddb).toHaveReceivedCommandTimes(GetCommand, 2);
    });

    it('answers postNotFound when the post is gone by the retry', async () => {
      // Prepare: the counter's condition failed and no counter came back: it is gone
      ddb.on(GetCommand).resolvesOnce(counterAt(4)).resolvesOnce({});
      ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'None']));

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'postNotFound' });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('keeps taking the next seq past any fixed number of attempts while within the deadline', async () => {
      // Prepare: a burst of 40 writers ahead of this one, each taking a seq before it
      ddb.on(GetCommand).resolves(counterAt(0));
      const races = ddb.on(TransactWriteCommand);
      for (let seq = 1; seq <= 40; seq += 1) races.rejectsOnce(lostRace(seq));
      races.resolvesOnce({});

      // Act
      const outcome = await repository.createComment(comment, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 41 } });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 41);
      expect(attemptedSeqs()).toEqual(Array.from({ length: 41 }, (_, i) => [i, i + 1]));
      expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    });

    it('gives up with SeqContentionError at the deadline, backing off below 10, 20, 40, … 200 ms between', async () => {
      // Prepare: every attempt takes 100 ms and loses; Math.random just below 1 makes each wait its ceiling
      jest.spyOn(Math, 'random').mockReturnValue(0.999);
      ddb.on(GetCommand).resolves(counterAt(4));
      let lastSeq = 4;
      ddb.on(TransactWriteCommand).callsFake(() => {
        clock += 100;
        lastSeq += 1;
        return Promise.reject(lostRace(lastSeq));
      });

      // Act
      const attempt = repository.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toThrow(
        new SeqContentionError('P1', 50, DEFAULT_SEQ_DEADLINE_MS).message,
      );
      await expect(attempt).rejects.toBeInstanceOf(SeqContentionError);
      expect(DEFAULT_SEQ_DEADLINE_MS).toBe(5000);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 50);
      expect(waits).toEqual([9, 19, 39, 79, 159, ...new Array<number>(44).fill(199)]);
    });

    it('counts the time spent waiting toward the deadline', async () => {
      // Prepare: transactions take no time; only the waits move the clock
      jest.spyOn(Math, 'random').mockReturnValue(0.999);
      const waiting = new DynamoCommentRepository(createDocumentClient({}), TABLE, {
        sleep: async (ms) => {
          waits.push(ms);
          clock += ms;
        },
        now: () => clock,
      });
      ddb.on(GetCommand).resolves(counterAt(4));
      ddb.on(TransactWriteCommand).rejects(cancelled(['ConditionalCheckFailed', 'None', 'None']));

      // Act
      const attempt = waiting.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(SeqContentionError);
      const waited = waits.reduce((sum, ms) => sum + ms, 0);
      expect(waited).toBeGreaterThanOrEqual(DEFAULT_SEQ_DEADLINE_MS);
      expect(waited - (waits.at(-1) ?? 0)).toBeLessThan(DEFAULT_SEQ_DEADLINE_MS);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, waits.length + 1);
    });

    it('takes its deadline from seqDeadlineMs', async () => {
      // Prepare
      const impatient = new DynamoCommentRepository(createDocumentClient({}), TABLE, {
        ...options,
        seqDeadlineMs: 250,
      });
      ddb.on(GetCommand).resolves(counterAt(4));
      ddb.on(TransactWriteCommand).callsFake(() => {
        clock += 100;
        return Promise.reject(cancelled(['TransactionConflict', 'None', 'None']));
      });

      // Act
      const attempt = impatient.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toThrow('in 3 attempts over 300 ms');
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
    });

    it('throws StoreBusyError without retrying when the transaction is cancelled for capacity', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(4));
      ddb.on(TransactWriteCommand).rejects(cancelled(['ProvisionedThroughputExceeded', 'None', 'None']));

      // Act
      const attempt = repository.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toThrow(StoreBusyError);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('rethrows a failed condition on the new comment (an id collision is not a user error)', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(4));
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'ConditionalCheckFailed', 'None']));

      // Act
      const attempt = repository.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toThrow(TransactionCanceledException);
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('rethrows other failures without retrying', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(4));
      ddb.on(TransactWriteCommand).rejects(new InternalServerError({ message: 'boom', $metadata: {} }));

      // Act
      const attempt = repository.createComment(comment, stamp);

      // Assess
      await expect(attempt).rejects.toThrow('boom');
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    describe('with an idempotency key', () => {
      it('stores the record in the change’s own transaction, after the event', async () => {
        // Prepare
        ddb.on(GetCommand).resolves(counterAt(4));
        ddb.on(TransactWriteCommand).resolves({});

        // Act
        const outcome = await repository.createComment(comment, stamp, write);

        // Assess
        expect(outcome).toMatchObject({ ok: true, event: { seq: 5 } });
        const items = transactItems(0);
        expect(items).toHaveLength(4);
        expect(items[2]?.Put?.Item).toMatchObject({ sk: 'event#000000000005' });
        expect(items[3]?.Put).toMatchObject({
          Item: { ...recordKey, requestHash: 'hash-1', result: '{"id":"first"}', expiresAt: write.expiresAt },
          ConditionExpression: 'attribute_not_exists(#pk) OR #expiresAt < :now',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        });
      });

      it('sends the record again with every retry of a lost race', async () => {
        // Prepare
        ddb.on(GetCommand).resolves(counterAt(4));
        ddb
          .on(TransactWriteCommand)
          .rejectsOnce(lostRace(5, 'None', 'None', 'None'))
          .resolvesOnce({});

        // Act
        const outcome = await repository.createComment(comment, stamp, write);

        // Assess
        expect(outcome).toMatchObject({ ok: true, event: { seq: 6 } });
        expect(transactItems(1)[3]?.Put?.Item).toMatchObject(recordKey);
      });

      it('answers keyUsed with the returned record and does not retry, even when the seq was lost too', async () => {
        // Prepare
        ddb.on(GetCommand).resolves(counterAt(4));
        ddb
          .on(TransactWriteCommand)
          .rejects(lostRace(5, 'None', 'None', { Code: 'ConditionalCheckFailed', Item: storedRecord }));

        // Act
        const outcome = await repository.createComment(comment, stamp, write);

        // Assess
        expect(outcome).toEqual({ ok: false, reason: 'keyUsed', previous });
        expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
        expect(ddb).not.toHaveReceivedCommandWith(GetCommand, { Key: recordKey });
      });

      it('reads the record when the cancellation did not bring it back', async () => {
        // Prepare
        ddb.on(GetCommand, { Key: counterKey }).resolves(counterAt(4));
        ddb.on(GetCommand, { Key: recordKey }).resolves({ Item: { ...recordKey, ...previous } });
        ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'None', 'None', 'ConditionalCheckFailed']));

        // Act
        const outcome = await repository.createComment(comment, stamp, write);

        // Assess
        expect(outcome).toEqual({ ok: false, reason: 'keyUsed', previous });
        expect(ddb).toHaveReceivedCommandWith(GetCommand, {
          TableName: TABLE,
          Key: recordKey,
          ConsistentRead: true,
        });
      });

      it('throws StoreBusyError when the record is gone by the time it is read', async () => {
        // Prepare
        ddb.on(GetCommand, { Key: counterKey }).resolves(counterAt(4));
        ddb.on(GetCommand, { Key: recordKey }).resolves({});
        ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'None', 'None', 'ConditionalCheckFailed']));

        // Act
        const attempt = repository.createComment(comment, stamp, write);

        // Assess
        await expect(attempt).rejects.toThrow(StoreBusyError);
      });
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
    const edit: CommentEdit = {
      postId: 'P1',
      commentId: comment.id,
      userId: 'bob',
      content: 'Edited',
      updatedAt: '2027-01-02T00:00:00.000Z',
      createdAt: comment.createdAt,
    };
    const edited: Comment = { ...comment, content: 'Edited', updatedAt: edit.updatedAt };

    it('sets content and updatedAt on the author’s comment and records comment.updated with the comment', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(2));
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.updateComment(edit, stamp);

      // Assess
      expect(outcome).toEqual({
        ok: true,
        event: {
          type: 'comment.updated',
          data: { postId: 'P1', commentId: comment.id, action: 'updated', comment: edited },
          eventId: stamp.eventId,
          seq: 3,
        },
      });
      expect(ddb).toHaveReceivedCommandWith(TransactWriteCommand, {
        TransactItems: [
          expect.objectContaining({ Update: expect.objectContaining({ Key: counterKey }) }),
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
                data: { postId: 'P1', commentId: comment.id, action: 'updated', comment: edited },
              }),
            }),
          }),
        ],
      });
    });

    it('hands back the event in the key order a replay of it is sent in', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(2));
      ddb.on(TransactWriteCommand).resolves({});

      // Act
      const outcome = await repository.updateComment(edit, stamp);

      // Assess
      expect(outcome.ok && JSON.stringify(outcome.event)).toBe(
        '{"type":"comment.updated","data":{"postId":"P1","commentId":"01J0000000000000000000000A","action":"updated",' +
          '"comment":{"id":"01J0000000000000000000000A","postId":"P1","userId":"bob","content":"Edited",' +
          '"createdAt":"2027-01-01T00:00:00.000Z","updatedAt":"2027-01-02T00:00:00.000Z"}},' +
          '"eventId":"01J0000000000000000000000E","seq":3}',
      );
    });

    it('answers commentNotFound when the comment condition fails and no old item comes back', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(2));
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', 'ConditionalCheckFailed', 'None']));

      // Act
      const outcome = await repository.updateComment(edit, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason: 'commentNotFound' });
      expect(ddb).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    });

    it('answers notAuthor when the comment exists (its old item comes back) but is someone else’s', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(2));
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
      ddb.on(GetCommand).resolves(counterAt(2));
      ddb.on(TransactWriteCommand).rejects(lostRace(3, 'ConditionalCheckFailed', 'None'));

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

    it('deletes the author’s comment and records comment.updated with action deleted and no comment', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(9));
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
          expect.objectContaining({ Update: expect.objectContaining({ Key: counterKey }) }),
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
            Put: expect.objectContaining({
              Item: expect.objectContaining({
                sk: 'event#000000000010',
                data: { postId: 'P1', commentId: comment.id, action: 'deleted' },
              }),
            }),
          }),
        ],
      });
    });

    it.each([
      ['commentNotFound', { Code: 'ConditionalCheckFailed' }],
      ['notAuthor', { Code: 'ConditionalCheckFailed', Item: { userId: { S: 'alice' } } }],
    ])('answers %s for the matching cancellation of the comment item', async (reason, commentReason) => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(9));
      ddb.on(TransactWriteCommand).rejects(cancelled(['None', commentReason, 'None']));

      // Act
      const outcome = await repository.deleteComment(removal, stamp);

      // Assess
      expect(outcome).toEqual({ ok: false, reason });
    });

    it('retries a lost seq race and then succeeds', async () => {
      // Prepare
      ddb.on(GetCommand).resolves(counterAt(9));
      ddb.on(TransactWriteCommand).rejectsOnce(lostRace(10)).resolvesOnce({});

      // Act
      const outcome = await repository.deleteComment(removal, stamp);

      // Assess
      expect(outcome).toMatchObject({ ok: true, event: { seq: 11 } });
    });
  });

  describe('getEvent', () => {
    it('reads the event of one seq consistently, undefined when there is none', async () => {
      // Prepare
      ddb.on(GetCommand).resolves({});
      ddb
        .on(GetCommand, { Key: { pk: 'post#P1', sk: 'event#000000000007' } })
        .resolves({ Item: eventItem(7) });

      // Act
      const found = await repository.getEvent('P1', 7);
      const missing = await repository.getEvent('P1', 8);

      // Assess
      expect(found).toEqual({
        type: 'comment.updated',
        data: { postId: 'P1', commentId: 'C7', action: 'updated' },
        eventId: 'E7',
        seq: 7,
      });
      expect(missing).toBeUndefined();
      expect(ddb).toHaveReceivedCommandWith(GetCommand, {
        TableName: TABLE,
        Key: { pk: 'post#P1', sk: 'event#000000000007' },
        ConsistentRead: true,
      });
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
