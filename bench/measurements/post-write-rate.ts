import type { MeasurementContext } from '../measurement-context';
import type { PostWriteRateReport } from '../result';
import { round } from '../stats';
import { createPost, listAllComments, tryCreateComment } from '../target';

/**
 * How fast one post takes changes: many writers create comments on one post as fast as they are answered.
 * Each change takes the post's next seq in one transaction; writers of one post in one function instance
 * take turns, and across instances the transaction's condition decides. What the writers see is either 201
 * or, past the rate one post takes, 503 with Retry-After; never a 500, and every 201 is stored exactly once.
 */
export async function measurePostWriteRate(context: MeasurementContext): Promise<PostWriteRateReport> {
  const { config, target } = context;
  const writers = config.postWriteRateWriters;
  const durationMs = config.postWriteRateMs;
  const post = await createPost(target, 'bench-rate-owner', 'write rate');
  let created = 0;
  let refused = 0;
  let otherFailures = 0;
  context.log(`writes to one post: ${writers} writers for ${durationMs} ms …`);
  const started = Date.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let n = 0; Date.now() - started < durationMs; n += 1) {
        const status = await tryCreateComment(
          target,
          `bench-rate-${writer}`,
          post.id,
          `w${writer}-${n}`,
        ).catch(() => 0);
        if (status === 201) created += 1;
        else if (status === 503) refused += 1;
        else otherFailures += 1;
      }
    }),
  );
  const elapsed = Date.now() - started;
  const stored = await listAllComments(target, post.id);
  return {
    writers,
    durationMs: elapsed,
    created,
    refused,
    otherFailures,
    createdPerSecond: round(created / (elapsed / 1000), 1) ?? 0,
    seqGapless: stored.length === created && new Set(stored.map((c) => c.content)).size === stored.length,
  };
}
