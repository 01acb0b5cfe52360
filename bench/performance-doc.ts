import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { comparisonTable, type LabelledRun } from './comparison';
import { spliceBlocks } from './doc-blocks';
import { toMarkdown } from './report';
import type { BenchResult } from './result';

/**
 * Results kept from the commits before major changes, oldest first: docs/performance.md compares the
 * latest run with them. Each is a run's JSON as it wrote it, never edited.
 */
export const KEPT_RUNS: readonly { file: string; label: string }[] = [
  { file: 'before-fan-out-workers.json', label: 'before the fan-out workers' },
  { file: 'before-durable-publishing.json', label: 'before durable publishing' },
];

/** The generated blocks of docs/performance.md, for the run just made. */
export async function performanceBlocks(
  result: BenchResult,
  resultsDir: string,
): Promise<Record<'latest' | 'history', string>> {
  const kept: LabelledRun[] = await Promise.all(
    KEPT_RUNS.map(async ({ file, label }) => ({
      label,
      result: JSON.parse(await readFile(path.join(resultsDir, file), 'utf8')) as BenchResult,
    })),
  );
  return {
    latest: toMarkdown(result),
    history: comparisonTable([...kept, { label: 'latest', result }]),
  };
}

/** Writes the run's tables and the before/after table into the document, between their `bench:` markers. */
export async function updatePerformanceDoc(
  docFile: string,
  result: BenchResult,
  resultsDir: string,
): Promise<void> {
  const blocks = await performanceBlocks(result, resultsDir);
  await writeFile(docFile, spliceBlocks(await readFile(docFile, 'utf8'), 'bench', blocks));
}
