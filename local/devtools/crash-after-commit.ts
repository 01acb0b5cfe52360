import type { IncomingMessage, ServerResponse } from 'node:http';
import { EnvNames } from '../../contracts/env-names';
import type { LocalLambda } from '../emulators/lambda-runtime';
import type { FaultSettings } from './faults';

/**
 * The `crashAfterCommit` fault: the comments function crashes right after it has committed a change, before
 * it has announced it. Its first act after a commit is a request to the broadcast API, so while the fault is
 * on, a request that reaches the broadcast API ends the calling function's execution environment before it
 * is answered: the change is stored, no broadcast is made, the invocations in flight fail as a crashed
 * function's do (Runtime.ExitError; a 502 to the API client) and the next invocation is a cold start. Only
 * the table's stream can then deliver the change.
 *
 * The callers are the functions whose template environment has BROADCAST_URL: the broadcast API is signed
 * with the same local credentials by every function, so its requests cannot name their caller, but only the
 * functions given its URL can call it.
 */
export interface CrashAfterCommitOptions {
  faults(): FaultSettings;
  /** Every function's runtime, by function key. */
  lambdas: ReadonlyMap<string, Pick<LocalLambda, 'definition' | 'crash'>>;
  log: (message: string) => void;
}

export class CrashAfterCommit {
  private readonly callers: Pick<LocalLambda, 'definition' | 'crash'>[];

  constructor(private readonly options: CrashAfterCommitOptions) {
    this.callers = [...options.lambdas.values()].filter(
      (lambda) => lambda.definition.environment[EnvNames.broadcastUrl] !== undefined,
    );
  }

  /** Keys of the functions that crash: those that call the broadcast API. */
  get callerKeys(): string[] {
    return this.callers.map((lambda) => lambda.definition.key);
  }

  /**
   * For a request that reached the broadcast API: while the fault is on, crashes the callers and drops the
   * request unanswered (its caller is gone), and returns true; otherwise returns false and does nothing.
   */
  handle(_req: IncomingMessage, res: ServerResponse): boolean {
    if (!this.options.faults().crashAfterCommit) return false;
    // The crash comes first: an answer, even a reset, could let the caller finish its invocation.
    Promise.all(this.callers.map((lambda) => lambda.crash()))
      .then(() => {
        this.options.log(`crashAfterCommit: crashed ${this.callerKeys.join(', ')} after its commit`);
      })
      .catch((error: Error) => this.options.log(`crashAfterCommit: ${error.message}`))
      .finally(() => res.destroy());
    return true;
  }
}
