/**
 * Seeded randomness: every draw of a run comes from one seed, so a run is repeatable to the event. Each
 * model takes its own stream (`fork`), so changing how often one model draws does not reshuffle another.
 */
export interface Random {
  /** Uniform in [0, 1). */
  next(): number;
  /** An independent stream derived from this one's seed and `label`. */
  fork(label: string): Random;
}

/** mulberry32: small, fast, and good enough for queueing noise (not for cryptography). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, fork: (label) => seededRandom(hash32(`${seed}:${label}`)) };
}

/** FNV-1a, for deriving seeds from labels. */
export function hash32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A latency distribution given the way AWS and our bench report latency: by percentiles. */
export interface LatencySpec {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** z of the 99th percentile of the standard normal distribution. */
const Z99 = 2.3263478740408408;

/**
 * A lognormal sampler with the given median and 99th percentile (p99 = p50 gives a constant). Service
 * latencies are right-skewed with a long tail; a lognormal is the usual two-parameter fit.
 */
export function lognormal({ p50Ms, p99Ms }: LatencySpec, random: Random): () => number {
  if (!(p50Ms > 0) || p99Ms < p50Ms) throw new RangeError(`bad latency p50 ${p50Ms} / p99 ${p99Ms}`);
  const mu = Math.log(p50Ms);
  const sigma = Math.log(p99Ms / p50Ms) / Z99;
  if (sigma === 0) return () => p50Ms;
  return () => Math.exp(mu + sigma * standardNormal(random));
}

/** The mean of that lognormal, for bounds computed by hand (Little's law). */
export function lognormalMean({ p50Ms, p99Ms }: LatencySpec): number {
  const sigma = Math.log(p99Ms / p50Ms) / Z99;
  return p50Ms * Math.exp((sigma * sigma) / 2);
}

function standardNormal(random: Random): number {
  // Box-Muller; 1 - u keeps the logarithm finite.
  const u = 1 - random.next();
  const v = random.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}
