import {
  commentKeys,
  commentsTableSchema,
  CONNECTION_INDEX_SHARDS,
  connectionKeys,
  connectionShard,
  connectionsTableSchema,
  EVENT_SEQ_DIGITS,
} from '../../contracts/table-schema';

describe('commentKeys', () => {
  it('zero-pads an event seq to 12 digits under the event prefix', () => {
    // Act / Assess
    expect(commentKeys.eventSortKey(1)).toBe('event#000000000001');
    expect(commentKeys.eventSortKey(123_456_789_012)).toBe('event#123456789012');
    expect(EVENT_SEQ_DIGITS).toBe(12);
  });

  it('sorts event sort keys in seq order, as a Query returns them', () => {
    // Prepare
    const seqs = [10, 9, 100, 1, 11, 2];

    // Act
    const sorted = seqs.map(commentKeys.eventSortKey).sort();

    // Assess
    expect(sorted).toEqual([1, 2, 9, 10, 11, 100].map(commentKeys.eventSortKey));
  });

  it('keeps events, comments and the post apart within a post’s item collection', () => {
    // Act / Assess
    expect(commentKeys.eventSortKey(1).startsWith(commentKeys.eventPrefix)).toBe(true);
    expect(commentKeys.eventSortKey(1).startsWith(commentKeys.commentPrefix)).toBe(false);
    expect(commentKeys.commentSortKey('event#1').startsWith(commentKeys.eventPrefix)).toBe(false);
    expect(commentKeys.postSortKey.startsWith(commentKeys.eventPrefix)).toBe(false);
  });

  it('keeps the counter and the publish cursor out of the comment and event queries', () => {
    // Prepare: listComments reads begins_with(comment#); a replay reads BETWEEN two event sort keys
    const first = commentKeys.eventSortKey(0);
    const last = commentKeys.eventSortKey(10 ** EVENT_SEQ_DIGITS - 1);

    // Act
    const ownItems = [commentKeys.counterSortKey, commentKeys.publishSortKey, commentKeys.postSortKey];

    // Assess
    expect(ownItems).toEqual(['seq', 'publish', 'post']);
    for (const sk of ownItems) {
      expect(sk.startsWith(commentKeys.commentPrefix)).toBe(false);
      expect(sk >= first && sk <= last).toBe(false);
    }
  });

  it('keys an idempotency record by user and key, outside every post’s item collection', () => {
    // Act
    const partition = commentKeys.idempotencyPartition('alice', 'key-0001');

    // Assess
    expect(partition).toBe('idem#alice#key-0001');
    expect(commentKeys.idempotencySortKey).toBe('write');
    expect(partition.startsWith(commentKeys.postPartition(''))).toBe(false);
    expect(commentKeys.idempotencyPartition('bob', 'key-0001')).not.toBe(partition);
  });
});

describe('commentsTableSchema', () => {
  it('expires items by expiresAt (only event items and idempotency records carry it)', () => {
    // Act / Assess
    expect(commentsTableSchema.timeToLiveAttribute).toBe('expiresAt');
  });

  it('streams new images: the outbox every stored event is published from', () => {
    // Act / Assess
    expect(commentsTableSchema.stream).toBe('NEW_IMAGE');
  });
});

describe('connectionsTableSchema', () => {
  it('has generic pk/sk keys and no index: fan-out reads the base table consistently', () => {
    // Act / Assess
    expect(connectionsTableSchema.partitionKey).toEqual({ name: 'pk', type: 'S' });
    expect(connectionsTableSchema.sortKey).toEqual({ name: 'sk', type: 'S' });
    expect(connectionsTableSchema.globalSecondaryIndexes).toEqual([]);
    expect(connectionsTableSchema.timeToLiveAttribute).toBe('expiresAt');
  });
});

describe('connectionKeys', () => {
  it('names the four kinds of rows', () => {
    // Act / Assess
    expect(connectionKeys.connectionPartition('c1')).toBe('conn#c1');
    expect(connectionKeys.connectionSortKey).toBe('connection');
    expect(connectionKeys.subscriptionSortKey('p1')).toBe('sub#p1');
    expect(connectionKeys.subscribersPartition('p1')).toBe('subscribers#p1');
    expect(connectionKeys.liveConnectionsPartition(15)).toBe('connections#15');
  });

  it('reads the post back from a subscription row’s sort key, whatever the post id holds', () => {
    // Prepare
    const postIds = ['p1', 'sub#p1', 'a#b'];

    // Act
    const roundTrips = postIds.map((id) =>
      connectionKeys.postIdOfSubscription(connectionKeys.subscriptionSortKey(id)),
    );

    // Assess
    expect(roundTrips).toEqual(postIds);
  });

  it('keeps subscription rows apart from the connection row under the subscription prefix', () => {
    // Act / Assess
    expect(connectionKeys.subscriptionSortKey('p1').startsWith(connectionKeys.subscriptionPrefix)).toBe(true);
    expect(connectionKeys.connectionSortKey.startsWith(connectionKeys.subscriptionPrefix)).toBe(false);
  });
});

describe('connectionShard', () => {
  it('is 32-bit FNV-1a modulo the shard count, so rows written by one deployment are found by the next', () => {
    // Prepare: the published FNV-1a test vectors: "" 0x811c9dc5, "a" 0xe40c292c, "foobar" 0xbf9cf968
    const vectors: [string, number][] = [
      ['', 0x811c9dc5],
      ['a', 0xe40c292c],
      ['foobar', 0xbf9cf968],
    ];

    // Act
    const shards = vectors.map(([id]) => connectionShard(id));

    // Assess
    expect(CONNECTION_INDEX_SHARDS).toBe(16);
    expect(shards).toEqual(vectors.map(([, hash]) => hash % 16));
    expect(shards).toEqual([5, 12, 8]);
  });

  it('spreads connection ids over every shard, none holding much more than its share', () => {
    // Prepare: ids shaped like API Gateway's (12 base64-ish characters ending in '=')
    const ids = Array.from({ length: 16_000 }, (_, i) => `${i.toString(36).padStart(11, 'A')}=`);

    // Act
    const counts = new Map<number, number>();
    for (const id of ids) counts.set(connectionShard(id), (counts.get(connectionShard(id)) ?? 0) + 1);

    // Assess
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 16 }, (_, shard) => shard));
    for (const count of counts.values()) {
      expect(count).toBeGreaterThan(800);
      expect(count).toBeLessThan(1200);
    }
  });
});
