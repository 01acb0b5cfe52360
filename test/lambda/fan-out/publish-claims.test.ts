import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoPublishClaims, type PublishClaim } from '../../../lambda/fan-out/publish-claims';

const TABLE = 'comments-test';
const NOW = 1_800_000_000_000;
const TTL_MS = 30_000;
const KEY = { pk: 'post#p1', sk: 'publish' };

const ddb = mockClient(DynamoDBDocumentClient);
const client = DynamoDBDocumentClient.from(new DynamoDBClient({}));

beforeEach(() => {
  ddb.reset();
});

function claims(): DynamoPublishClaims {
  return new DynamoPublishClaims(client, TABLE, {
    claimTtlMs: TTL_MS,
    now: () => NOW,
    newToken: () => 'tok-1',
  });
}

/** A refused condition, with the cursor as DynamoDB returns it (its own JSON), or without it. */
const refused = (cursor?: Record<string, unknown>): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    ...(cursor === undefined ? {} : { Item: marshall({ ...KEY, ...cursor }) }),
  });

const claimOf = (seq: number, token = 'tok-1'): PublishClaim => ({
  postId: 'p1',
  seq,
  token,
  expiresAt: NOW + TTL_MS,
});

describe('DynamoPublishClaims', () => {
  describe('claim', () => {
    it('takes the next event when the previous one is published and no claim is live', async () => {
      // Prepare
      ddb.on(UpdateCommand).resolves({});

      // Act
      const result = await claims().claim('p1', 5, 'next');

      // Assess
      expect(result).toEqual({ outcome: 'claimed', claim: claimOf(5) });
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE,
        Key: KEY,
        ConditionExpression: '#published = :previous AND (attribute_not_exists(#token) OR #expires < :now)',
        ExpressionAttributeValues: {
          ':token': 'tok-1',
          ':seq': 5,
          ':expires': NOW + TTL_MS,
          ':now': NOW,
          ':previous': 4,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
    });

    it("takes a post's first event on the fast path only while nothing is published", async () => {
      // Prepare
      ddb.on(UpdateCommand).resolves({});

      // Act
      await claims().claim('p1', 1, 'next');

      // Assess
      const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
      expect(input?.ConditionExpression).toBe(
        'attribute_not_exists(#published) AND (attribute_not_exists(#token) OR #expires < :now)',
      );
      expect(input?.ExpressionAttributeValues).not.toHaveProperty(':previous');
    });

    it('lets the stream take any event later than the last one published', async () => {
      // Prepare
      ddb.on(UpdateCommand).resolves({});

      // Act
      const result = await claims().claim('p1', 9, 'any');

      // Assess
      expect(result).toEqual({ outcome: 'claimed', claim: claimOf(9) });
      const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
      expect(input?.ConditionExpression).toBe(
        '(attribute_not_exists(#published) OR #published < :seq) AND (attribute_not_exists(#token) OR #expires < :now)',
      );
      expect(input?.ExpressionAttributeValues).not.toHaveProperty(':previous');
    });

    it.each(['next', 'any'] as const)(
      'answers published (%s) when this event or a later one is already published',
      async (mode) => {
        // Prepare
        ddb.on(UpdateCommand).rejects(refused({ publishedSeq: 6 }));

        // Act
        const result = await claims().claim('p1', 5, mode);

        // Assess
        expect(result).toEqual({ outcome: 'published' });
      },
    );

    it.each(['next', 'any'] as const)(
      'answers busy (%s) until the live claim expires when another path holds one',
      async (mode) => {
        // Prepare
        ddb
          .on(UpdateCommand)
          .rejects(
            refused({ publishedSeq: 4, claimToken: 'other', claimSeq: 5, claimExpiresAt: NOW + 1234 }),
          );

        // Act
        const result = await claims().claim('p1', 5, mode);

        // Assess
        expect(result).toEqual({ outcome: 'busy', until: NOW + 1234 });
      },
    );

    it('answers notNext on the fast path when an earlier event is not published yet', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(refused({ publishedSeq: 2 }));

      // Act
      const result = await claims().claim('p1', 5, 'next');

      // Assess
      expect(result).toEqual({ outcome: 'notNext' });
    });

    it('answers notNext on the fast path for a later event of a post with no cursor yet', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(refused({}));

      // Act
      const result = await claims().claim('p1', 3, 'next');

      // Assess
      expect(result).toEqual({ outcome: 'notNext' });
    });

    it('tells the stream to look again at once when the cursor it was refused on has since let go', async () => {
      // Prepare: the claim expired between the refusal and the judging of it.
      ddb
        .on(UpdateCommand)
        .rejects(refused({ publishedSeq: 4, claimToken: 'other', claimExpiresAt: NOW - 1 }));

      // Act
      const result = await claims().claim('p1', 5, 'any');

      // Assess
      expect(result).toEqual({ outcome: 'busy', until: NOW });
    });

    it('reads the cursor consistently when the refusal does not bring it back', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(refused());
      ddb.on(GetCommand).resolves({ Item: { ...KEY, publishedSeq: 5 } });

      // Act
      const result = await claims().claim('p1', 5, 'any');

      // Assess
      expect(result).toEqual({ outcome: 'published' });
      expect(ddb).toHaveReceivedCommandWith(GetCommand, { TableName: TABLE, Key: KEY, ConsistentRead: true });
    });

    it('does not read the cursor again when the refusal brought it back', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(refused({ publishedSeq: 5 }));

      // Act
      await claims().claim('p1', 5, 'any');

      // Assess
      expect(ddb).not.toHaveReceivedCommand(GetCommand);
    });

    it('passes on any other failure of the store', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));

      // Act / Assess
      await expect(claims().claim('p1', 5, 'any')).rejects.toThrow('slow down');
    });
  });

  describe('complete', () => {
    it('moves publishedSeq to the claimed seq and lets go of the claim, only while the claim is ours', async () => {
      // Prepare
      ddb.on(UpdateCommand).resolves({});

      // Act
      const completed = await claims().complete(claimOf(5));

      // Assess
      expect(completed).toBe(true);
      expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
        TableName: TABLE,
        Key: KEY,
        UpdateExpression: 'SET #published = :seq REMOVE #token, #claimedSeq, #expires',
        ConditionExpression: '#token = :token AND (attribute_not_exists(#published) OR #published < :seq)',
        ExpressionAttributeValues: { ':seq': 5, ':token': 'tok-1' },
      });
    });

    it('answers false when the claim was taken over in the meantime', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(refused());

      // Act
      const completed = await claims().complete(claimOf(5));

      // Assess
      expect(completed).toBe(false);
    });

    it('passes on any other failure of the store', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(new Error('table unavailable'));

      // Act / Assess
      await expect(claims().complete(claimOf(5))).rejects.toThrow('table unavailable');
    });
  });

  describe('release', () => {
    it('removes the claim without moving publishedSeq, only while the claim is ours', async () => {
      // Prepare
      ddb.on(UpdateCommand).resolves({});

      // Act
      await claims().release(claimOf(5));

      // Assess
      const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
      expect(input).toMatchObject({
        TableName: TABLE,
        Key: KEY,
        UpdateExpression: 'REMOVE #token, #claimedSeq, #expires',
        ConditionExpression: '#token = :token',
        ExpressionAttributeValues: { ':token': 'tok-1' },
      });
      // DynamoDB refuses an expression attribute name the expressions do not use.
      expect(Object.keys(input?.ExpressionAttributeNames ?? {}).sort()).toEqual([
        '#claimedSeq',
        '#expires',
        '#token',
      ]);
    });

    it('does nothing, quietly, when the claim was already taken over', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(refused());

      // Act / Assess
      await expect(claims().release(claimOf(5))).resolves.toBeUndefined();
    });

    it('passes on any other failure of the store', async () => {
      // Prepare
      ddb.on(UpdateCommand).rejects(new Error('table unavailable'));

      // Act / Assess
      await expect(claims().release(claimOf(5))).rejects.toThrow('table unavailable');
    });
  });

  it('names only attributes its expressions use, as DynamoDB requires', async () => {
    // Prepare
    ddb.on(UpdateCommand).resolves({});
    const store = claims();

    // Act
    await store.claim('p1', 1, 'next');
    await store.claim('p1', 2, 'next');
    await store.claim('p1', 2, 'any');
    await store.complete(claimOf(2));

    // Assess
    for (const call of ddb.commandCalls(UpdateCommand)) {
      const { UpdateExpression, ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues } =
        call.args[0].input;
      const expressions = `${UpdateExpression} ${ConditionExpression}`;
      for (const name of Object.keys(ExpressionAttributeNames ?? {})) expect(expressions).toContain(name);
      for (const value of Object.keys(ExpressionAttributeValues ?? {})) expect(expressions).toContain(value);
    }
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a claim TTL of %p', (claimTtlMs) => {
    // Act / Assess
    expect(() => new DynamoPublishClaims(client, TABLE, { claimTtlMs })).toThrow(RangeError);
  });
});
