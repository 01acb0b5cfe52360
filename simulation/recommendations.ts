import {
  DEFAULT_CLIENT_PROFILE,
  sizeWebSocketThrottles,
  webSocketLoad,
} from '../lib/config/websocket-capacity';
import type { ScenarioResult } from './results';
import { MILLION_QUOTAS, MILLION_STAGE, SMALL_STAGE } from './scenarios';
import { AWS_SERVICES, PROD_STAGE, type FanOutStage } from './settings';

/**
 * What docs/capacity.md recommends per deployment size, each backed by a simulated scenario: the stage's
 * fan-out settings (lib/config/stage-config.ts), the heartbeat, the WebSocket stage throttles as
 * lib/config/websocket-capacity.ts sizes them for that heartbeat, and the AWS quotas to raise.
 */
export interface Recommendation {
  clients: number;
  stage: Pick<
    FanOutStage,
    'fanOutConcurrency' | 'fanOutBatchSize' | 'fanOutWorkerConcurrency' | 'fanOutRetry'
  >;
  memoryMb: number;
  pingIntervalSeconds: number;
  /** Requests per second the heartbeats take from the account's API Gateway quota (ping in, pong out). */
  heartbeatQuotaPerSecond: number;
  throttles: { stage: string; ping: string };
  apiGatewayQuotaPerSecond: number;
  lambdaConcurrency: number;
  newConnectionsPerSecond: number;
  /** At the default 500 new connections per second, how long every client takes to come back after an outage. */
  reconnectAllSecondsAtDefault: number;
  evidence: { scenario: string; label: string; lastDeliveryMs: number | null; deadLettered: number } | null;
}

const SIZES = [
  {
    clients: 1_000,
    stage: SMALL_STAGE,
    memoryMb: 256,
    ping: 60,
    quota: 10_000,
    lambda: 1_000,
    connects: 500,
    scenario: 'what-if-small-stage-1000',
  },
  {
    clients: 100_000,
    stage: PROD_STAGE,
    memoryMb: 256,
    ping: 300,
    quota: 10_000,
    lambda: 1_000,
    connects: 1_000,
    scenario: 'post-100000',
  },
  {
    clients: 1_000_000,
    stage: MILLION_STAGE,
    memoryMb: 1_769,
    ping: 540,
    quota: MILLION_QUOTAS.quotaPerSecond,
    lambda: MILLION_QUOTAS.accountConcurrency,
    connects: 5_000,
    scenario: 'what-if-million-raised-quotas-1769mb',
  },
] as const;

export function recommendations(results: readonly ScenarioResult[]): Recommendation[] {
  return SIZES.map((size) => {
    const profile = { ...DEFAULT_CLIENT_PROFILE, pingIntervalSeconds: size.ping };
    const throttles = sizeWebSocketThrottles(size.clients, profile);
    const load = webSocketLoad(size.clients, profile);
    const result = results.find((r) => r.name === size.scenario);
    const { fanOutConcurrency, fanOutBatchSize, fanOutWorkerConcurrency, fanOutRetry } = size.stage;
    return {
      clients: size.clients,
      stage: { fanOutConcurrency, fanOutBatchSize, fanOutWorkerConcurrency, fanOutRetry },
      memoryMb: size.memoryMb,
      pingIntervalSeconds: size.ping,
      heartbeatQuotaPerSecond: Math.ceil(load.pingsPerSecond * 2),
      throttles: {
        stage: `${throttles.stage.rateLimit}/s, burst ${throttles.stage.burstLimit}`,
        ping: `${throttles.ping.rateLimit}/s, burst ${throttles.ping.burstLimit}`,
      },
      apiGatewayQuotaPerSecond: size.quota,
      lambdaConcurrency: size.lambda,
      newConnectionsPerSecond: size.connects,
      reconnectAllSecondsAtDefault: Math.ceil(size.clients / 500),
      evidence: result
        ? {
            scenario: result.name,
            label: result.label,
            lastDeliveryMs: result.timing.lastDeliveryMs,
            deadLettered: result.outcomes.deadLettered,
          }
        : null,
    };
  });
}

const fmt = (n: number): string => n.toLocaleString('en-US');

export function recommendationsTable(rows: readonly Recommendation[]): string {
  const defaults = AWS_SERVICES;
  const column = (label: string, cell: (r: Recommendation) => string): string =>
    `| ${label} | ${rows.map(cell).join(' | ')} |`;
  const raised = (value: number, standard: number, unit = ''): string =>
    value > standard
      ? `**raise to ${fmt(value)}${unit}** (default ${fmt(standard)})`
      : `default (${fmt(standard)}${unit})`;
  return [
    `| | ${rows.map((r) => `~${fmt(r.clients)} clients`).join(' | ')} |`,
    `| --- | ${rows.map(() => '---').join(' | ')} |`,
    column('`fanOutConcurrency` (pushes in flight per instance)', (r) => fmt(r.stage.fanOutConcurrency)),
    column('`fanOutBatchSize` (ids per worker batch; the most delivered inline)', (r) =>
      fmt(r.stage.fanOutBatchSize),
    ),
    column("`fanOutWorkerConcurrency` (the worker's reserved concurrency)", (r) =>
      fmt(r.stage.fanOutWorkerConcurrency),
    ),
    column(
      '`fanOutRetry` (attempts, base, cap)',
      (r) =>
        `${r.stage.fanOutRetry.maxAttempts}, ${r.stage.fanOutRetry.baseMs} ms, ${fmt(r.stage.fanOutRetry.maxMs)} ms`,
    ),
    column('broadcast and worker memory', (r) =>
      r.memoryMb > 256 ? `**${fmt(r.memoryMb)} MB** (1 vCPU)` : '256 MB (as deployed)',
    ),
    column('client heartbeat (`pingIntervalMs`)', (r) => `${r.pingIntervalSeconds} s`),
    column(
      "heartbeats' share of the API Gateway quota (ping in, pong out)",
      (r) => `${fmt(r.heartbeatQuotaPerSecond)}/s`,
    ),
    column(
      'WebSocket stage throttle / ping route throttle (`sizeWebSocketThrottles`)',
      (r) => `${r.throttles.stage} / ${r.throttles.ping}`,
    ),
    column('API Gateway account throttle quota (L-8A5B8E43)', (r) =>
      raised(r.apiGatewayQuotaPerSecond, defaults.managementApi.admission.ratePerSecond, '/s'),
    ),
    column('Lambda concurrent executions (L-B99A9384)', (r) =>
      raised(r.lambdaConcurrency, defaults.lambda.accountConcurrency),
    ),
    column('WebSocket new connections per second (L-9ED1E49A)', (r) =>
      raised(r.newConnectionsPerSecond, 500, '/s'),
    ),
    column(
      'every client reconnecting at the default 500/s takes',
      (r) => `${fmt(r.reconnectAllSecondsAtDefault)} s`,
    ),
    column('simulated: a broadcast to all of them', (r) =>
      r.evidence
        ? `${r.evidence.lastDeliveryMs === null ? '—' : `${(r.evidence.lastDeliveryMs / 1000).toFixed(1)} s`}, ${fmt(r.evidence.deadLettered)} dead-lettered (\`${r.evidence.scenario}\`)`
        : '—',
    ),
  ].join('\n');
}
