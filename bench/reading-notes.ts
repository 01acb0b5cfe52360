import type { CreateLatencyReport, MachineInfo, StrategyReport } from './result';

/** What a reader needs to read the numbers right; some notes depend on what was measured. */
export function readingNotes(
  machine: MachineInfo,
  create: CreateLatencyReport,
  strategies: StrategyReport,
): string[] {
  const notes = [
    `Everything shares this machine's ${machine.cpus} cores: the local stack (one process: gateway, functions in ` +
      'worker threads), DynamoDB Local (a JVM), the client processes and the benchmark. Absolute numbers are ' +
      "this machine's; the ratios between paths measured side by side are the point.",
    strategies.rows.some((row) => row.strategy === 'broadcast handler' && row.retries === null)
      ? 'Retries inside the broadcast handler cannot be seen from outside (its SDK client retries throttled ' +
        'calls by itself; its answer does not count them): n/a. The loops count theirs from the SDK ($metadata.attempts).'
      : 'The broadcast handler counts its own retries in its answer; the loops count theirs from the SDK ($metadata.attempts).',
    `The SDK's default HTTP agent opens at most 50 sockets per host, so "Promise.all" has at most 50 calls in ` +
      `flight, like the handler's FAN_OUT_CONCURRENCY (${strategies.fanOutConcurrency}); the rest queue in the agent.`,
  ];
  if (machine.cpuBusyBeforeStart > 0.2) {
    notes.push(
      `${Math.round(machine.cpuBusyBeforeStart * 100)} % of the CPU was busy with other work just before the ` +
        'run: the numbers are lower than on an idle machine.',
    );
  }
  if (create.p50Ratio !== null && create.p50Ratio > 2) {
    notes.push(
      `Creating a comment on a post with subscribers takes ${create.p50Ratio} × as long (p50): the comments API ` +
        `waits for the broadcast API's answer (at most ${create.broadcastTimeoutMs} ms), which comes after the ` +
        "broadcast's own work.",
    );
  }
  if (strategies.rows.some((row) => row.capped)) {
    notes.push(
      `Projected wall times are extrapolated from the rate reached within the ${strategies.budgetMs / 1000} s budget, ` +
        'not measured.',
    );
  }
  return notes;
}
