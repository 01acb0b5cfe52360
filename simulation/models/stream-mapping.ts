import type { DynamoDBBatchResponse, DynamoDBRecord } from 'aws-lambda';
import type { VirtualClock } from '../clock';
import { lognormal, type LatencySpec, type Random } from '../random';
import type { LambdaModel } from './lambda';

/**
 * The comments table's stream and its event source mapping to the publisher: a record becomes visible
 * after the stream's delay; the mapping polls, cuts batches of `batchSize`, runs up to
 * `parallelizationFactor` of them at once (one shard here), and retries what a batch reports as failed
 * (ReportBatchItemFailures) from that record on. A throttled invocation is retried as well.
 */
export interface StreamMappingSettings {
  /** From the commit to the record being readable by the mapping's poller. */
  readonly delay: LatencySpec;
  readonly pollIntervalMs: number;
  readonly batchSize: number;
  readonly parallelizationFactor: number;
  readonly maxRetryAttempts: number;
  readonly retryDelayMs: number;
}

export interface StreamMappingStats {
  invocations: number;
  throttled: number;
  retriedRecords: number;
  /** Records given up on: named in the mapping's failure queue. */
  failedRecords: number;
}

interface Pending {
  readonly record: DynamoDBRecord;
  attempts: number;
}

export class StreamMappingModel {
  readonly stats: StreamMappingStats = { invocations: 0, throttled: 0, retriedRecords: 0, failedRecords: 0 };
  private readonly delay: () => number;
  private readonly pending: Pending[] = [];
  private inFlight = 0;
  private pollScheduled = false;

  constructor(
    private readonly clock: VirtualClock,
    random: Random,
    private readonly lambda: LambdaModel,
    private readonly functionName: string,
    private readonly settings: StreamMappingSettings,
  ) {
    this.delay = lognormal(settings.delay, random.fork('delay'));
  }

  put(record: DynamoDBRecord): void {
    this.clock.schedule(this.delay(), () => {
      this.pending.push({ record, attempts: 0 });
      this.schedulePoll(this.settings.pollIntervalMs * 0.5);
    });
  }

  private schedulePoll(delayMs: number): void {
    if (this.pollScheduled) return;
    this.pollScheduled = true;
    this.clock.schedule(delayMs, () => {
      this.pollScheduled = false;
      this.poll();
    });
  }

  private poll(): void {
    while (this.inFlight < this.settings.parallelizationFactor && this.pending.length > 0) {
      const batch = this.pending.splice(0, this.settings.batchSize);
      this.inFlight += 1;
      void this.deliver(batch).finally(() => {
        this.inFlight -= 1;
        if (this.pending.length > 0) this.schedulePoll(this.settings.pollIntervalMs);
      });
    }
    if (this.pending.length > 0) this.schedulePoll(this.settings.pollIntervalMs);
  }

  private async deliver(batch: Pending[]): Promise<void> {
    this.stats.invocations += 1;
    const outcome = await this.lambda.invoke(this.functionName, { Records: batch.map((p) => p.record) });
    let retryFrom = batch.length;
    if (outcome.throttled) {
      this.stats.throttled += 1;
      retryFrom = 0;
    } else if (outcome.failed) {
      retryFrom = 0;
    } else {
      const failure = (outcome.result as DynamoDBBatchResponse | undefined)?.batchItemFailures?.[0];
      if (failure) {
        const index = batch.findIndex((p) => p.record.dynamodb?.SequenceNumber === failure.itemIdentifier);
        retryFrom = index < 0 ? 0 : index;
      }
    }
    const retry = batch.slice(retryFrom);
    if (retry.length === 0) return;
    await this.clock.sleep(this.settings.retryDelayMs);
    const kept: Pending[] = [];
    for (const pending of retry) {
      pending.attempts += outcome.throttled ? 0 : 1;
      if (pending.attempts > this.settings.maxRetryAttempts) this.stats.failedRecords += 1;
      else kept.push(pending);
    }
    this.stats.retriedRecords += kept.length;
    this.pending.unshift(...kept);
  }
}
