import { VirtualClock } from '../../simulation/clock';
import { ConnectionBook } from '../../simulation/models/connection-book';
import { DynamoDbModel, type DynamoDbSettings } from '../../simulation/models/dynamodb';
import { PublishCursorModel } from '../../simulation/models/publish-cursor';
import { seededRandom } from '../../simulation/random';
import { AWS_SERVICES } from '../../simulation/settings';
import { DynamoConnectionAudience } from '../../lambda/shared/connection-repository';
import { callerOn, FREE_CPU, onClock } from './model-fixtures';

const SETTINGS: DynamoDbSettings = {
  ...AWS_SERVICES.dynamodb,
  latency: { p50Ms: 5, p99Ms: 5 },
  transferMsPerMb: 10,
};

function world(settings: Partial<DynamoDbSettings> = {}) {
  const clock = new VirtualClock();
  const dynamodb = new DynamoDbModel(clock, seededRandom(4), { ...SETTINGS, ...settings });
  const audience = (environment = callerOn(clock)) =>
    new DynamoConnectionAudience(dynamodb.documentClient(environment, FREE_CPU), 'connections');
  return { clock, dynamodb, audience };
}

async function readAll(pages: AsyncIterable<string[]>): Promise<string[][]> {
  const all: string[][] = [];
  for await (const page of pages) all.push(page);
  return all;
}

describe('DynamoDbModel', () => {
  it("pages a post's subscribers 1 MB at a time to our DynamoConnectionAudience, at 1 read unit per 4 KB", async () => {
    // Prepare
    const { clock, dynamodb, audience } = world();
    dynamodb.addAudience({ postId: 'P1', from: 0, count: 50_000 });

    // Act
    const pages = await onClock(clock, () => readAll(audience().postSubscribers('P1')));

    // Assess: 51-byte rows (pk, sk, expiresAt), so 20,560 to a page.
    const rowBytes = 2 + 'subscribers#P1'.length + 2 + 16 + 9 + 8;
    const ids = pages.flat();
    expect(ids).toHaveLength(50_000);
    expect(new Set(ids).size).toBe(50_000);
    expect(ids[0]).toBe(ConnectionBook.idOf(0));
    expect(pages.map((page) => page.length)).toEqual([20_560, 20_560, 8_880]);
    expect(Math.floor(1_048_576 / rowBytes)).toBe(20_560);
    const bytes = 50_000 * rowBytes;
    expect(dynamodb.stats.readUnits).toBeGreaterThanOrEqual(Math.ceil(bytes / 4096));
    expect(dynamodb.stats.readUnits).toBeLessThanOrEqual(Math.ceil(bytes / 4096) + 3);
    // Three round trips, each 5 ms plus 10 ms per MB.
    expect(clock.now()).toBeGreaterThan(15);
    expect(clock.now()).toBeLessThan(15 + 30);
  });

  it("throttles a partition beyond its read units per second; the SDK's three attempts then fail", async () => {
    // Prepare
    const { clock, dynamodb } = world({ partitionReadUnitsPerSecond: 10 });
    const caller = callerOn(clock);

    // Act: 10 units of a 10-unit partition, then 10 more at once.
    const outcomes = await onClock(clock, () =>
      Promise.all(
        [0, 1, 2].map((i) =>
          dynamodb
            .request(caller, FREE_CPU, 'hot', { readUnits: 10 })
            .then(() => `ok${i}`)
            .catch((error: Error) => error.name),
        ),
      ),
    );

    // Assess
    expect(outcomes[0]).toBe('ok0');
    expect(dynamodb.stats.throttled).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.startsWith('ok')).length + dynamodb.stats.failed).toBe(3);
  });

  it("counts a stale connection's deletes as write units on each row's partition", async () => {
    // Prepare
    const { clock, dynamodb, audience } = world();
    dynamodb.addAudience({ postId: 'P1', from: 0, count: 10 });

    // Act
    const removed = await onClock(clock, () => audience().removeConnection(ConnectionBook.idOf(3)));

    // Assess: the connection row, its subscription, the post's subscriber row and its index row.
    expect(removed).toBe(2);
    expect(dynamodb.stats.writeUnits).toBe(4);
  });
});

describe('PublishCursorModel', () => {
  it('lets one path claim an event, tells the other it is busy, then published', async () => {
    // Prepare
    const clock = new VirtualClock();
    const dynamodb = new DynamoDbModel(clock, seededRandom(5), SETTINGS);
    const cursor = new PublishCursorModel(clock, dynamodb);
    const fast = cursor.claims(callerOn(clock), FREE_CPU, 30_000);
    const stream = cursor.claims(callerOn(clock), FREE_CPU, 61_000);

    // Act
    const claimed = await onClock(clock, () => fast.claim('P', 1, 'next'));
    const busy = await onClock(clock, () => stream.claim('P', 1, 'any'));
    const second = await onClock(clock, () => fast.claim('P', 2, 'next'));
    if (claimed.outcome !== 'claimed') throw new Error('expected a claim');
    const completed = await onClock(clock, () => fast.complete(claimed.claim));
    const after = await onClock(clock, () => stream.claim('P', 1, 'any'));

    // Assess
    expect(busy).toEqual({ outcome: 'busy', until: claimed.claim.expiresAt });
    expect(second).toEqual({ outcome: 'busy', until: claimed.claim.expiresAt });
    expect(completed).toBe(true);
    expect(after).toEqual({ outcome: 'published' });
    expect(cursor.publishedSeq('P')).toBe(1);
  });
});
