import { performance } from 'node:perf_hooks';
import { backoffDelay, type BackoffBounds } from '../../contracts/backoff';
import { isRecord } from '../../contracts/json';
import { pause, Wakeup } from './abortable-wait';
import {
  onFailureRecord,
  type ReadRecord,
  type StreamLambdaEvent,
  type StreamOnFailureRecord,
} from './stream-records';

/**
 * The batch side of a stream event source mapping: one lane's queue of records, cut into batches and handed
 * to the function one at a time, with Lambda's rules for partial batch responses, retries, bisection,
 * maximum record age and the on-failure destination
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html).
 */

/** The mapping's settings with defaults applied and units made uniform. */
export interface DeliverySettings {
  readonly batchSize: number;
  readonly batchingWindowMs: number;
  /** -1: retry until the record is too old (or forever). */
  readonly maxRetryAttempts: number;
  /** Infinity when MaximumRecordAgeInSeconds is -1. */
  readonly maxRecordAgeMs: number;
  readonly bisectOnFunctionError: boolean;
  readonly reportBatchItemFailures: boolean;
}

/** How one invocation ended, as the mapping sees it. */
export type InvocationResult =
  | { readonly requestId: string; readonly failed: false; readonly response: unknown }
  | {
      readonly requestId: string;
      readonly failed: true;
      readonly functionError: string;
      readonly message: string;
    };

/** Running totals the event source reports as its stats. */
export interface DeliveryCounters {
  recordsDelivered: number;
  retries: number;
  failuresReported: number;
  recordsGivenUp: number;
}

export interface DeliveryContext {
  readonly settings: DeliverySettings;
  readonly functionArn: string;
  readonly streamArn: string;
  readonly signal: AbortSignal;
  /** The clock of record ages and of on-failure timestamps (epoch ms). */
  readonly now: () => number;
  readonly retryBackoff: BackoffBounds;
  readonly random: () => number;
  readonly log: (message: string) => void;
  readonly invoke: (event: StreamLambdaEvent) => Promise<InvocationResult>;
  readonly reportFailure: (record: StreamOnFailureRecord) => Promise<void>;
  readonly counters: DeliveryCounters;
}

/** Part of a batch still to deliver, with what its failures so far count toward. */
interface PendingPart {
  records: readonly ReadRecord[];
  retries: number;
  invokeCount: number;
  lastRequestId: string | undefined;
  lastFunctionError: string | undefined;
}

type Verdict =
  | { readonly kind: 'success' }
  | { readonly kind: 'partial'; readonly failedFrom: number }
  | { readonly kind: 'failure'; readonly reason: string };

/**
 * Records of one lane (a whole shard, or one ParallelizationFactor lane of it), delivered strictly one batch
 * after the other: a batch that keeps failing blocks its lane, as on AWS.
 */
export class StreamLane {
  private readonly queue: { readonly read: ReadRecord; readonly queuedAt: number }[] = [];
  private inputEnded = false;
  private readonly arrivals = new Wakeup();
  /** Failed invocations in a row: the exponent of the delay before the next retry. */
  private consecutiveFailures = 0;

  constructor(private readonly context: DeliveryContext) {}

  /** Records queued or in the batch being delivered, not yet processed or given up. */
  get pending(): number {
    return this.queue.length;
  }

  /** The arrival time of the oldest record not finished yet, for the lag statistic. */
  get oldestArrivalMs(): number | undefined {
    return this.queue[0]?.read.arrivalMs;
  }

  push(read: ReadRecord): void {
    this.queue.push({ read, queuedAt: performance.now() });
    this.arrivals.notify();
  }

  /** No more records will come (the shard is closed): the last, smaller batch goes without waiting. */
  endInput(): void {
    this.inputEnded = true;
    this.arrivals.notify();
  }

  /** Delivers until the input has ended and everything is done, or until the event source stops. */
  async run(): Promise<void> {
    const { settings, signal } = this.context;
    while (!signal.aborted) {
      const first = this.queue[0];
      if (!first) {
        if (this.inputEnded) return;
        await this.arrivals.wait(signal);
        continue;
      }
      if (this.queue.length < settings.batchSize && !this.inputEnded) {
        const windowLeft = first.queuedAt + settings.batchingWindowMs - performance.now();
        if (windowLeft > 0) {
          await this.arrivals.wait(signal, windowLeft);
          continue;
        }
      }
      await this.deliver(this.queue.slice(0, settings.batchSize).map((entry) => entry.read));
    }
  }

  /**
   * Delivers one batch until every record in it is processed or given up (or the source stops). Parts are
   * settled in order and each from its front, so finished records always leave from the head of the queue.
   */
  private async deliver(batch: readonly ReadRecord[]): Promise<void> {
    const { settings, signal, counters } = this.context;
    const parts: PendingPart[] = [
      { records: batch, retries: 0, invokeCount: 0, lastRequestId: undefined, lastFunctionError: undefined },
    ];
    while (!signal.aborted) {
      const part = parts[0];
      if (!part) return;
      await this.giveUpExpired(part);
      if (part.records.length === 0) {
        parts.shift();
        continue;
      }
      const result = await this.context.invoke({ Records: part.records.map((read) => read.record) });
      part.invokeCount += 1;
      part.lastRequestId = result.requestId;
      part.lastFunctionError = result.failed ? result.functionError : undefined;
      const verdict = judge(result, part.records, settings.reportBatchItemFailures);
      if (verdict.kind === 'success') {
        this.finish(part.records.length);
        counters.recordsDelivered += part.records.length;
        this.consecutiveFailures = 0;
        parts.shift();
        continue;
      }
      this.consecutiveFailures += 1;
      if (verdict.kind === 'partial') {
        // Lambda checkpoints just before the lowest failed record and retries from there, bisect or not.
        this.finish(verdict.failedFrom);
        counters.recordsDelivered += verdict.failedFrom;
        part.records = part.records.slice(verdict.failedFrom);
      } else if (settings.bisectOnFunctionError && part.records.length > 1) {
        // "Splitting a batch does not consume the retry quota" (AWS): a poison record is cornered first, and
        // only it then uses up retries.
        const middle = Math.ceil(part.records.length / 2);
        parts.splice(
          0,
          1,
          { ...part, records: part.records.slice(0, middle) },
          { ...part, records: part.records.slice(middle) },
        );
        this.context.log(
          `${recordRange(part.records)} failed (${verdict.reason}); retrying it in two halves`,
        );
        counters.retries += 1;
        await this.pauseBeforeRetry();
        continue;
      }
      part.retries += 1;
      const reason = verdict.kind === 'partial' ? 'reported a batch item failure' : verdict.reason;
      if (settings.maxRetryAttempts >= 0 && part.retries > settings.maxRetryAttempts) {
        await this.giveUp(part, part.records, 'RetryAttemptsExhausted');
        parts.shift();
        continue;
      }
      this.context.log(`${recordRange(part.records)} failed (${reason}); retry ${part.retries}`);
      counters.retries += 1;
      await this.pauseBeforeRetry();
    }
  }

  /** Records are in arrival order, so the expired ones are a prefix. */
  private async giveUpExpired(part: PendingPart): Promise<void> {
    const { maxRecordAgeMs } = this.context.settings;
    if (!Number.isFinite(maxRecordAgeMs)) return;
    const now = this.context.now();
    const expired = part.records.findIndex((read) => now - read.arrivalMs <= maxRecordAgeMs);
    const expiredCount = expired === -1 ? part.records.length : expired;
    if (expiredCount === 0) return;
    await this.giveUp(part, part.records.slice(0, expiredCount), 'RecordAgeExceeded');
    part.records = part.records.slice(expiredCount);
  }

  private async giveUp(
    part: PendingPart,
    records: readonly ReadRecord[],
    condition: StreamOnFailureRecord['requestContext']['condition'],
  ): Promise<void> {
    const { counters, log } = this.context;
    this.finish(records.length);
    counters.failuresReported += 1;
    counters.recordsGivenUp += records.length;
    log(`${recordRange(records)} given up (${condition}) after ${part.invokeCount} invocation(s)`);
    const record = onFailureRecord({
      records,
      condition,
      requestId: part.lastRequestId ?? '',
      functionArn: this.context.functionArn,
      invokeCount: part.invokeCount,
      functionError: part.lastFunctionError,
      streamArn: this.context.streamArn,
      nowMs: this.context.now(),
    });
    try {
      await this.context.reportFailure(record);
    } catch (error) {
      // The records are skipped either way: a destination that cannot take them must not block the shard.
      log(`the on-failure destination refused ${recordRange(records)}: ${(error as Error).message}`);
    }
  }

  private finish(count: number): void {
    this.queue.splice(0, count);
  }

  private pauseBeforeRetry(): Promise<void> {
    const delay = backoffDelay(this.consecutiveFailures, this.context.retryBackoff, this.context.random);
    return pause(delay, this.context.signal);
  }
}

/**
 * Reads an invocation's outcome as Lambda does for streams. With ReportBatchItemFailures, no response, an
 * empty object, or a null or empty batchItemFailures is full success; an item that names no record of the
 * batch, or a response of another shape, fails the whole batch
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html).
 */
function judge(
  result: InvocationResult,
  records: readonly ReadRecord[],
  reportBatchItemFailures: boolean,
): Verdict {
  if (result.failed) return { kind: 'failure', reason: `${result.functionError}: ${result.message}` };
  const { response } = result;
  if (!reportBatchItemFailures || response === undefined || response === null) return { kind: 'success' };
  if (!isRecord(response)) return { kind: 'failure', reason: 'the response is not a batch response object' };
  const failures = response.batchItemFailures;
  if (failures === undefined || failures === null) return { kind: 'success' };
  if (!Array.isArray(failures)) return { kind: 'failure', reason: 'batchItemFailures is not a list' };
  if (failures.length === 0) return { kind: 'success' };
  let failedFrom = records.length;
  for (const failure of failures) {
    const identifier = isRecord(failure) ? failure.itemIdentifier : undefined;
    const index = records.findIndex((read) => read.record.dynamodb.SequenceNumber === identifier);
    if (index === -1) {
      return { kind: 'failure', reason: `itemIdentifier ${JSON.stringify(identifier)} is not in the batch` };
    }
    failedFrom = Math.min(failedFrom, index);
  }
  return { kind: 'partial', failedFrom };
}

function recordRange(records: readonly ReadRecord[]): string {
  const first = records[0]?.record.dynamodb.SequenceNumber;
  const last = records[records.length - 1]?.record.dynamodb.SequenceNumber;
  return records.length === 1 ? `record ${first}` : `${records.length} records ${first}..${last}`;
}
