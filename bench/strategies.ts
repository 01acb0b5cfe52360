import { setMaxListeners } from 'node:events';
import {
  PostToConnectionCommand,
  type ApiGatewayManagementApiClient,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { sharedNow } from './worker-protocol';

/**
 * Fan-out strategies to compare with the broadcast handler, each a plain loop of postToConnection calls
 * with the SDK client and no retries of its own (the SDK's default retry of throttled calls stays on, as
 * in the AWS samples; the retries it made are counted from `$metadata.attempts`). Each stops at a time
 * budget so that a slow strategy cannot hold the run: what it reached by then is reported and its full
 * time projected.
 */
export interface StrategyRun {
  /** Calls that completed (delivered or failed) before the budget ran out. */
  attempted: number;
  delivered: number;
  failed: number;
  /** SDK retries (attempts beyond the first) over all calls. */
  retries: number;
  /** Error name → count. */
  errors: Record<string, number>;
  /** When the first call was started, on the shared clock. */
  startedAt: number;
  elapsedMs: number;
  /** Stopped by the budget before every target was attempted. */
  capped: boolean;
}

interface Tally {
  run: StrategyRun;
  record(outcome: { ok: boolean; attempts: number; errorName?: string }): void;
}

function tally(): Tally {
  const run: StrategyRun = {
    attempted: 0,
    delivered: 0,
    failed: 0,
    retries: 0,
    errors: {},
    startedAt: sharedNow(),
    elapsedMs: 0,
    capped: false,
  };
  return {
    run,
    record({ ok, attempts, errorName }) {
      run.attempted += 1;
      run.retries += Math.max(0, attempts - 1);
      if (ok) {
        run.delivered += 1;
      } else {
        run.failed += 1;
        const name = errorName ?? 'Error';
        run.errors[name] = (run.errors[name] ?? 0) + 1;
      }
    },
  };
}

const attemptsOf = (value: unknown): number =>
  (value as { $metadata?: { attempts?: number } } | undefined)?.$metadata?.attempts ?? 1;

async function post(
  client: ApiGatewayManagementApiClient,
  connectionId: string,
  data: Uint8Array,
  abortSignal?: AbortSignal,
): Promise<{ ok: boolean; attempts: number; errorName?: string; aborted?: boolean }> {
  try {
    const output = await client.send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: data }),
      abortSignal ? { abortSignal } : {},
    );
    return { ok: true, attempts: attemptsOf(output) };
  } catch (error) {
    const name = (error as Error).name;
    if (abortSignal?.aborted)
      return { ok: false, attempts: attemptsOf(error), errorName: name, aborted: true };
    return { ok: false, attempts: attemptsOf(error), errorName: name };
  }
}

const encode = (payload: string): Uint8Array => new TextEncoder().encode(payload);

/** Runs one strategy's calls against a fresh tally and records how long they took. */
async function timedRun(send: (current: Tally) => Promise<void>): Promise<StrategyRun> {
  const current = tally();
  await send(current);
  current.run.elapsedMs = sharedNow() - current.run.startedAt;
  return current.run;
}

/**
 * One call after another, as the simplest samples loop over connections: the bounded loop below with a
 * single call in flight.
 */
export function sequentialFanOut(
  client: ApiGatewayManagementApiClient,
  connectionIds: readonly string[],
  payload: string,
  budgetMs: number,
): Promise<StrategyRun> {
  return boundedFanOut(client, connectionIds, payload, 1, budgetMs);
}

/**
 * Every call started at once and awaited with Promise.all, as the AWS WebSocket samples do. The SDK's
 * default HTTP agent still lets only 50 sockets per host work at a time; the rest queue in the agent.
 * Calls still pending when the budget runs out are aborted and not counted as attempted.
 */
export function promiseAllFanOut(
  client: ApiGatewayManagementApiClient,
  connectionIds: readonly string[],
  payload: string,
  budgetMs: number,
): Promise<StrategyRun> {
  const data = encode(payload);
  return timedRun(async ({ run, record }) => {
    const controller = new AbortController();
    // Every pending call listens on the one signal: that many listeners is the design, not a leak.
    setMaxListeners(connectionIds.length + 10, controller.signal);
    const timer = setTimeout(() => controller.abort(), budgetMs);
    try {
      const outcomes = await Promise.all(
        connectionIds.map((connectionId) => post(client, connectionId, data, controller.signal)),
      );
      for (const outcome of outcomes) {
        if (outcome.aborted) run.capped = true;
        else record(outcome);
      }
    } finally {
      clearTimeout(timer);
    }
  });
}

/** At most `concurrency` calls in flight, no handler in between: the Management API's own ceiling. */
export function boundedFanOut(
  client: ApiGatewayManagementApiClient,
  connectionIds: readonly string[],
  payload: string,
  concurrency: number,
  budgetMs: number,
): Promise<StrategyRun> {
  const data = encode(payload);
  return timedRun(async ({ run, record }) => {
    const deadline = run.startedAt + budgetMs;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < connectionIds.length) {
        if (sharedNow() >= deadline) {
          run.capped = true;
          return;
        }
        const connectionId = connectionIds[next];
        next += 1;
        if (connectionId !== undefined) record(await post(client, connectionId, data));
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  });
}

/** What a strategy's throughput is compared with, and which of the two limits set it. */
export interface StrategyBound {
  perSecond: number;
  limitedBy: 'calls in flight ÷ latency' | 'Management API ceiling';
}

/**
 * The bound a strategy is reported against: the lower of what its calls in flight allow at the injected
 * latency (concurrency ÷ latency) and the Management API's own ceiling on this machine, measured in the
 * same run (the "Management API alone" rows: a bounded loop with nothing in between). On a small machine
 * the gateway's ceiling is the lower one, and a strategy measured against concurrency ÷ latency alone
 * could never reach 100 %: not even an unbounded Promise.all does.
 */
export function strategyBound(
  concurrencyOverLatencyPerSecond: number,
  ceilingPerSecond: number | null,
): StrategyBound {
  const theoretical = concurrencyOverLatencyPerSecond > 0 ? concurrencyOverLatencyPerSecond : Infinity;
  if (ceilingPerSecond !== null && ceilingPerSecond > 0 && ceilingPerSecond < theoretical) {
    return { perSecond: ceilingPerSecond, limitedBy: 'Management API ceiling' };
  }
  return {
    perSecond: Number.isFinite(theoretical) ? theoretical : 0,
    limitedBy: 'calls in flight ÷ latency',
  };
}
