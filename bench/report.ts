import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { INIT_TARGET_VS_BASELINE, type ColdStartMeasure, type ColdStartRow } from './measurements/cold-start';
import { escapeXml, fmt, ms, percent, seconds } from './format';
import type { BenchResult, StrategyRow } from './result';
import { strategyBound, type StrategyBound } from './strategies';
import type { DeliveryStats } from './stats';

/** The files one run writes, and the `latest.*` copies docs/performance.md and the README show. */
export interface WrittenResults {
  json: string;
  svg: string;
  markdown: string;
}

function strategyWall(row: StrategyRow): string {
  if (!row.capped) return seconds(row.wallMs);
  return `${seconds(row.wallMs)} (capped) → **projected ${row.projectedWallMs ? seconds(row.projectedWallMs) : '—'}**`;
}

/** The best the local Management API did in this run with nothing in between (its "alone" rows), or null. */
function managementApiCeiling(result: BenchResult): number | null {
  const rates = result.fanOut
    .map((row) => row.managementApi.deliveriesPerSecond)
    .filter((rate): rate is number => rate !== null && rate > 0);
  return rates.length ? Math.max(...rates) : null;
}

/** What the strategies are reported against (bench/strategies.ts, strategyBound). */
function strategyBoundOf(result: BenchResult): StrategyBound {
  return strategyBound(result.strategies.theoreticalBoundPerSecond, managementApiCeiling(result));
}

/** The tables; latest.md is what docs/performance.md shows between its `bench/results/latest.md` markers. */
export function toMarkdown(result: BenchResult): string {
  const { machine, config } = result;
  const lines: string[] = [];
  lines.push(
    `Run ${result.startedAt.slice(0, 16).replace('T', ' ')} UTC on ${machine.cpus} cores (${machine.cpuModel}), ` +
      `${fmt(machine.memoryGiB)} GiB, Node ${machine.node}, ${machine.platform}; ` +
      `${fmt(result.liveConnections)} live WebSocket connections in ${config.workers} client processes ` +
      `(set up in ${seconds(result.setup.connectMs)}, ${fmt(result.setup.subscriptions)} subscriptions); ` +
      `whole run ${seconds(result.durationMs)}.`,
    '',
  );

  lines.push(
    "**Fan-out to real WebSocket clients** (one event; latency from the POST that creates the comment — or the first send of a baseline — to each client's receipt, one shared clock)",
    '',
    '| clients | path | p50 ms | p95 ms | p99 ms | max ms | deliveries/s | received | ours ÷ this (throughput) |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const row of result.fanOut) {
    const line = (label: string, s: typeof row.plainWs, share: string): string =>
      `| ${fmt(row.clients)} | ${label} | ${ms(s.p50Ms)} | ${ms(s.p95Ms)} | ${ms(s.p99Ms)} | ${ms(s.maxMs)} | ` +
      `${fmt(s.deliveriesPerSecond)} | ${fmt(s.received)}/${fmt(s.expected)} | ${share} |`;
    lines.push(line('**ours**: POST comment → broadcast handler → Management API', row.ours, ''));
    lines.push(
      line(
        `Management API alone (${config.ceilingConcurrency} in flight)`,
        row.managementApi,
        percent(row.throughputVsManagementApi),
      ),
    );
    lines.push(line('plain `ws` server', row.plainWs, percent(row.throughputVsPlainWs)));
  }
  lines.push('');

  const s = result.strategies;
  const ceiling = managementApiCeiling(result);
  const bound = strategyBoundOf(result);
  lines.push(
    `**Fan-out strategy under API Gateway's constraints** (every Management API call delayed ${s.latencyMs} ms, ` +
      `${fmt(s.rateLimitPerSecond)} calls/s before 429; budget ${seconds(s.budgetMs)} per strategy; ` +
      `bound = the lower of concurrency ${s.fanOutConcurrency} ÷ ${s.latencyMs} ms = ${fmt(s.theoreticalBoundPerSecond)}/s ` +
      `and the Management API ceiling measured in this run (${ceiling === null ? 'not measured' : `${fmt(ceiling)}/s, "Management API alone" above`}) = ` +
      `**${fmt(bound.perSecond)}/s**, set by the ${bound.limitedBy})`,
    '',
    `| connections | strategy | delivered | wall time | deliveries/s | of bound (${fmt(bound.perSecond)}/s) | retries | failed | lost |`,
    '| ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const row of s.rows) {
    const share = bound.perSecond > 0 ? row.deliveriesPerSecond / bound.perSecond : null;
    lines.push(
      `| ${fmt(row.audience)} | ${row.strategy === 'broadcast handler' ? '**ours: broadcast handler**' : row.strategy} | ` +
        `${fmt(row.delivered)}${row.capped ? ' (in budget)' : ''} | ${strategyWall(row)} | ${fmt(row.deliveriesPerSecond)} | ${percent(share)} | ` +
        `${row.retries === null ? 'n/a' : fmt(row.retries)} | ${fmt(row.failed)} | ${fmt(row.lost)} |`,
    );
  }
  lines.push('');

  const c = result.createLatency;
  lines.push(
    `**Comment create latency** (${fmt(c.rows[0]?.creates)} sequential POSTs per case, the two cases in turns; the comments API hands each change to the broadcast API with \`Prefer: respond-async\` and waits for that at most ${fmt(c.broadcastTimeoutMs)} ms)`,
    '',
    '| subscribers | p50 ms | p99 ms | max ms | fan-out complete (p50) | complete fan-outs | deliveries per subscriber per event |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const row of c.rows) {
    const perEvent = row.deliveriesPerSubscriberPerEvent ?? null;
    lines.push(
      `| ${fmt(row.subscribers)} | ${ms(row.p50Ms)} | ${ms(row.p99Ms)} | ${ms(row.maxMs)} | ` +
        `${row.subscribers ? `${ms(row.fanOutCompleteP50Ms)} ms` : '—'} | ${row.subscribers ? `${row.completeFanOuts}/${row.creates}` : '—'} | ` +
        `${perEvent === null ? '—' : fmt(perEvent, 2)} |`,
    );
  }
  lines.push('', `Loaded ÷ idle: p50 × ${fmt(c.p50Ratio, 2)}, p99 × ${fmt(c.p99Ratio, 2)}.`, '');

  const w = result.postWriteRate;
  if (w) {
    lines.push(
      `**Writes to one post**: ${fmt(w.writers)} writers creating comments on one post as fast as they are answered, for ${ms(w.durationMs)} ms: ` +
        `${fmt(w.created)} created (${fmt(w.createdPerSecond, 1)} per second), ${fmt(w.refused)} answered 503 with Retry-After, ` +
        `${fmt(w.otherFailures)} other failures; every created comment stored exactly once: ${w.seqGapless ? 'yes' : 'NO'}.`,
      '',
    );
  }

  const r = result.readCost;
  lines.push(
    `**Read cost of one broadcast** to a post with ${fmt(r.subscribers)} subscribers while ${fmt(r.liveConnections)} connections are live (${r.capacitySource})`,
    '',
    '| read | requests | items read | items returned | read capacity units | time ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    `| **ours**: consistent Query of the post's subscriber partition | ${fmt(r.query.requests)} | ${fmt(r.query.itemsRead)} | ${fmt(r.query.itemsReturned)} | ${fmt(r.query.consumedCapacityUnits, 1)} | ${ms(r.query.durationMs)} |`,
    `| Scan of the connections table (AWS samples) | ${fmt(r.scan.requests)} | ${fmt(r.scan.itemsRead)} | ${fmt(r.scan.itemsReturned)} | ${fmt(r.scan.consumedCapacityUnits, 1)} | ${ms(r.scan.durationMs)} |`,
    '',
    `The Scan costs ${fmt(r.capacityRatio, 1)} × the Query's read capacity.`,
    '',
  );

  const b = result.concurrentBroadcasts;
  lines.push(
    `**${fmt(b.broadcasts)} concurrent broadcasts** to a post with ${fmt(b.subscribers)} subscribers: all answered in ${ms(b.allAnsweredMs)} ms, ` +
      `last event received after ${ms(b.lastDeliveryMs)} ms; ${fmt(b.received)}/${fmt(b.expectedDeliveries)} events received ` +
      `(handler reported ${fmt(b.reportedDelivered)} delivered, ${fmt(b.failedRequests)} failed requests).`,
    '',
  );

  lines.push(...coldStartTable(result.coldStart));
  if (result.notes.length) {
    lines.push('', ...result.notes.map((note) => `- ${note}`));
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The cold-start table: each function as deployed (the AWS SDK bundled) beside the same entry bundled with
 * the SDK external (the runtime's SDK, the old way), both measured in the same run, and its module
 * initialisation against the baseline that only builds the same SDK clients.
 */
export function coldStartTable(rows: readonly ColdStartRow[]): string[] {
  const kib = (bytes: number | undefined): string => (bytes === undefined ? '—' : fmt(bytes / 1024, 1));
  const init = (measure: ColdStartMeasure | undefined): string =>
    measure === undefined ? '—' : measure.error ? `failed: ${measure.error}` : ms(measure.initMs);
  const verdict = (row: ColdStartRow): string => {
    if (row.initVsBaseline === null || row.initVsBaseline === undefined) return '—';
    if (row.kind === 'baseline') return fmt(row.initVsBaseline, 2);
    const within = row.initVsBaseline <= INIT_TARGET_VS_BASELINE;
    return `${fmt(row.initVsBaseline, 2)} ${within ? '✓' : '✗'}`;
  };
  const lines = [
    `**Cold start** (module initialisation: the \`require\` of the bundle in a fresh \`node\` with the function's environment, median of ${fmt(rows[0]?.runs)} rounds over every bundle; ` +
      '"SDK external" is the same entry bundled the old way, its AWS SDK loaded from node_modules as Lambda\'s runtime offers its own, measured in the same run; ' +
      "the baselines only build the same SDK clients, then those and Powertools, bundled as deployed: the first is the SDK's cost, the gap to the second Powertools', the gap from there to a function our own code's; " +
      `ratios on CPU time, which holds on a busy machine; target: ≤ ${fmt(INIT_TARGET_VS_BASELINE, 1)} × the SDK-only baseline)`,
    '',
    '| function | bundle KiB, SDK external → deployed | module init ms, SDK external → deployed | init CPU ms (deployed) | whole process ms (deployed) | init CPU ÷ baseline |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const row of rows) {
    const label = row.kind === 'baseline' ? row.function : `\`${row.function}\``;
    const sizes = row.sdkExternal
      ? `${kib(row.sdkExternal.bundleBytes)} → ${kib(row.bundleBytes)}`
      : kib(row.bundleBytes);
    const inits = row.sdkExternal ? `${init(row.sdkExternal)} → ${init(row)}` : init(row);
    lines.push(
      `| ${label} | ${sizes} | ${inits} | ${ms(row.initCpuMs)} | ${ms(row.processMs)} | ${verdict(row)} |`,
    );
  }
  return lines;
}

/** 1.2k, 35k, 250, 3.2: short labels for bars and ticks (no ".0" on round numbers). */
function compact(value: number): string {
  const short = (n: number, digits: number): string => fmt(n, Number.isInteger(n) ? 0 : digits);
  if (value >= 10_000) return `${fmt(value / 1000)}k`;
  if (value >= 1000) return `${short(Math.round(value / 100) / 10, 1)}k`;
  return value < 10 ? short(Math.round(value * 10) / 10, 1) : fmt(value);
}

interface Series {
  name: string;
  color: string;
  values: (number | null)[];
  /** Bars to mark with an asterisk (a strategy stopped by the time budget). */
  marked?: boolean[];
}

interface Panel {
  x: number;
  y: number;
  width: number;
  height: number;
  title: string;
  groups: string[];
  series: Series[];
  log: boolean;
  reference?: { value: number; label: string };
}

/** A grouped bar chart with value labels; log scale by decades or linear from zero. */
function panel({ x, y, width, height, title, groups, series, log, reference }: Panel): string {
  const top = y + 40;
  const bottom = y + height - 56;
  const left = x + 50;
  const right = x + width - 10;
  const values = series.flatMap((s) => s.values).filter((v): v is number => v !== null && v > 0);
  if (reference) values.push(reference.value);
  const out: string[] = [
    `<text x="${x + width / 2}" y="${y + 20}" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(title)}</text>`,
  ];
  if (values.length === 0) return out.join('\n');
  let scale: (v: number) => number;
  const ticks: number[] = [];
  if (log) {
    const low = Math.floor(Math.log10(Math.min(...values)));
    const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...values))));
    scale = (v) => bottom - ((Math.log10(Math.max(v, 10 ** low)) - low) / (high - low)) * (bottom - top);
    for (let e = low; e <= high; e += 1) ticks.push(10 ** e);
  } else {
    const max = Math.max(...values) * 1.1;
    const step = 10 ** Math.floor(Math.log10(max));
    const niceStep = max / step > 5 ? step : max / step > 2 ? step / 2 : step / 5;
    scale = (v) => bottom - (v / max) * (bottom - top);
    for (let t = 0; t <= max; t += niceStep) ticks.push(t);
  }
  for (const tick of ticks) {
    const ty = scale(tick);
    out.push(
      `<line x1="${left}" x2="${right}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#e9ecef"/>`,
      `<text x="${left - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#495057">${compact(tick)}</text>`,
    );
  }
  out.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#495057"/>`);
  const groupWidth = (right - left) / groups.length;
  const barWidth = Math.min(34, (groupWidth * 0.8) / series.length);
  groups.forEach((group, g) => {
    const groupLeft = left + g * groupWidth + (groupWidth - barWidth * series.length) / 2;
    series.forEach((s, i) => {
      const value = s.values[g];
      if (value === null || value === undefined || value <= 0) return;
      const bx = groupLeft + i * barWidth;
      const by = scale(value);
      out.push(
        `<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barWidth - 3).toFixed(1)}" height="${(bottom - by).toFixed(1)}" fill="${s.color}"><title>${escapeXml(`${s.name}, ${group}: ${compact(value)}`)}</title></rect>`,
        `<text x="${(bx + (barWidth - 3) / 2).toFixed(1)}" y="${(by - 4).toFixed(1)}" text-anchor="middle" font-size="10" fill="#212529">${compact(value)}${s.marked?.[g] ? '*' : ''}</text>`,
      );
    });
    out.push(
      `<text x="${(left + (g + 0.5) * groupWidth).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" font-size="12">${escapeXml(group)}</text>`,
    );
  });
  if (reference) {
    const ry = scale(reference.value);
    out.push(
      `<line x1="${left}" x2="${right}" y1="${ry.toFixed(1)}" y2="${ry.toFixed(1)}" stroke="#c92a2a" stroke-dasharray="6 4"/>`,
      `<text x="${right}" y="${(ry - 5).toFixed(1)}" text-anchor="end" font-size="11" fill="#c92a2a">${escapeXml(reference.label)}</text>`,
    );
  }
  let lx = left;
  series.forEach((s) => {
    out.push(
      `<rect x="${lx.toFixed(1)}" y="${bottom + 26}" width="10" height="10" fill="${s.color}"/>`,
      `<text x="${(lx + 14).toFixed(1)}" y="${bottom + 35}" font-size="11">${escapeXml(s.name)}</text>`,
    );
    // About 6.5 px per character at 11 px: enough for the legend entries not to overlap.
    lx += 28 + s.name.length * 6.5;
  });
  if (series.some((s) => s.marked?.some(Boolean))) {
    out.push(
      `<text x="${left}" y="${bottom + 52}" font-size="10" fill="#495057">* stopped at the time budget: rate within it</text>`,
    );
  }
  return out.join('\n');
}

const OURS = '#e8590c';
const MANAGEMENT = '#1c7ed6';
const PLAIN = '#868e96';

/** A hand-written SVG: fan-out throughput and time to the last client per audience, and the strategies. */
export function toSvg(result: BenchResult): string {
  const bound = strategyBoundOf(result);
  const width = 1200;
  const height = 420;
  const groups = result.fanOut.map((row) => `${compact(row.clients)} clients`);
  const strategyAudiences = [...new Set(result.strategies.rows.map((row) => row.audience))];
  const strategyRows = (name: StrategyRow['strategy']): (StrategyRow | undefined)[] =>
    strategyAudiences.map((audience) =>
      result.strategies.rows.find((row) => row.audience === audience && row.strategy === name),
    );
  const strategy = (name: StrategyRow['strategy']): Pick<Series, 'values' | 'marked'> => ({
    values: strategyRows(name).map((row) => row?.deliveriesPerSecond ?? null),
    marked: strategyRows(name).map((row) => row?.capped ?? false),
  });
  /** One bar series per fan-out path, each showing the same figure of its DeliveryStats. */
  const fanOutSeries = (figure: (stats: DeliveryStats) => number | null): Series[] => [
    { name: 'ours', color: OURS, values: result.fanOut.map((row) => figure(row.ours)) },
    {
      name: 'Management API',
      color: MANAGEMENT,
      values: result.fanOut.map((row) => figure(row.managementApi)),
    },
    { name: 'plain ws', color: PLAIN, values: result.fanOut.map((row) => figure(row.plainWs)) },
  ];
  const s = result.strategies;
  const panels = [
    panel({
      x: 0,
      y: 30,
      width: 400,
      height: height - 40,
      title: 'Fan-out throughput (deliveries/s, log)',
      groups,
      log: true,
      series: fanOutSeries((stats) => stats.deliveriesPerSecond),
    }),
    panel({
      x: 400,
      y: 30,
      width: 400,
      height: height - 40,
      title: 'Time to the last client (ms, log)',
      groups,
      log: true,
      series: fanOutSeries((stats) => stats.maxMs),
    }),
    panel({
      x: 800,
      y: 30,
      width: 400,
      height: height - 40,
      title: `Strategies at ${s.latencyMs} ms/call (deliveries/s)`,
      groups: strategyAudiences.map((audience) => `${compact(audience)} connections`),
      log: false,
      reference: {
        value: bound.perSecond,
        label: `bound ${compact(bound.perSecond)}/s (${bound.limitedBy})`,
      },
      series: [
        { name: 'ours (handler)', color: OURS, ...strategy('broadcast handler') },
        { name: 'sequential', color: '#f59f00', ...strategy('sequential loop') },
        { name: 'Promise.all', color: '#7048e8', ...strategy('Promise.all') },
      ],
    }),
  ];
  const m = result.machine;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="20" font-size="12" fill="#495057">${escapeXml(
      `Realtime comments, local stack: ${m.cpus} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${result.startedAt.slice(0, 10)}`,
    )}</text>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}

/** Writes <timestamp>.json/.svg/.md into `dir`, and latest.* copies when asked. */
export async function writeResults(
  result: BenchResult,
  dir: string,
  { latest }: { latest: boolean },
): Promise<WrittenResults> {
  await mkdir(dir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const files: WrittenResults = {
    json: path.join(dir, `${stamp}.json`),
    svg: path.join(dir, `${stamp}.svg`),
    markdown: path.join(dir, `${stamp}.md`),
  };
  await writeFile(files.json, `${JSON.stringify(result, null, 2)}\n`);
  await writeFile(files.svg, toSvg(result));
  await writeFile(files.markdown, toMarkdown(result));
  if (latest) {
    await copyFile(files.json, path.join(dir, 'latest.json'));
    await copyFile(files.svg, path.join(dir, 'latest.svg'));
    await copyFile(files.markdown, path.join(dir, 'latest.md'));
  }
  return files;
}
