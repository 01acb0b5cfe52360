import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { instrumented } from '../shared/telemetry';
import { publishingWiringFromEnv } from '../fan-out/publishing-wiring';
import { publishStreamBatch } from './stream-batch';

const { publisher } = publishingWiringFromEnv();

/**
 * Time kept back from the invocation's own timeout: enough to answer with the batch's item failures
 * before Lambda cuts the run short (a cut-short run fails the whole batch, which only costs a retry).
 */
const ANSWER_MARGIN_MS = 2000;
/** When no context says how long is left (a test, a hand-made invocation). */
const DEFAULT_BUDGET_MS = 30_000;

/**
 * The durable publishing path: the comments table's stream, filtered to inserted event rows, delivers
 * every stored event here in seq order per post, and each one the fast path has not fanned out is fanned
 * out now (docs/fan-out.md, "Publishing").
 */
export const handler = instrumented(
  async (event: DynamoDBStreamEvent, context?: Context): Promise<DynamoDBBatchResponse> => {
    const budget = context?.getRemainingTimeInMillis() ?? DEFAULT_BUDGET_MS;
    return publishStreamBatch(event.Records ?? [], publisher, {
      deadline: Date.now() + Math.max(0, budget - ANSWER_MARGIN_MS),
    });
  },
);
