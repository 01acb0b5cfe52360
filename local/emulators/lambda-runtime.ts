import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { LocalFunction } from '../cloudformation/local-model';

export class LambdaInvocationError extends Error {
  constructor(
    readonly functionKey: string,
    name: string,
    message: string,
    stack?: string,
  ) {
    super(message);
    this.name = name;
    if (stack) this.stack = stack;
  }
}

interface Pending {
  /** The execution environment running the invocation: only its end fails the invocation. */
  worker: Worker;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Thrown when the local stack starts with functions that could not load: a stack that prints `ready` must
 * be able to run every function it serves. The message names each one and says why.
 */
export class FunctionLoadError extends Error {
  constructor(readonly failures: readonly { functionKey: string; message: string }[]) {
    super(
      `${failures.length} function(s) failed to load, so the local stack did not start:\n` +
        failures.map(({ functionKey, message }) => `  ${functionKey}: ${message}`).join('\n'),
    );
    this.name = 'FunctionLoadError';
  }
}

/** Throws a FunctionLoadError naming every function whose bundle did not load; call once all are ready. */
export function assertFunctionsLoaded(
  lambdas: Iterable<Pick<LocalLambda, 'definition' | 'initError'>>,
): void {
  const failures = [...lambdas]
    .filter((lambda) => lambda.initError)
    .map((lambda) => ({ functionKey: lambda.definition.key, message: lambda.initError?.message ?? '' }));
  if (failures.length > 0) throw new FunctionLoadError(failures);
}

/**
 * Where a bundle's external modules are found. NodejsFunction leaves the AWS SDK out of each bundle, as
 * Lambda's Node.js runtime provides it through NODE_PATH; the project's own node_modules play that part, so
 * a bundle loads wherever the cloud assembly is written (LOCAL_ASSEMBLY_DIR may be outside the project).
 */
export const RUNTIME_NODE_PATH = path.resolve(__dirname, '..', '..', 'node_modules');

type WorkerMessage =
  | { ready: true; initError?: { name: string; message: string; stack?: string } }
  | { id: string; result?: unknown; error?: { name: string; message: string; stack?: string } };

/**
 * One local Lambda function: its bundled code in a worker thread with the function's own environment
 * (as resolved from the template) on top of the local stack's base environment (endpoints, dummy
 * credentials). Invocations are concurrent within the worker, like a warm function under light load.
 * The worker is the function's execution environment: when it ends (crash(), or a handler that exits the
 * runtime), the invocations in flight fail with Runtime.ExitError and the next invocation starts a new one,
 * a cold start, as Lambda replaces a crashed environment.
 */
export class LocalLambda {
  /** The execution environment; undefined once it has ended, until the next invocation starts one. */
  private worker: Worker | undefined;
  /** The environment whose init phase is over: invocations go to it at once. */
  private initialised: Worker | undefined;
  private readonly pending = new Map<string, Pending>();
  /** Set by stop(): no invocation will ever run again. */
  private stopped = false;
  private loadError: LambdaInvocationError | undefined;
  /**
   * Settles once the bundle has been loaded (in the latest execution environment) or has failed to:
   * resolves either way, as Lambda deploys a function whose init fails and reports the failure on each
   * invocation (see initError); rejects only if the runtime itself dies before it gets that far.
   */
  ready: Promise<void>;

  constructor(
    readonly definition: LocalFunction,
    private readonly baseEnv: Record<string, string>,
  ) {
    const { worker, ready } = this.startEnvironment();
    this.worker = worker;
    this.ready = ready;
  }

  /** A new worker that loads the bundle: Lambda's init phase. */
  private startEnvironment(): { worker: Worker; ready: Promise<void> } {
    const { definition, baseEnv } = this;
    const { functionName } = definition;
    this.loadError = undefined;
    const worker = new Worker(path.join(__dirname, 'lambda-worker.cjs'), {
      env: {
        NODE_PATH: RUNTIME_NODE_PATH,
        ...baseEnv,
        ...definition.environment,
        AWS_LAMBDA_FUNCTION_NAME: functionName,
      },
      workerData: {
        assetDir: definition.assetDir,
        handler: definition.handler,
        functionName,
        timeoutSeconds: definition.timeoutSeconds,
        memorySize: 256,
      },
    });
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: WorkerMessage): void => {
        if ('ready' in message) {
          worker.off('message', onMessage);
          worker.off('exit', onEarlyExit);
          this.initialised = worker;
          if (message.initError) {
            // Lambda reports an init failure on every invocation, not at deploy time; do the same, but say it now.
            console.error(`[local] ${definition.key} failed to initialise: ${message.initError.message}`);
            const { name, message: text, stack } = message.initError;
            this.loadError = new LambdaInvocationError(definition.key, name, text, stack);
          }
          resolve();
        }
      };
      // A bundle that ends its runtime while loading would otherwise leave `ready` pending for ever.
      const onEarlyExit = (code: number): void =>
        reject(new Error(`The runtime of ${definition.key} exited with code ${code} while loading`));
      worker.on('message', onMessage);
      worker.once('error', reject);
      worker.once('exit', onEarlyExit);
    });
    worker.on('message', (message: WorkerMessage) => {
      if (!('id' in message)) return;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      this.pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.error) {
        pending.reject(
          new LambdaInvocationError(
            definition.key,
            message.error.name,
            message.error.message,
            message.error.stack,
          ),
        );
      } else {
        pending.resolve(message.result);
      }
    });
    worker.on('error', (error) => this.rejectPending(worker, error));
    // Without this, invocations in flight when the worker exits would wait for their timeout timers and
    // then report a timeout that never happened (and keep the process alive until then).
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.rejectPending(worker, this.exitError(`exited with code ${code}`));
    });
    return { worker, ready };
  }

  private exitError(what: string): LambdaInvocationError {
    const { key } = this.definition;
    return new LambdaInvocationError(key, 'Runtime.ExitError', `The runtime of ${key} ${what}`);
  }

  /** Why the bundle did not load (set once `ready` has resolved); every invocation fails with it. */
  get initError(): LambdaInvocationError | undefined {
    return this.loadError;
  }

  private rejectPending(worker: Worker, error: Error): void {
    for (const [id, pending] of this.pending) {
      if (pending.worker !== worker) continue;
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }

  invoke<T = unknown>(event: unknown): Promise<T> {
    if (this.stopped) return Promise.reject(this.exitError('was stopped'));
    let worker = this.worker;
    if (!worker) {
      const started = this.startEnvironment();
      worker = this.worker = started.worker;
      this.ready = started.ready;
    }
    if (this.initialised === worker) return this.run<T>(worker, event);
    // The timeout counts from the end of the init phase, which Lambda limits on its own.
    return this.ready.then(() => this.run<T>(worker, event));
  }

  private run<T>(worker: Worker, event: unknown): Promise<T> {
    // The environment ended (or stop() came) while this invocation waited for its init.
    if (this.stopped || this.worker !== worker) return Promise.reject(this.exitError('exited'));
    const id = randomUUID();
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new LambdaInvocationError(
            this.definition.key,
            'TimeoutError',
            `Task timed out after ${this.definition.timeoutSeconds} seconds`,
          ),
        );
      }, this.definition.timeoutSeconds * 1000);
      this.pending.set(id, { worker, resolve: resolve as (value: unknown) => void, reject, timer });
      worker.postMessage({ id, event, requestId: id });
    });
  }

  /**
   * Ends the execution environment as a crash does: the invocations in flight fail with Runtime.ExitError,
   * and the next invocation starts a new environment (a cold start). Resolves once the worker has ended.
   */
  async crash(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.worker?.terminate();
  }
}
