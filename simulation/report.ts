import { fmt } from '../bench/format';
import type { Calibration } from './calibration';
import type { ScenarioResult } from './results';
import type { Parameter } from './settings';
import { PRICES } from './results';
import { recommendations, recommendationsTable } from './recommendations';

/** The JSON `npm run simulate` writes (simulation/results/latest.json); every table is made from it. */
export interface SimulationReport {
  schemaVersion: 1;
  generatedAt: string;
  seed: number;
  calibration: Calibration;
  prices: typeof PRICES;
  parameters: Parameter[];
  benchRun: string;
  scenarios: ScenarioResult[];
  localComparison: LocalComparison[];
  target: TargetOutcome | null;
  durationMs: number;
}

export interface LocalComparison {
  clients: number;
  measuredLastMs: number;
  simulatedLastMs: number | null;
  /** simulated ÷ measured − 1. */
  error: number | null;
  within25Percent: boolean;
  measuredP50Ms: number;
  simulatedP50Ms: number | null;
  ceilingPerSecond: number;
  bindingLimit: string;
}

export interface TargetOutcome {
  scenario: string;
  addressed: number;
  /** addressed ÷ the account quota's rate. */
  boundMs: number;
  limitMs: number;
  lastDeliveryMs: number | null;
  ratioToBound: number | null;
  lost: number;
  deadLettered: number;
  met: boolean;
}

const seconds = (ms: number | null | undefined): string =>
  ms === null || ms === undefined
    ? '—'
    : ms < 1000
      ? `${fmt(ms)} ms`
      : `${fmt(ms / 1000, ms < 100_000 ? 2 : 1)} s`;
const dollars = (value: number): string => (value < 0.01 ? `$${value.toFixed(5)}` : `$${value.toFixed(4)}`);
const signedPercent = (share: number | null): string =>
  share === null ? '—' : `${share >= 0 ? '+' : '−'}${fmt(Math.abs(share) * 100, 1)} %`;

export function resultsTable(scenarios: readonly ScenarioResult[], groups?: readonly string[]): string {
  const lines = [
    '| scenario | first delivery | last delivery | deliveries/s | peak concurrency (worker / account) | retries | 429s | failed after retries → handed on | dead-lettered | lost | the limit that binds | cost per broadcast |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
  ];
  for (const s of scenarios.filter(
    (x) => x.environment === 'aws' && (!groups || groups.includes(x.group ?? '')),
  )) {
    lines.push(
      `| ${s.label} | ${seconds(s.timing.firstDeliveryMs)} | **${seconds(s.timing.lastDeliveryMs)}** | ${fmt(s.timing.deliveriesPerSecond)} | ` +
        `${fmt(s.lambda.peakWorkerConcurrency)} / ${fmt(s.lambda.peakAccountConcurrency)} | ${fmt(s.code.retried)} | ${fmt(s.managementApi.throttled)} | ` +
        `${fmt(s.code.deliveryFailures)} → ${fmt(s.code.handedOn)} | ${fmt(s.outcomes.deadLettered)} | ${fmt(s.outcomes.lost)} | ` +
        `${s.bindingLimit.resource} (${fmt(s.bindingLimit.share * 100)} %) | ${dollars(s.cost.total)} |`,
    );
  }
  return lines.join('\n');
}

export function settingsTable(scenarios: readonly ScenarioResult[]): string {
  const lines = [
    '| scenario | fan-out concurrency | batch size | worker cap | retry (attempts, base, max) | memory | quota | audience outcome (delivered / stale / dead-lettered / lost) | duplicates | cold starts | async throttles |',
    '| --- | ---: | ---: | ---: | --- | ---: | --- | --- | ---: | ---: | ---: |',
  ];
  for (const s of scenarios) {
    const { settings: c, outcomes: o } = s;
    lines.push(
      `| ${s.label} | ${c.fanOutConcurrency} | ${fmt(c.fanOutBatchSize)} | ${fmt(c.fanOutWorkerConcurrency)} | ${c.retry.maxAttempts}, ${c.retry.baseMs} ms, ${fmt(c.retry.maxMs)} ms | ${c.memoryMb} MB | ${c.quota} | ` +
        `${fmt(o.delivered)} / ${fmt(o.stale)} / ${fmt(o.deadLettered)} / ${fmt(o.lost)} | ${fmt(o.duplicates)} | ${fmt(s.lambda.coldStarts)} | ${fmt(s.lambda.asyncThrottles)} |`,
    );
  }
  return lines.join('\n');
}

export function saturationList(scenarios: readonly ScenarioResult[]): string {
  return scenarios
    .map(
      (s) =>
        `- **${s.label}**: ${s.saturation.map((row) => `${row.resource} ${fmt(row.share * 100)} % (${row.detail})`).join('; ')}.`,
    )
    .join('\n');
}

export function costTable(scenarios: readonly ScenarioResult[]): string {
  const lines = [
    `| scenario | Lambda requests | Lambda GB-s (arm64) | WebSocket messages | DynamoDB | total | per 1,000 deliveries |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const s of scenarios.filter((x) => x.environment === 'aws')) {
    const c = s.cost;
    lines.push(
      `| ${s.label} | ${dollars(c.lambdaRequests)} | ${dollars(c.lambdaDuration)} (${fmt(s.lambda.gbSeconds, 1)} GB-s) | ${dollars(c.webSocketMessages)} | ${dollars(c.dynamodb)} (${fmt(s.dynamodb.readUnits)} RRU, ${fmt(s.dynamodb.writeUnits)} WRU) | **${dollars(c.total)}** | ${dollars(c.perThousandDeliveries)} |`,
    );
  }
  lines.push(
    '',
    `Prices: ${PRICES.region}, list prices as of ${PRICES.asOf}: Lambda $${PRICES.lambdaPerMillionRequests} per million requests and $${PRICES.lambdaArmPerGbSecond} per GB-s (arm64, first tier; init billed too); ` +
      `WebSocket messages $${PRICES.webSocketPerMillionMessages.toFixed(2)} per million (first billion, metered per 32 KB; delivered pushes counted); ` +
      `DynamoDB on demand $${PRICES.dynamodbPerMillionReadUnits} per million read and $${PRICES.dynamodbPerMillionWriteUnits} per million write request units. Connection minutes, logs, metrics and SQS are not included.`,
  );
  return lines.join('\n');
}

export function localTable(rows: readonly LocalComparison[]): string {
  const lines = [
    '| clients | measured: last client received (bench) | simulated: last delivery | error | within ±25 % | measured p50 | simulated p50 | local ceiling used | what binds in the model |',
    '| ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: | --- |',
  ];
  for (const row of rows) {
    lines.push(
      `| ${fmt(row.clients)} | ${seconds(row.measuredLastMs)} | ${seconds(row.simulatedLastMs)} | ${signedPercent(row.error)} | ${row.within25Percent ? 'yes' : '**no**'} | ` +
        `${seconds(row.measuredP50Ms)} | ${seconds(row.simulatedP50Ms)} | ${fmt(row.ceilingPerSecond)}/s | ${row.bindingLimit} |`,
    );
  }
  return lines.join('\n');
}

export function targetBlock(target: TargetOutcome | null): string {
  if (!target) return '_The 100,000-subscriber scenario was not run._';
  return (
    `**${target.met ? 'Met' : 'Not met'}.** ${fmt(target.addressed)} subscribers, bound ${seconds(target.boundMs)} (the audience ÷ the quota's 10,000/s), limit 1.15 × bound = ${seconds(target.limitMs)}: ` +
    `the last delivery came after **${seconds(target.lastDeliveryMs)}** (${fmt(target.ratioToBound, 2)} × the bound), ` +
    `${fmt(target.lost)} lost, ${fmt(target.deadLettered)} dead-lettered.`
  );
}

export function parametersTable(parameters: readonly Parameter[]): string {
  const lines = ['| parameter | value | basis | source |', '| --- | --- | --- | --- |'];
  for (const p of parameters) {
    const source = p.source.startsWith('https://')
      ? `<${p.source}>`
      : p.source.replace(/(https:\/\/\S+)/g, '<$1>') || '—';
    lines.push(`| ${p.name} | ${p.value} | ${p.basis} | ${source} |`);
  }
  return lines.join('\n');
}

/** The figures the "where it stops" section of docs/capacity.md rests on, from this run's results. */
export function limitsBlock(report: SimulationReport): string {
  const find = (name: string) => report.scenarios.find((s) => s.name === name);
  const million = find('post-1000000');
  const raised = find('what-if-million-raised-quotas');
  const raised1769 = find('what-if-million-raised-quotas-1769mb');
  const many = find('posts-1000x1000');
  const target = find('post-100000');
  const quota = 10_000;
  // A subscriber row (subscribers#<26-char post id>, a 16-character connection id, expiresAt) is 75 bytes.
  const readSeconds = (subscribers: number): number => (subscribers * 75) / 4096 / 3_000;
  const line = (label: string, r: ScenarioResult | undefined): string =>
    r
      ? `${label}: last delivery after **${seconds(r.timing.lastDeliveryMs)}**, ${fmt(r.timing.deliveriesPerSecond)} deliveries/s, ` +
        `peak ${fmt(r.lambda.peakWorkerConcurrency)} workers, ${fmt(r.lambda.gbSeconds, 0)} GB-s, ${dollars(r.cost.total)} (${dollars(r.cost.perThousandDeliveries)} per 1,000 deliveries); binds: ${r.bindingLimit.resource}`
      : `${label}: not run`;
  return [
    `- Default quota: at most ${fmt(quota)} pushes per second for the whole account and Region, so a broadcast to N subscribers takes at least N ÷ ${fmt(quota)} s (100,000: 10 s; 1,000,000: 100 s), and every other broadcast, ping and pong in the account waits in the same bucket.`,
    `- ${line('1 post × 1,000,000 at the default quota', million)}.`,
    `- ${line('1,000 posts × 1,000 at once, default quota', many)}.`,
    `- ${line('1 post × 1,000,000 with the quota raised to 100,000/s, 256 MB', raised)}.`,
    `- ${line('the same at 1,769 MB', raised1769)}.`,
    `- ${line('1 post × 100,000 (the target)', target)}.`,
    `- Reading the audience: one strongly consistent Query of one partition, at most 3,000 read units a second: ` +
      `at least ${fmt(readSeconds(1_000_000), 1)} s for 1,000,000 subscribers, ${fmt(readSeconds(10_000_000), 0)} s for 10,000,000, before any push.`,
  ].join('\n');
}

/** The blocks of docs/capacity.md that are generated, by marker name. */
export function documentBlocks(report: SimulationReport): Record<string, string> {
  const c = report.calibration;
  return {
    results: resultsTable(report.scenarios, ['single post', 'many posts']),
    'what-if': resultsTable(report.scenarios, ['what-if', 'scale check']),
    target: targetBlock(report.target),
    local: localTable(report.localComparison),
    settings: settingsTable(report.scenarios),
    saturation: saturationList(report.scenarios),
    costs: costTable(report.scenarios),
    parameters: parametersTable(report.parameters),
    recommendations: recommendationsTable(recommendations(report.scenarios)),
    limits: limitsBlock(report),
    provenance:
      `Generated by \`npm run simulate\` on ${report.generatedAt.slice(0, 16).replace('T', ' ')} UTC (seed ${report.seed}, ${fmt(report.durationMs / 1000, 0)} s), ` +
      `from simulation/results/latest.json; local stack figures from the bench run of ${report.benchRun.slice(0, 16).replace('T', ' ')} UTC; ` +
      `client CPU calibrated ${c.measuredAt.slice(0, 16).replace('T', ' ')} UTC on ${c.machine.cpus} × ${c.machine.cpuModel}, Node ${c.machine.node} (load average ${c.machine.loadAverage.map((x) => fmt(x, 1)).join(' / ')}).`,
  };
}

export function toMarkdown(report: SimulationReport): string {
  const blocks = documentBlocks(report);
  return [
    blocks.provenance,
    '',
    blocks.results,
    '',
    blocks['what-if'],
    '',
    blocks.target,
    '',
    blocks.local,
    '',
    blocks.settings,
    '',
    blocks.costs,
    '',
    blocks.saturation,
    '',
  ].join('\n');
}
