import { fmt } from './format';
import type { BenchResult } from './result';

/** One run in a before/after table: a results file and what the code then was. */
export interface LabelledRun {
  label: string;
  result: BenchResult;
}

/** Milliseconds as the table shows them, unit included. */
const inMs = (value: number | null | undefined): string =>
  value === null || value === undefined ? '—' : `${fmt(value)} ms`;

function createRow(result: BenchResult, loaded: boolean) {
  const rows = result.createLatency.rows;
  return loaded ? rows.find((row) => row.subscribers > 0) : rows.find((row) => row.subscribers === 0);
}

/**
 * The measures that tell one version of the system from another, each as "label: value per run". Runs
 * written before a measure existed show "—" for it.
 */
const MEASURES: readonly {
  name: (runs: readonly LabelledRun[]) => string;
  value: (r: BenchResult) => string;
}[] = [
  { name: () => 'comment create p50, 0 subscribers', value: (r) => inMs(createRow(r, false)?.p50Ms) },
  {
    name: (runs) => `comment create p50, ${fmt(createRow(runs[0]!.result, true)?.subscribers)} subscribers`,
    value: (r) => inMs(createRow(r, true)?.p50Ms),
  },
  {
    name: (runs) => `comment create p99, ${fmt(createRow(runs[0]!.result, true)?.subscribers)} subscribers`,
    value: (r) => inMs(createRow(r, true)?.p99Ms),
  },
  {
    name: () => 'comment create, loaded ÷ idle: p50 / p99',
    value: (r) => `× ${fmt(r.createLatency.p50Ratio, 2)} / × ${fmt(r.createLatency.p99Ratio, 2)}`,
  },
  {
    name: () => 'copies of each event per subscriber',
    value: (r) => fmt(createRow(r, true)?.deliveriesPerSubscriberPerEvent, 2),
  },
  ...[1_000, 5_000].map((clients) => ({
    name: () => `fan-out to ${fmt(clients)} clients, p50 / max`,
    value: (r: BenchResult) => {
      const row = r.fanOut.find((candidate) => candidate.clients === clients)?.ours;
      return row ? `${fmt(row.p50Ms)} / ${fmt(row.maxMs)} ms` : '—';
    },
  })),
  {
    name: () => '10,000 connections at 20 ms per call: wall time',
    value: (r) => {
      const row = r.strategies.rows.find((s) => s.audience === 10_000 && s.strategy === 'broadcast handler');
      return row ? `${fmt(row.wallMs / 1000, 1)} s` : '—';
    },
  },
  {
    name: () => '100 concurrent broadcasts × 100 subscribers: all answered / all received',
    value: (r) =>
      `${fmt(r.concurrentBroadcasts.allAnsweredMs)} / ${fmt(r.concurrentBroadcasts.lastDeliveryMs)} ms`,
  },
  {
    name: () => 'writers on one post: comments created per second (503s)',
    value: (r) =>
      r.postWriteRate ? `${fmt(r.postWriteRate.createdPerSecond, 1)} (${fmt(r.postWriteRate.refused)})` : '—',
  },
];

/** A markdown table of the same measures across runs, oldest first, each column from its results file. */
export function comparisonTable(runs: readonly LabelledRun[]): string {
  if (runs.length === 0) return '';
  const header = `| measure | ${runs.map((run) => run.label).join(' | ')} |`;
  const rule = `| --- |${runs.map(() => ' ---: |').join('')}`;
  const rows = MEASURES.map(
    (measure) => `| ${measure.name(runs)} | ${runs.map((run) => measure.value(run.result)).join(' | ')} |`,
  );
  const provenance = runs
    .map((run) => {
      const busy = Math.round(run.result.machine.cpuBusyBeforeStart * 100);
      return `${run.label}: run of ${run.result.startedAt.slice(0, 16).replace('T', ' ')} UTC (CPU ${busy} % busy before it started)`;
    })
    .join('; ');
  return [header, rule, ...rows, '', `${provenance}.`].join('\n');
}
