import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { comparisonTable } from '../../bench/comparison';
import { KEPT_RUNS, performanceBlocks } from '../../bench/performance-doc';
import type { BenchResult } from '../../bench/result';

const RESULTS = path.join(__dirname, '..', '..', 'bench', 'results');
const kept = (file: string): BenchResult =>
  JSON.parse(readFileSync(path.join(RESULTS, file), 'utf8')) as BenchResult;

describe('comparisonTable', () => {
  it('puts each run in its own column, with the figures of its own results file', () => {
    // Prepare
    const before = kept('before-fan-out-workers.json');
    const after: BenchResult = {
      ...before,
      createLatency: {
        ...before.createLatency,
        rows: before.createLatency.rows.map((row) => ({ ...row, p50Ms: row.subscribers ? 123 : 7 })),
      },
      postWriteRate: {
        writers: 8,
        durationMs: 5000,
        created: 400,
        refused: 3,
        otherFailures: 0,
        createdPerSecond: 80,
        seqGapless: true,
      },
    };

    // Act
    const table = comparisonTable([
      { label: 'before', result: before },
      { label: 'after', result: after },
    ]);

    // Assess
    const lines = table.split('\n');
    expect(lines[0]).toBe('| measure | before | after |');
    const loaded = before.createLatency.rows.find((row) => row.subscribers > 0);
    expect(lines).toContain(
      `| comment create p50, ${loaded?.subscribers.toLocaleString('en-US')} subscribers | ${Math.round(loaded?.p50Ms ?? 0).toLocaleString('en-US')} ms | 123 ms |`,
    );
    // A measure the older run did not have yet shows a dash, not a zero.
    expect(lines).toContain('| writers on one post: comments created per second (503s) | — | 80.0 (3) |');
    expect(table).toContain('before: run of 2026-');
  });

  it('is empty without runs', () => {
    expect(comparisonTable([])).toBe('');
  });
});

describe('performanceBlocks', () => {
  it('compares the run with every kept run, oldest first, and keeps its full tables', async () => {
    // Prepare
    const latest = kept(KEPT_RUNS[KEPT_RUNS.length - 1]!.file);

    // Act
    const blocks = await performanceBlocks(latest, RESULTS);

    // Assess
    expect(blocks.history.split('\n')[0]).toBe(
      `| measure | ${KEPT_RUNS.map((run) => run.label).join(' | ')} | latest |`,
    );
    expect(blocks.latest).toContain(`Run ${latest.startedAt.slice(0, 16).replace('T', ' ')} UTC`);
  });
});
