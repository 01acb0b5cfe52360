import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { commentKeys, commentsTableSchema } from '../../contracts/table-schema';

/**
 * Which stored events may be claimed:
 * - `next`, the fast path (the comments function's call to the broadcast API): only the event right after
 *   the last one published, and only while no one else holds a claim, so that the fast path never
 *   publishes out of order. Anything else is left to the stream.
 * - `any`, the stream publisher, which reads each post's events in seq order: any event not yet published,
 *   once no live claim is held.
 */
export type ClaimMode = 'next' | 'any';

/** A held claim: this caller fans the event out, and marks it published when done. */
export interface PublishClaim {
  readonly postId: string;
  readonly seq: number;
  readonly token: string;
  /** Epoch milliseconds: past this, the claim may be taken over (its holder is taken for dead). */
  readonly expiresAt: number;
}

export type ClaimResult =
  | { outcome: 'claimed'; claim: PublishClaim }
  /** This event, or a later one, has already been fanned out: nothing to do. */
  | { outcome: 'published' }
  /** Someone holds a claim on this post until `until` (epoch ms): wait, or leave it to them. */
  | { outcome: 'busy'; until: number }
  /** Fast path only: an earlier event is not published yet, so this one waits for the stream. */
  | { outcome: 'notNext' };

/**
 * The per-post publish cursor: which events have been fanned out, and who is fanning one out now. Both
 * publishing paths (the fast path and the stream) claim an event here before fanning it out, so that in
 * the normal case each event is fanned out once, by whichever path gets there first.
 */
export interface PublishClaims {
  claim(postId: string, seq: number, mode: ClaimMode): Promise<ClaimResult>;
  /**
   * Marks the claimed event published and releases the claim. False when the claim had expired and been
   * taken over: the event is then published again by its new holder (clients drop the second copy).
   */
  complete(claim: PublishClaim): Promise<boolean>;
  /** Gives a claim up without publishing (the fan-out failed), so that a retry need not wait it out. */
  release(claim: PublishClaim): Promise<void>;
}

const { partitionKey, sortKey } = commentsTableSchema;
/** The cursor item's attributes. */
const PUBLISHED = 'publishedSeq';
const TOKEN = 'claimToken';
const CLAIMED_SEQ = 'claimSeq';
const EXPIRES = 'claimExpiresAt';
/** The attribute names every cursor update uses. */
const NAMES = { '#published': PUBLISHED, '#token': TOKEN, '#claimedSeq': CLAIMED_SEQ, '#expires': EXPIRES };

export interface DynamoPublishClaimsOptions {
  /**
   * How long a claim holds before another path may take it over: longer than any fan-out hand-off can
   * take (the publishing functions' timeout), so only a dead holder's claim is ever taken over.
   */
  claimTtlMs: number;
  /** @default Date.now */
  now?: () => number;
  /** @default crypto.randomUUID */
  newToken?: () => string;
}

/** The publish cursor as an item of the comments table (`post#<id>` / `publish`), one per post. */
export class DynamoPublishClaims implements PublishClaims {
  private readonly claimTtlMs: number;
  private readonly now: () => number;
  private readonly newToken: () => string;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    { claimTtlMs, now = Date.now, newToken = randomUUID }: DynamoPublishClaimsOptions,
  ) {
    if (!Number.isInteger(claimTtlMs) || claimTtlMs < 1) {
      throw new RangeError(`claimTtlMs must be a positive integer, got ${claimTtlMs}`);
    }
    this.claimTtlMs = claimTtlMs;
    this.now = now;
    this.newToken = newToken;
  }

  private key(postId: string): Record<string, string> {
    return {
      [partitionKey.name]: commentKeys.postPartition(postId),
      [sortKey.name]: commentKeys.publishSortKey,
    };
  }

  async claim(postId: string, seq: number, mode: ClaimMode): Promise<ClaimResult> {
    const now = this.now();
    const claim: PublishClaim = { postId, seq, token: this.newToken(), expiresAt: now + this.claimTtlMs };
    // Comparing two placeholders is not an expression DynamoDB takes, so the first event's case is spelled out.
    const order =
      mode === 'any'
        ? '(attribute_not_exists(#published) OR #published < :seq)'
        : seq === 1
          ? 'attribute_not_exists(#published)'
          : '#published = :previous';
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(postId),
          UpdateExpression: 'SET #token = :token, #claimedSeq = :seq, #expires = :expires',
          ConditionExpression: `${order} AND (attribute_not_exists(#token) OR #expires < :now)`,
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: {
            ':token': claim.token,
            ':seq': seq,
            ':expires': claim.expiresAt,
            ':now': now,
            ...(mode === 'next' && seq > 1 ? { ':previous': seq - 1 } : {}),
          },
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { outcome: 'claimed', claim };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The item comes back in DynamoDB's own JSON (the document client does not translate exceptions);
      // a store that does not return it is asked.
      const cursor = error.Item ? unmarshall(error.Item) : await this.read(postId);
      return judge(cursor, seq, mode, now);
    }
  }

  async release(claim: PublishClaim): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(claim.postId),
          UpdateExpression: 'REMOVE #token, #claimedSeq, #expires',
          ConditionExpression: '#token = :token',
          ExpressionAttributeNames: { '#token': TOKEN, '#claimedSeq': CLAIMED_SEQ, '#expires': EXPIRES },
          ExpressionAttributeValues: { ':token': claim.token },
        }),
      );
    } catch (error) {
      // Already taken over: nothing of ours left to release.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private async read(postId: string): Promise<Record<string, unknown>> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: this.key(postId), ConsistentRead: true }),
    );
    return result.Item ?? {};
  }

  async complete(claim: PublishClaim): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(claim.postId),
          // Never backwards: a takeover may already have published a later event.
          UpdateExpression: 'SET #published = :seq REMOVE #token, #claimedSeq, #expires',
          ConditionExpression: '#token = :token AND (attribute_not_exists(#published) OR #published < :seq)',
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: { ':seq': claim.seq, ':token': claim.token },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

/** Why a claim was refused, from the cursor as it stood. */
function judge(cursor: Record<string, unknown>, seq: number, mode: ClaimMode, now: number): ClaimResult {
  const published = cursor[PUBLISHED];
  if (typeof published === 'number' && published >= seq) return { outcome: 'published' };
  const expires = cursor[EXPIRES];
  if (cursor[TOKEN] !== undefined && typeof expires === 'number' && expires >= now) {
    return { outcome: 'busy', until: expires };
  }
  // For the stream, a cursor that would have let the claim through changed in between: try again now.
  return mode === 'next' ? { outcome: 'notNext' } : { outcome: 'busy', until: now };
}
