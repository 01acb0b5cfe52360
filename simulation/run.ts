import './quiet-telemetry';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { spliceBlocks } from '../bench/doc-blocks';
import { calibrate, type Calibration } from './calibration';
import { readBench } from './local-stack';
import {
  documentBlocks,
  toMarkdown,
  type LocalComparison,
  type SimulationReport,
  type TargetOutcome,
} from './report';
import { PRICES, summarize, type ScenarioResult } from './results';
import { scenarios, type ScenarioSpec } from './scenarios';
import { parameters } from './settings';
import { toSvg } from './chart';
import { scaleDown, scaleUp } from './scale-model';
import { buildWorld, runWorld } from './system';

/**
 * `npm run simulate`: runs every scenario of scenarios.ts on the virtual clock, writes
 * simulation/results/latest.{json,svg,md} and regenerates the marked blocks of docs/capacity.md.
 *   --only a,b        run only these scenarios (results go to partial.json; nothing else is touched)
 *   --calibrate       measure the client CPU costs again (simulation/calibration.json)
 *   --seed N          another seed (default 1)
 */
const ROOT = path.resolve(__dirname, '..');
const RESULTS = path.join(ROOT, 'simulation', 'results');
const CALIBRATION = path.join(ROOT, 'simulation', 'calibration.json');
const BENCH = path.join(ROOT, 'bench', 'results', 'latest.json');
const CAPACITY_DOC = path.join(ROOT, 'docs', 'capacity.md');
/** The envelope the scenarios broadcast is a few hundred bytes: one 32 KB message each. */
const PAYLOAD_BYTES = 400;

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index < 0 ? undefined : (process.argv[index + 1] ?? '');
}

async function loadCalibration(force: boolean): Promise<Calibration> {
  if (!force && existsSync(CALIBRATION)) return JSON.parse(readFileSync(CALIBRATION, 'utf8')) as Calibration;
  console.log('calibrating client CPU per call (our adapters and the SDK, stubbed transport) …');
  const calibration = await calibrate();
  await writeFile(CALIBRATION, `${JSON.stringify(calibration, null, 2)}\n`);
  return calibration;
}

async function runScenario(spec: ScenarioSpec): Promise<ScenarioResult> {
  const started = performance.now();
  const scale = spec.scale ?? 1;
  const model = scaleDown(spec.settings, spec.workload, scale);
  const world = buildWorld(model.settings, model.workload);
  await runWorld(world);
  const result = scaleUp(
    summarize(world, {
      name: spec.name,
      label: scale > 1 ? `${spec.label} (1:${scale} model)` : spec.label,
      wallMs: performance.now() - started,
      payloadBytes: PAYLOAD_BYTES,
      scale,
    }),
    scale,
    spec.workload,
    spec.settings,
  );
  result.group = spec.group;
  const t = result.timing;
  console.log(
    `${spec.name.padEnd(34)} last ${((t.lastDeliveryMs ?? 0) / 1000).toFixed(2).padStart(7)} s, ` +
      `${result.outcomes.delivered} delivered, ${result.outcomes.deadLettered} dead-lettered, ${result.outcomes.lost} lost; ` +
      `binds: ${result.bindingLimit.resource} (${(result.run.wallMs / 1000).toFixed(1)} s)`,
  );
  return result;
}

function localComparison(
  specs: readonly ScenarioSpec[],
  results: readonly ScenarioResult[],
): LocalComparison[] {
  return specs.flatMap((spec) => {
    const result = results.find((r) => r.name === spec.name);
    if (!spec.measured || !result) return [];
    const simulated = result.timing.lastDeliveryMs;
    const error = simulated === null ? null : simulated / spec.measured.maxMs - 1;
    return [
      {
        clients: spec.measured.clients,
        measuredLastMs: spec.measured.maxMs,
        simulatedLastMs: simulated,
        error,
        within25Percent: error !== null && Math.abs(error) <= 0.25,
        measuredP50Ms: spec.measured.p50Ms,
        simulatedP50Ms: result.timing.p50DeliveryMs,
        ceilingPerSecond: spec.measured.ceilingPerSecond,
        bindingLimit: result.bindingLimit.resource,
      },
    ];
  });
}

function targetOutcome(
  specs: readonly ScenarioSpec[],
  results: readonly ScenarioResult[],
): TargetOutcome | null {
  const spec = specs.find((s) => s.targetMs !== undefined);
  const result = results.find((r) => r.name === spec?.name);
  if (!spec || !result || spec.targetMs === undefined) return null;
  const boundMs = spec.targetMs / 1.15;
  const last = result.timing.lastDeliveryMs;
  const { lost, deadLettered } = result.outcomes;
  return {
    scenario: spec.name,
    addressed: result.workload.addressed,
    boundMs,
    limitMs: spec.targetMs,
    lastDeliveryMs: last,
    ratioToBound: last === null ? null : last / boundMs,
    lost,
    deadLettered,
    met: last !== null && last <= spec.targetMs && lost === 0 && deadLettered === 0,
  };
}

async function main(): Promise<void> {
  const started = performance.now();
  const seed = Number(argument('seed') ?? 1);
  const only = argument('only')?.split(',').filter(Boolean);
  const calibration = await loadCalibration(process.argv.includes('--calibrate'));
  const bench = readBench(BENCH);
  const all = scenarios({ bench, clientCpu: calibration.costs, seed });
  const selected = only ? all.filter((spec) => only.includes(spec.name)) : all;
  if (selected.length === 0)
    throw new Error(`No scenario named ${only?.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`);
  const results: ScenarioResult[] = [];
  for (const spec of selected) results.push(await runScenario(spec));
  const report: SimulationReport = {
    schemaVersion: 1,
    generatedAt: new Date().toISOString(),
    seed,
    calibration,
    prices: PRICES,
    parameters: parameters(all[0]?.settings.functions ?? selected[0]!.settings.functions, calibration.costs),
    benchRun: bench.startedAt,
    scenarios: results,
    localComparison: localComparison(selected, results),
    target: targetOutcome(selected, results),
    durationMs: Math.round(performance.now() - started),
  };
  await mkdir(RESULTS, { recursive: true });
  if (only) {
    await writeFile(path.join(RESULTS, 'partial.json'), `${JSON.stringify(report, null, 2)}\n`);
    console.log(`wrote simulation/results/partial.json (${selected.length} scenarios)`);
    return;
  }
  await writeFile(path.join(RESULTS, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(path.join(RESULTS, 'latest.svg'), toSvg(report));
  await writeFile(path.join(RESULTS, 'latest.md'), toMarkdown(report));
  if (existsSync(CAPACITY_DOC)) {
    await writeFile(
      CAPACITY_DOC,
      spliceBlocks(readFileSync(CAPACITY_DOC, 'utf8'), 'simulation', documentBlocks(report)),
    );
  }
  console.log(
    `wrote simulation/results/latest.{json,svg,md} and docs/capacity.md's generated blocks in ${(report.durationMs / 1000).toFixed(0)} s`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
