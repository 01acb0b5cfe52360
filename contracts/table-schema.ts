/**
 * Table keys, indexes and TTL attributes, defined once. The CDK data stack builds its tables from these
 * definitions and the local stack creates its DynamoDB Local tables from the same objects, so the two
 * cannot drift. This module must stay free of CDK and SDK imports: Lambda bundles include it.
 */

export type AttributeType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

export interface GlobalIndexSchema {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  /** KEYS_ONLY keeps index reads to the few bytes a fan-out needs. */
  readonly projection: 'KEYS_ONLY' | 'ALL';
}

export interface TableSchema {
  /** Logical name, used for construct ids and local table names. */
  readonly id: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly timeToLiveAttribute?: string;
  readonly globalSecondaryIndexes: readonly GlobalIndexSchema[];
  /**
   * A DynamoDB Stream of the table's changes and what each record carries. The comments table's stream is
   * the outbox every stored event is published from.
   * @default no stream
   */
  readonly stream?: 'NEW_IMAGE';
}

/**
 * Connections, their subscriptions and the index rows fan-out reads, in one table with generic keys:
 *   pk = "conn#<id>",          sk = "connection"    the connection (userId, connectedAt, subscriptionCount)
 *   pk = "conn#<id>",          sk = "sub#<postId>"  one per post it subscribes to: $disconnect and the
 *                                                   heartbeat read a connection's posts with one Query
 *   pk = "subscribers#<postId>", sk = "<id>"        one per subscriber of the post: a fan-out is one
 *                                                   strongly consistent Query on the base table, so a
 *                                                   client subscribed just before a change receives it
 *                                                   (an index would lag the table)
 *   pk = "connections#<shard>",  sk = "<id>"        every live connection, spread over a few partitions
 *                                                   by a hash of its id, so counting connections or
 *                                                   broadcasting to all of them reads no single hot key
 * Every row carries `expiresAt`, so TTL reaps what a lost $disconnect left behind.
 */
export const connectionsTableSchema = {
  id: 'Connections',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  globalSecondaryIndexes: [],
} as const satisfies TableSchema;

/**
 * Partitions the live-connection index is spread over. Each holds at most a few thousand rows per 10,000
 * connections, well inside one partition's 3,000 reads per second for a count or a broadcast to all.
 */
export const CONNECTION_INDEX_SHARDS = 16;

const SUBSCRIPTION_PREFIX = 'sub#';

/** A small, stable hash (FNV-1a) of a connection id to its shard of the live-connection index. */
export function connectionShard(connectionId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < connectionId.length; i += 1) {
    hash ^= connectionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % CONNECTION_INDEX_SHARDS;
}

export const connectionKeys = {
  connectionPartition: (connectionId: string): string => `conn#${connectionId}`,
  connectionSortKey: 'connection',
  /** Every subscription row's sort key starts with this: a connection's subscriptions are one Query. */
  subscriptionPrefix: SUBSCRIPTION_PREFIX,
  subscriptionSortKey: (postId: string): string => `${SUBSCRIPTION_PREFIX}${postId}`,
  /** The post a subscription row's sort key names. */
  postIdOfSubscription: (sortKey: string): string => sortKey.slice(SUBSCRIPTION_PREFIX.length),
  subscribersPartition: (postId: string): string => `subscribers#${postId}`,
  liveConnectionsPartition: (shard: number): string => `connections#${shard}`,
} as const;

/**
 * Posts, their counters, their comments and their change events, one item collection per post, and the
 * records of idempotent writes:
 *   pk = "post#<postId>", sk = "post"                 the post (title, body: up to ~40 KB)
 *   pk = "post#<postId>", sk = "seq"                  its counter: `lastSeq`, the seq of its latest event
 *                                                     (0 before the first). A small item of its own, so
 *                                                     that every change writes a few bytes, not the post
 *   pk = "post#<postId>", sk = "publish"              its publish cursor: `publishedSeq` and the claim of
 *                                                     the event being fanned out (docs/fan-out.md)
 *   pk = "post#<postId>", sk = "comment#<commentId>"  its comments; comment ids are ULIDs, so sort-key
 *                                                     order is creation order (oldest first)
 *   pk = "post#<postId>", sk = "event#<seq>"          one per comment change, seq zero-padded to 12
 *                                                     digits so sort-key order is seq order
 *   pk = "idem#<userId>#<key>", sk = "write"          the first answer to a POST with that Idempotency-Key,
 *                                                     stored in the write's own transaction
 * Only events and idempotency records carry `expiresAt`, so TTL reaps them and nothing else.
 * The table's stream (NEW_IMAGE) is the outbox: a filter passes the inserted event rows to the publisher.
 */
export const commentsTableSchema = {
  id: 'Comments',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  globalSecondaryIndexes: [],
  stream: 'NEW_IMAGE',
} as const satisfies TableSchema;

/** Digits of a seq in an event's sort key: room for a trillion changes to one post. */
export const EVENT_SEQ_DIGITS = 12;

const EVENT_PREFIX = 'event#';

export const commentKeys = {
  postPartition: (postId: string): string => `post#${postId}`,
  postSortKey: 'post',
  /** The post's counter: `lastSeq`, taken by every change in its transaction. */
  counterSortKey: 'seq',
  /** The post's publish cursor: the last seq fanned out, and the claim of the one being fanned out. */
  publishSortKey: 'publish',
  commentPrefix: 'comment#',
  commentSortKey: (commentId: string): string => `comment#${commentId}`,
  eventPrefix: EVENT_PREFIX,
  eventSortKey: (seq: number): string => `${EVENT_PREFIX}${String(seq).padStart(EVENT_SEQ_DIGITS, '0')}`,
  idempotencyPartition: (userId: string, key: string): string => `idem#${userId}#${key}`,
  idempotencySortKey: 'write',
} as const;
