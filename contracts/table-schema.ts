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
}

/**
 * Connections and their subscriptions share one table, one item collection per connection:
 *   connectionId = <id>, sk = "connection"          the connection itself (topic = "all")
 *   connectionId = <id>, sk = "sub#<postId>"        one per subscribed post (topic = "post#<postId>")
 * The byTopic index answers "who listens to post P" (and "who is connected at all") with a Query, and
 * $disconnect removes a connection with one Query on its own partition instead of a Scan.
 */
export const connectionsTableSchema = {
  id: 'Connections',
  partitionKey: { name: 'connectionId', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  globalSecondaryIndexes: [
    {
      indexName: 'byTopic',
      partitionKey: { name: 'topic', type: 'S' },
      sortKey: { name: 'connectionId', type: 'S' },
      projection: 'KEYS_ONLY',
    },
  ],
} as const satisfies TableSchema;

export const CONNECTIONS_BY_TOPIC_INDEX = connectionsTableSchema.globalSecondaryIndexes[0].indexName;

const SUBSCRIPTION_PREFIX = 'sub#';

export const connectionKeys = {
  connectionSortKey: 'connection',
  /** Every subscription row's sort key starts with this: a connection's subscriptions are one Query. */
  subscriptionPrefix: SUBSCRIPTION_PREFIX,
  subscriptionSortKey: (postId: string): string => `${SUBSCRIPTION_PREFIX}${postId}`,
  /** The topic every connection row carries: "all connections" is a Query on it. */
  allConnectionsTopic: 'all',
  postTopic: (postId: string): string => `post#${postId}`,
} as const;

/**
 * Posts, their comments and their change events share one item collection per post:
 *   pk = "post#<postId>", sk = "post"                 the post; `lastSeq` is the seq of its latest event
 *                                                     (absent until the first one: 0)
 *   pk = "post#<postId>", sk = "comment#<commentId>"  its comments; comment ids are ULIDs, so sort-key
 *                                                     order is creation order (oldest first)
 *   pk = "post#<postId>", sk = "event#<seq>"          one per comment change, seq zero-padded to 12
 *                                                     digits so sort-key order is seq order; only these
 *                                                     carry `expiresAt`, so TTL reaps events and nothing else
 */
export const commentsTableSchema = {
  id: 'Comments',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  timeToLiveAttribute: 'expiresAt',
  globalSecondaryIndexes: [],
} as const satisfies TableSchema;

/** Digits of a seq in an event's sort key: room for a trillion changes to one post. */
export const EVENT_SEQ_DIGITS = 12;

const EVENT_PREFIX = 'event#';

export const commentKeys = {
  postPartition: (postId: string): string => `post#${postId}`,
  postSortKey: 'post',
  commentPrefix: 'comment#',
  commentSortKey: (commentId: string): string => `comment#${commentId}`,
  eventPrefix: EVENT_PREFIX,
  eventSortKey: (seq: number): string => `${EVENT_PREFIX}${String(seq).padStart(EVENT_SEQ_DIGITS, '0')}`,
} as const;
