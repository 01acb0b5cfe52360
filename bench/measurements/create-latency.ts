import { stageConfigs } from '../../lib/config/stage-config';
import { BENCH_USER_ID, type MeasurementContext } from '../measurement-context';
import type { CreateLatencyReport, CreateLatencyRow } from '../result';
import { median, percentile, round } from '../stats';
import { createComment } from '../target';
import { sharedNow } from '../worker-protocol';

/**
 * How long the stream publisher gets to deliver a second copy after the first ones, before an event counts
 * as delivered once: it polls the stream a few times a second and skips what the fast path published.
 */
const SECOND_COPY_WAIT_MS = 1000;

/**
 * Does creating a comment wait for its fan-out? Sequential creates on a post nobody subscribes to and on
 * one with many subscribers, taken in turns (one of each, then the next pair) so that both see the same
 * machine: this one is shared, and its load drifts over a run. Each loaded create is measured alone: the
 * next create starts once its fan-out is over. Reported: the latency the author sees in each case, and
 * when the fan-out was done.
 */
export async function measureCreateLatency(context: MeasurementContext): Promise<CreateLatencyReport> {
  const { config } = context;
  const cases = [0, config.createSubscribers].map((subscribers) => ({
    subscribers,
    postId: subscribers === 0 ? context.quietPost : context.postFor(subscribers),
    latencies: [] as number[],
    fanOutTimes: [] as number[],
    complete: 0,
    copies: 0,
  }));
  for (let k = 0; k < config.creates; k += 1) {
    if (k % 10 === 0) context.log(`create latency: ${k}/${config.creates} pairs …`);
    for (const measured of cases) {
      const { subscribers } = measured;
      const marker = context.marker(`create-${subscribers}-${k}`);
      const started = sharedNow();
      await createComment(context.target, BENCH_USER_ID, measured.postId, marker);
      measured.latencies.push(sharedNow() - started);
      if (subscribers === 0) continue;
      // Quiet for a while after the last copy: a second publishing path would show as a second copy.
      const times = await context.receipts(marker, subscribers, undefined, SECOND_COPY_WAIT_MS);
      measured.copies += times.length;
      if (times.length >= subscribers) measured.complete += 1;
      if (times.length > 0) measured.fanOutTimes.push(Math.max(...times) - started);
    }
  }
  const rows: CreateLatencyRow[] = cases.map(({ subscribers, latencies, fanOutTimes, complete, copies }) => {
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      subscribers,
      creates: config.creates,
      p50Ms: round(percentile(sorted, 50)),
      p99Ms: round(percentile(sorted, 99)),
      maxMs: round(percentile(sorted, 100)),
      fanOutCompleteP50Ms: subscribers > 0 ? round(median(fanOutTimes)) : null,
      completeFanOuts: subscribers > 0 ? complete : 0,
      deliveriesPerSubscriberPerEvent:
        subscribers > 0 ? round(copies / (subscribers * config.creates), 2) : null,
    };
  });
  const [idle, loaded] = rows;
  const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
    a && b ? round(a / b, 2) : null;
  return {
    rows,
    p50Ratio: ratio(loaded?.p50Ms, idle?.p50Ms),
    p99Ratio: ratio(loaded?.p99Ms, idle?.p99Ms),
    broadcastTimeoutMs: stageConfigs[config.stage].broadcastTimeoutMs,
  };
}
