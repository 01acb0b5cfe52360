import { poolSize } from '../config';
import type { MeasurementContext } from '../measurement-context';
import type { ReadCostReport } from '../result';
import { round } from '../stats';
import { fullScanCost, subscriberQueryCost } from '../subscriber-reads';

/**
 * What one broadcast reads to find its audience: the Query of the post's subscriber partition against the
 * AWS samples' Scan of the whole connections table, while the whole pool is connected (a Scan pays for
 * every row, not only the post's).
 */
export async function measureReadCost(context: MeasurementContext): Promise<ReadCostReport> {
  const { config, target } = context;
  const subscribers = config.smallSubscribers;
  context.log(`read cost: subscribers of a ${subscribers}-subscriber post vs a full Scan …`);
  const postId = context.postFor(subscribers);
  const { cost: query, connectionIds } = await subscriberQueryCost(target, postId);
  if (connectionIds.length !== subscribers) {
    context.notes.push(
      `read cost: the Query found ${connectionIds.length} subscribers, expected ${subscribers}`,
    );
  }
  const scan = await fullScanCost(target, postId);
  const reported = query.requestsWithoutCapacity === 0 && scan.requestsWithoutCapacity === 0;
  return {
    subscribers,
    liveConnections: poolSize(config),
    query,
    scan,
    capacityRatio:
      query.consumedCapacityUnits > 0
        ? round(scan.consumedCapacityUnits / query.consumedCapacityUnits)
        : null,
    capacitySource: reported
      ? 'ConsumedCapacity as reported by DynamoDB Local (ReturnConsumedCapacity: TOTAL)'
      : 'incomplete: some responses carried no ConsumedCapacity',
  };
}
