import { randomUUID } from 'node:crypto';
import { commentKeys } from '../../contracts/table-schema';
import type { SequencedChangeEvent } from '../../contracts/protocol';
import type { StoredEvents } from '../../lambda/fan-out/event-publisher';
import type {
  ClaimMode,
  ClaimResult,
  PublishClaim,
  PublishClaims,
} from '../../lambda/fan-out/publish-claims';
import type { VirtualClock } from '../clock';
import type { DynamoDbModel } from './dynamodb';
import type { CallerEnvironment, ClientCpuCosts } from './environment';

interface Cursor {
  published?: number;
  token?: string;
  expiresAt?: number;
}

/**
 * The comments table's side of publishing, behind the ports EventPublisher uses: the per-post publish
 * cursor (PublishClaims: one conditional UpdateItem per claim, completion or release, each a write unit on
 * the post's partition) and the stored events (StoredEvents: one strongly consistent GetItem). The
 * conditions are those of DynamoPublishClaims (lambda/fan-out/publish-claims.ts), evaluated on an
 * in-memory item once the request's round trip is over.
 */
export class PublishCursorModel {
  private readonly cursors = new Map<string, Cursor>();
  private readonly events = new Map<string, SequencedChangeEvent>();

  constructor(
    private readonly clock: VirtualClock,
    private readonly dynamodb: DynamoDbModel,
  ) {}

  store(event: SequencedChangeEvent): void {
    this.events.set(`${event.data.postId}#${event.seq}`, event);
  }

  publishedSeq(postId: string): number | undefined {
    return this.cursors.get(postId)?.published;
  }

  storedEvents(environment: CallerEnvironment, costs: ClientCpuCosts): StoredEvents {
    return {
      getEvent: async (postId, seq) => {
        await this.dynamodb.request(environment, costs, commentKeys.postPartition(postId), {
          readUnits: 1,
          items: 1,
        });
        return this.events.get(`${postId}#${seq}`);
      },
    };
  }

  /** The cursor as one function's DynamoPublishClaims sees it (`claimTtlMs`: its timeout plus a second). */
  claims(environment: CallerEnvironment, costs: ClientCpuCosts, claimTtlMs: number): PublishClaims {
    const write = (postId: string): Promise<void> =>
      this.dynamodb.request(environment, costs, commentKeys.postPartition(postId), { writeUnits: 1 });
    return {
      claim: async (postId: string, seq: number, mode: ClaimMode): Promise<ClaimResult> => {
        const now = this.clock.now();
        await write(postId);
        const cursor = this.cursor(postId);
        const inOrder =
          mode === 'any'
            ? cursor.published === undefined || cursor.published < seq
            : seq === 1
              ? cursor.published === undefined
              : cursor.published === seq - 1;
        const free = cursor.token === undefined || (cursor.expiresAt ?? 0) < now;
        if (inOrder && free) {
          const claim: PublishClaim = { postId, seq, token: randomUUID(), expiresAt: now + claimTtlMs };
          cursor.token = claim.token;
          cursor.expiresAt = claim.expiresAt;
          return { outcome: 'claimed', claim };
        }
        if (cursor.published !== undefined && cursor.published >= seq) return { outcome: 'published' };
        if (cursor.token !== undefined && (cursor.expiresAt ?? 0) >= now) {
          return { outcome: 'busy', until: cursor.expiresAt ?? now };
        }
        return mode === 'next' ? { outcome: 'notNext' } : { outcome: 'busy', until: now };
      },
      complete: async (claim: PublishClaim): Promise<boolean> => {
        await write(claim.postId);
        const cursor = this.cursor(claim.postId);
        if (cursor.token !== claim.token) return false;
        if (cursor.published !== undefined && cursor.published >= claim.seq) return false;
        cursor.published = claim.seq;
        delete cursor.token;
        delete cursor.expiresAt;
        return true;
      },
      release: async (claim: PublishClaim): Promise<void> => {
        await write(claim.postId);
        const cursor = this.cursor(claim.postId);
        if (cursor.token === claim.token) {
          delete cursor.token;
          delete cursor.expiresAt;
        }
      },
    };
  }

  private cursor(postId: string): Cursor {
    let cursor = this.cursors.get(postId);
    if (!cursor) {
      cursor = {};
      this.cursors.set(postId, cursor);
    }
    return cursor;
  }
}
