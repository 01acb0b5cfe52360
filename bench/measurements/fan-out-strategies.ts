import { sleep } from '../../contracts/backoff';
import type { MeasurementContext } from '../measurement-context';
import type { StrategyReport, StrategyRow } from '../result';
import { round } from '../stats';
import { promiseAllFanOut, sequentialFanOut, type StrategyRun } from '../strategies';
import { subscriberQueryCost } from '../subscriber-reads';
import { broadcast, managementClient, resetFaults, setFaults } from '../target';
import { sharedNow } from '../worker-protocol';

/** After a loop's last call was answered, its events are already on their way: a short quiet ends the wait. */
const SETTLE_QUIET_MS = 2_000;
/** A broadcast API that hands work to fan-out workers answers first; their deliveries may start later. */
const HANDED_OVER_QUIET_MS = 5_000;
/** The local rate limiter counts per wall-clock second; a pause keeps one strategy's calls out of the next's window. */
const RATE_WINDOW_PAUSE_MS = 1_100;

/**
 * deliveries/s as a share of calls in flight ÷ injected latency (0 without a latency), as recorded in the
 * JSON. The table compares each strategy with the lower of that and the Management API ceiling measured in
 * the same run (bench/strategies.ts, strategyBound), which this measurement does not see.
 */
const shareOf = (bound: number, deliveriesPerSecond: number): number =>
  Number.isFinite(bound) ? (round(deliveriesPerSecond / bound, 3) ?? 0) : 0;

/**
 * Under API Gateway's latency and rate limit (injected through the local gateway's faults), our
 * broadcast handler against the AWS samples' loops: one call after another, and every call at once
 * with Promise.all.
 */
export async function measureFanOutStrategies(context: MeasurementContext): Promise<StrategyReport> {
  const { config, target } = context;
  const { latencyMs, rateLimitPerSecond, strategyBudgetMs: budgetMs, fanOutConcurrency } = config;
  const bound = latencyMs > 0 ? (fanOutConcurrency * 1000) / latencyMs : Number.POSITIVE_INFINITY;
  const rows: StrategyRow[] = [];
  const client = managementClient(target);
  await setFaults(target, { latencyMs, rateLimitPerSecond });
  try {
    for (const audience of [...config.strategyAudiences].sort((a, b) => a - b)) {
      const postId = context.postFor(audience);
      context.log(`strategies, ${audience} connections, ${latencyMs} ms per call: broadcast handler …`);
      rows.push(await handlerRow(context, audience, postId, bound));
      await sleep(RATE_WINDOW_PAUSE_MS);
      context.log(`strategies, ${audience} connections: sequential loop (budget ${budgetMs / 1000} s) …`);
      rows.push(
        await loopRow(context, audience, postId, bound, 'sequential loop', (ids, payload) =>
          sequentialFanOut(client, ids, payload, budgetMs),
        ),
      );
      await sleep(RATE_WINDOW_PAUSE_MS);
      context.log(`strategies, ${audience} connections: Promise.all …`);
      rows.push(
        await loopRow(context, audience, postId, bound, 'Promise.all', (ids, payload) =>
          promiseAllFanOut(client, ids, payload, budgetMs),
        ),
      );
      await sleep(RATE_WINDOW_PAUSE_MS);
    }
  } finally {
    client.destroy();
    // Never let a failed reset hide the error that brought us here; the harness resets once more at the end.
    await resetFaults(target).catch((error: Error) =>
      context.log(`resetting faults failed: ${error.message}`),
    );
  }
  return {
    latencyMs,
    rateLimitPerSecond,
    budgetMs,
    fanOutConcurrency,
    theoreticalBoundPerSecond: Number.isFinite(bound) ? Math.round(bound) : 0,
    rows,
  };
}

async function handlerRow(
  context: MeasurementContext,
  audience: number,
  postId: string,
  bound: number,
): Promise<StrategyRow> {
  const marker = context.marker(`strategy-handler-${audience}`);
  const started = sharedNow();
  const answer = await broadcast(
    context.target,
    { type: 'bench.broadcast', data: { postId, marker } },
    context.config.strategyBudgetMs + 60_000,
  );
  const answeredMs = sharedNow() - started;
  const receipts = await context.receipts(marker, answer.connectionCount, HANDED_OVER_QUIET_MS);
  const wallMs = Math.max(answeredMs, receipts.length ? Math.max(...receipts) - started : 0);
  const delivered = answer.delivered + (answer.queued ?? 0);
  const deliveriesPerSecond = Math.round((receipts.length / wallMs) * 1000);
  return {
    audience,
    strategy: 'broadcast handler',
    wallMs: round(wallMs) ?? 0,
    projectedWallMs: null,
    capped: false,
    attempted: answer.connectionCount,
    delivered,
    failed: answer.failed + answer.stale,
    retries: answer.retried ?? null,
    received: receipts.length,
    lost: Math.max(0, answer.connectionCount - receipts.length),
    deliveriesPerSecond,
    shareOfBound: shareOf(bound, deliveriesPerSecond),
    errors: {},
  };
}

/** A strategy from strategies.ts; its time includes the same subscriber Query the handler makes. */
async function loopRow(
  context: MeasurementContext,
  audience: number,
  postId: string,
  bound: number,
  strategy: StrategyRow['strategy'],
  fanOut: (ids: string[], payload: string) => Promise<StrategyRun>,
): Promise<StrategyRow> {
  const marker = context.marker(`strategy-${strategy.replace(/\W+/g, '')}-${audience}`);
  const payload = JSON.stringify({ type: 'bench.broadcast', data: { postId, marker } });
  const readStarted = sharedNow();
  const { connectionIds } = await subscriberQueryCost(context.target, postId);
  const readMs = sharedNow() - readStarted;
  const run = await fanOut(connectionIds, payload);
  const receipts = await context.receipts(marker, run.attempted, SETTLE_QUIET_MS);
  const received = receipts.length;
  const wallMs = Math.max(readMs + run.elapsedMs, received ? Math.max(...receipts) - readStarted : 0);
  const deliveriesPerSecond = Math.round((received / wallMs) * 1000);
  return {
    audience,
    strategy,
    wallMs: round(wallMs) ?? 0,
    projectedWallMs:
      run.capped && run.attempted > 0
        ? round(readMs + (run.elapsedMs * connectionIds.length) / run.attempted)
        : null,
    capped: run.capped,
    attempted: run.attempted,
    delivered: run.delivered,
    failed: run.failed,
    retries: run.retries,
    received,
    lost: Math.max(0, run.attempted - received),
    deliveriesPerSecond,
    shareOfBound: shareOf(bound, deliveriesPerSecond),
    errors: run.errors,
  };
}
