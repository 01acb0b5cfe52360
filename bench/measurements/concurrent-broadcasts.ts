import type { MeasurementContext } from '../measurement-context';
import type { ConcurrentBroadcastsReport } from '../result';
import { round } from '../stats';
import { broadcast } from '../target';
import { sharedNow } from '../worker-protocol';

/**
 * Many broadcasts at once to one small post, the check the original backend's own tests made (see the
 * README): every call answered and every event received.
 */
export async function measureConcurrentBroadcasts(
  context: MeasurementContext,
): Promise<ConcurrentBroadcastsReport> {
  const { config, pool } = context;
  const { concurrentBroadcasts: count, smallSubscribers: subscribers } = config;
  context.log(`${count} concurrent broadcasts to a ${subscribers}-subscriber post …`);
  const postId = context.postFor(subscribers);
  const markers = Array.from({ length: count }, (_, k) => context.marker(`concurrent-${k}`));
  const started = sharedNow();
  const answers = await Promise.allSettled(
    markers.map((marker) => broadcast(context.target, { type: 'bench.broadcast', data: { postId, marker } })),
  );
  const allAnsweredMs = sharedNow() - started;
  const expected = Object.fromEntries(markers.map((marker) => [marker, subscribers]));
  await pool.waitForDeliveries(expected, { timeoutMs: config.deliveryTimeoutMs });
  const times = Object.values(await pool.times(markers)).flat();
  await pool.forget(markers);
  let reportedDelivered = 0;
  let failedRequests = 0;
  for (const answer of answers) {
    if (answer.status === 'fulfilled')
      reportedDelivered += answer.value.delivered + (answer.value.queued ?? 0);
    else failedRequests += 1;
  }
  return {
    broadcasts: count,
    subscribers,
    allAnsweredMs: round(allAnsweredMs) ?? 0,
    lastDeliveryMs: times.length ? round(Math.max(...times) - started) : null,
    expectedDeliveries: count * subscribers,
    reportedDelivered,
    received: times.length,
    failedRequests,
  };
}
