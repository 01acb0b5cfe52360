/** Latency and throughput of one fan-out, from its start and each client's receipt time (shared clock). */
export interface DeliveryStats {
  expected: number;
  received: number;
  lost: number;
  p50Ms: number | null;
  p95Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Received deliveries over the time from the start to the last receipt. */
  deliveriesPerSecond: number | null;
}

/** Nearest-rank percentile of ascending values. */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] ?? null;
}

export function median(values: readonly number[]): number | null {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

export const round = (value: number | null, digits = 1): number | null =>
  value === null ? null : Math.round(value * 10 ** digits) / 10 ** digits;

export function deliveryStats(
  startedAt: number,
  receipts: readonly number[],
  expected: number,
): DeliveryStats {
  const latencies = receipts.map((at) => at - startedAt).sort((a, b) => a - b);
  const maxMs = latencies.length ? (latencies[latencies.length - 1] ?? null) : null;
  return {
    expected,
    received: latencies.length,
    lost: Math.max(0, expected - latencies.length),
    p50Ms: round(percentile(latencies, 50)),
    p95Ms: round(percentile(latencies, 95)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(maxMs),
    deliveriesPerSecond: maxMs && maxMs > 0 ? Math.round((latencies.length / maxMs) * 1000) : null,
  };
}
