import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { LocalFunction, LocalStreamMapping } from '../cloudformation/local-model';
import { DEAD_LETTERS_PATH } from '../devtools/control-paths';
import type { FailureCounter } from '../devtools/faults';
import type { LocalLambda } from './lambda-runtime';
import type { StreamDeadLetter } from './async-invocations';
import {
  LocalStreamEventSource,
  type LocalStreamEventSourceOptions,
  type StreamEventSourceStats,
} from './stream-event-source';

/**
 * The app's stream event source mappings, run locally: one LocalStreamEventSource per enabled mapping of the
 * model, reading its table's stream in DynamoDB Local and invoking the mapped function's runtime. What a
 * mapping gives up on goes to the dead-letter list the Invoke API keeps, tagged with the mapping's on-failure
 * destination. As a fault counter (`streamConsumerFailures`), it arms failures on every mapping at once.
 */

export interface StreamMappingsOptions {
  mappings: readonly LocalStreamMapping[];
  /** By function key: the mapped function's name goes into the on-failure records' functionArn. */
  functions: ReadonlyMap<string, LocalFunction>;
  /** By function key, as the gateways take them. */
  lambdas: ReadonlyMap<string, Pick<LocalLambda, 'invoke'>>;
  /** DynamoDB Local's Streams API. */
  client: DynamoDBStreamsClient;
  /** Receives what a mapping sends to its on-failure destination: the dead-letter list. */
  deadLetter(letter: StreamDeadLetter): void;
  region: string;
  accountId: string;
  log: (message: string) => void;
  /** Passed to every event source (poll interval, retry backoff, clock), mostly for tests. */
  tuning?: Pick<
    LocalStreamEventSourceOptions,
    'pollIntervalMs' | 'shardDiscoveryIntervalMs' | 'retryBackoff' | 'random' | 'now'
  >;
}

interface RunningMapping {
  readonly mapping: LocalStreamMapping;
  readonly fn: LocalFunction;
  readonly source: LocalStreamEventSource;
}

export class LocalStreamMappings implements FailureCounter {
  private readonly running: RunningMapping[] = [];
  private readonly disabled: LocalStreamMapping[];

  /** Throws, naming the mapping, when its function has no runtime or its settings would be refused. */
  constructor(private readonly options: StreamMappingsOptions) {
    this.disabled = options.mappings.filter((mapping) => !mapping.enabled);
    for (const mapping of options.mappings.filter((candidate) => candidate.enabled)) {
      const fn = options.functions.get(mapping.functionKey);
      const lambda = options.lambdas.get(mapping.functionKey);
      if (!fn || !lambda)
        throw new Error(`Stream mapping ${mapping.key}: no local runtime for ${mapping.functionKey}`);
      const source = new LocalStreamEventSource({
        ...options.tuning,
        client: options.client,
        streamArn: mapping.streamArn,
        settings: mapping.settings,
        invoke: (event) => lambda.invoke(event),
        onFailure: (record) => this.deadLetter(mapping, record),
        log: (message) => options.log(`stream mapping ${mapping.key}: ${message}`),
        functionArn: `arn:aws:lambda:${options.region}:${options.accountId}:function:${fn.functionName}`,
      });
      this.running.push({ mapping, fn, source });
    }
  }

  /** Starts reading every stream; resolves once each mapping has fixed its starting position. */
  async start(): Promise<void> {
    await Promise.all(this.running.map(({ source }) => source.start()));
    for (const { mapping, fn } of this.running) this.options.log(describe(mapping, fn));
    for (const mapping of this.disabled)
      this.options.log(`stream mapping ${mapping.key}: disabled (Enabled: false)`);
  }

  /** Stops polling; resolves once the invocations in flight have returned. */
  async stop(): Promise<void> {
    await Promise.all(this.running.map(({ source }) => source.stop()));
  }

  /** Sets how many of the next invocations of every mapping fail as if the function threw (0 disarms). */
  arm(count: number): void {
    for (const { source } of this.running) {
      source.clearInjectedFailures();
      source.failNextInvocations(count);
    }
  }

  /** The injected failures not used yet by the mapping that has the most left. */
  left(): number {
    return Math.max(0, ...this.running.map(({ source }) => source.injectedFailuresLeft));
  }

  /** Each running mapping's counts, by mapping key. */
  stats(): Record<string, StreamEventSourceStats> {
    return Object.fromEntries(this.running.map(({ mapping, source }) => [mapping.key, source.stats]));
  }

  private deadLetter(mapping: LocalStreamMapping, record: StreamDeadLetter): void {
    this.options.deadLetter(mapping.onFailure ? { ...record, destination: mapping.onFailure } : record);
    const batch = record.DDBStreamBatchInfo;
    this.options.log(
      `stream mapping ${mapping.key}: gave up on ${batch.batchSize} records of ${batch.shardId} ` +
        `(${record.requestContext.condition}) — see ${DEAD_LETTERS_PATH}`,
    );
  }
}

/** One line per mapping at start: what it reads, what it invokes, and how. */
function describe(mapping: LocalStreamMapping, fn: LocalFunction): string {
  const { settings } = mapping;
  const filters = settings.FilterCriteria?.Filters?.length ?? 0;
  const details = [
    settings.StartingPosition,
    `batch ${settings.BatchSize ?? 100}`,
    filters > 0 ? `${filters} filter${filters > 1 ? 's' : ''}` : 'no filter',
    `on failure → ${mapping.onFailure ?? DEAD_LETTERS_PATH}`,
  ];
  return `stream mapping ${mapping.key}: ${mapping.tableName} stream → ${fn.functionName} (${details.join(', ')})`;
}
