/**
 * How to stop what the local stack has started, in the reverse order of starting. The start pushes a step
 * as each part comes up, so a start that fails half-way, a signal that arrives during the start, and an
 * uncaught error after it all stop exactly what is running — whoever holds the list.
 */
export class StopSteps {
  private readonly steps: (() => Promise<void>)[] = [];

  push(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  /** Runs each step once, last pushed first; a step that fails is logged and the others still run. */
  async run(log: (message: string) => void): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      await step().catch((error: unknown) =>
        log(`stop: ${error instanceof Error ? error.message : String(error)}`),
      );
    }
  }
}
