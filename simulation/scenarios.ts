import type { ClientCpuCosts } from './models/environment';
import { deployedFunctions, localStackSettings, type BenchFile } from './local-stack';
import {
  AWS_SERVICES,
  PROD_STAGE,
  streamSettings,
  type FanOutStage,
  type SimulationSettings,
} from './settings';
import type { Workload } from './system';

/**
 * What `npm run simulate` runs. Every AWS scenario uses the AWS defaults of settings.ts and the prod stage
 * of lib/config/stage-config.ts unless it says otherwise; the local ones model the local stack the
 * benchmark measured, and are compared with it.
 */
export interface ScenarioSpec {
  readonly name: string;
  readonly label: string;
  readonly group: 'single post' | 'many posts' | 'local stack' | 'what-if' | 'scale check';
  readonly workload: Workload;
  readonly settings: SimulationSettings;
  /** Local stack scenarios: what the benchmark measured for the same fan-out. */
  readonly measured?: {
    readonly clients: number;
    readonly maxMs: number;
    readonly p50Ms: number;
    readonly ceilingPerSecond: number;
  };
  /** The 100,000-subscriber target: finish within this long (ms), nothing lost. */
  readonly targetMs?: number;
  /** Simulated as a 1:scale model (scale-model.ts), to keep a million connections within a minute. */
  readonly scale?: number;
}

/** The runs with a million connections are simulated at 1:10 (scale-model.ts). */
export const MILLION_SCALE = 10;

/** The prod fan-out settings before this simulation changed them (git show HEAD:lib/config/stage-config.ts). */
export const PREVIOUS_PROD_STAGE: FanOutStage = {
  ...PROD_STAGE,
  fanOutConcurrency: 50,
  fanOutBatchSize: 200,
  fanOutWorkerConcurrency: 20,
  fanOutRetry: { maxAttempts: 6, baseMs: 50, maxMs: 2_000 },
  fanOutMemoryMb: 256,
};

export interface ScenarioContext {
  readonly bench: BenchFile;
  readonly clientCpu: ClientCpuCosts;
  readonly seed: number;
}

const single = (subscribers: number, stream = true): Workload => ({
  posts: 1,
  subscribersPerPost: subscribers,
  stream,
});

export function awsSettings(
  context: ScenarioContext,
  {
    stage = PROD_STAGE,
    quotaPerSecond,
    otherTrafficPerSecond = 0,
    accountConcurrency,
    memoryMb,
  }: {
    stage?: FanOutStage;
    quotaPerSecond?: number;
    otherTrafficPerSecond?: number;
    accountConcurrency?: number;
    memoryMb?: number;
  } = {},
): SimulationSettings {
  const admission = AWS_SERVICES.managementApi.admission;
  const rate = quotaPerSecond ?? admission.ratePerSecond;
  return {
    seed: context.seed,
    stage,
    ...AWS_SERVICES,
    managementApi: {
      ...AWS_SERVICES.managementApi,
      // API Gateway sets the burst from the rate; the default pair is 10,000 / 5,000, so half the rate.
      admission: { ...admission, ratePerSecond: rate, burst: rate / 2, otherTrafficPerSecond },
    },
    lambda: {
      ...AWS_SERVICES.lambda,
      accountConcurrency: accountConcurrency ?? AWS_SERVICES.lambda.accountConcurrency,
    },
    stream: streamSettings(stage),
    functions: deployedFunctions(context.bench, memoryMb ?? stage.fanOutMemoryMb),
    clientCpu: context.clientCpu,
  };
}

/**
 * The stage settings docs/capacity.md recommends for a deployment of about 1M connected clients, with the
 * quota increases of MILLION_QUOTAS: every batch of a 1M broadcast runs at once.
 */
export const MILLION_STAGE: FanOutStage = {
  ...PROD_STAGE,
  fanOutBatchSize: 1_000,
  fanOutWorkerConcurrency: 1_000,
};

export const MILLION_QUOTAS = { quotaPerSecond: 100_000, accountConcurrency: 2_000 } as const;

/** For a deployment of about 1,000 clients the previous prod values are the better ones (docs/capacity.md). */
export const SMALL_STAGE: FanOutStage = PREVIOUS_PROD_STAGE;

export function scenarios(context: ScenarioContext): ScenarioSpec[] {
  const aws = awsSettings(context);
  const list: ScenarioSpec[] = [1_000, 10_000, 100_000, 1_000_000].map((subscribers) => ({
    name: `post-${subscribers}`,
    label: `1 post × ${subscribers.toLocaleString('en-US')} subscribers`,
    group: 'single post' as const,
    workload: single(subscribers),
    settings: aws,
    ...(subscribers === 100_000 ? { targetMs: 1.15 * ((subscribers / 10_000) * 1000) } : {}),
    ...(subscribers >= 1_000_000 ? { scale: MILLION_SCALE } : {}),
  }));
  const whatIf = (
    name: string,
    label: string,
    workload: Workload,
    settings: SimulationSettings,
    scale?: number,
  ): ScenarioSpec => ({
    name: `what-if-${name}`,
    label,
    group: 'what-if',
    workload,
    settings,
    ...(scale ? { scale } : {}),
  });
  const million = awsSettings(context, { stage: MILLION_STAGE, ...MILLION_QUOTAS });
  list.push(
    {
      name: 'posts-1000x1000',
      label: '1,000 posts × 1,000 subscribers, at once',
      group: 'many posts',
      workload: { posts: 1_000, subscribersPerPost: 1_000, stream: true },
      settings: aws,
      scale: MILLION_SCALE,
    },
    {
      name: 'check-100000-at-1-to-10',
      label: '1 post × 100,000, the scale model’s check',
      group: 'scale check',
      workload: single(100_000),
      settings: aws,
      scale: MILLION_SCALE,
    },
    whatIf(
      'warm-100000',
      '1 post × 100,000, functions warm from a broadcast minutes before',
      { ...single(100_000), warm: { broadcast: 1, worker: PROD_STAGE.fanOutWorkerConcurrency } },
      aws,
    ),
    whatIf(
      'previous-100000',
      '1 post × 100,000, the previous prod settings',
      single(100_000),
      awsSettings(context, { stage: PREVIOUS_PROD_STAGE }),
    ),
    whatIf(
      'previous-1000x1000',
      '1,000 posts × 1,000, the previous prod settings',
      { posts: 1_000, subscribersPerPost: 1_000, stream: true },
      awsSettings(context, { stage: PREVIOUS_PROD_STAGE }),
      MILLION_SCALE,
    ),
    whatIf(
      'small-stage-1000',
      '1 post × 1,000, the settings for ~1,000 clients',
      single(1_000),
      awsSettings(context, { stage: SMALL_STAGE }),
    ),
    // A ping is a WebSocket message and its pong a PostToConnection: two requests of the quota each.
    whatIf(
      'heartbeats-100000',
      '1 post × 100,000, while 100,000 clients ping every 60 s',
      single(100_000),
      awsSettings(context, { otherTrafficPerSecond: (100_000 * 2) / 60 }),
    ),
    whatIf(
      'api-down-1000',
      '1 post × 1,000, every push answered 500',
      { ...single(1_000), stream: false },
      { ...aws, managementApi: { ...aws.managementApi, errorShare: 1 } },
    ),
    whatIf(
      'million-raised-quotas',
      '1 post × 1,000,000, quota 100,000/s, 1M settings',
      single(1_000_000),
      million,
      MILLION_SCALE,
    ),
    whatIf(
      'million-raised-quotas-1769mb',
      '1 post × 1,000,000, quota 100,000/s, 1M settings, 1,769 MB',
      single(1_000_000),
      awsSettings(context, { stage: MILLION_STAGE, ...MILLION_QUOTAS, memoryMb: 1_769 }),
      MILLION_SCALE,
    ),
    whatIf(
      'target-1769mb',
      '1 post × 100,000, functions at 1,769 MB',
      single(100_000),
      awsSettings(context, { memoryMb: 1_769 }),
    ),
  );
  for (const clients of [1_000, 5_000]) {
    const row = context.bench.fanOut.find((r) => r.clients === clients);
    if (!row) continue;
    list.push({
      name: `local-${clients}`,
      label: `local stack, 1 post × ${clients.toLocaleString('en-US')} (bench stage: ${context.bench.config.stage})`,
      group: 'local stack',
      workload: single(clients),
      settings: localStackSettings(context.bench, clients, context.clientCpu, context.seed),
      measured: {
        clients,
        maxMs: row.ours.maxMs,
        p50Ms: row.ours.p50Ms,
        ceilingPerSecond: row.managementApi.deliveriesPerSecond,
      },
    });
  }
  return list;
}
