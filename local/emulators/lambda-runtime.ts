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
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

type WorkerMessage =
  | { ready: true; initError?: { name: string; message: string; stack?: string } }
  | { id: string; result?: unknown; error?: { name: string; message: string; stack?: string } };

/**
 * One local Lambda function: its bundled code in a worker thread with the function's own environment
 * (as resolved from the template) on top of the local stack's base environment (endpoints, dummy
 * credentials). Invocations are concurrent within the worker, like a warm function under light load.
 */
export class LocalLambda {
  private readonly worker: Worker;
  private readonly pending = new Map<string, Pending>();
  /** Set once the worker has exited (stop() or a crash): nothing would ever answer an invocation. */
  private exitError: LambdaInvocationError | undefined;
  readonly ready: Promise<void>;

  constructor(
    readonly definition: LocalFunction,
    baseEnv: Record<string, string>,
  ) {
    const { functionName } = definition;
    this.worker = new Worker(path.join(__dirname, 'lambda-worker.cjs'), {
      env: { ...baseEnv, ...definition.environment, AWS_LAMBDA_FUNCTION_NAME: functionName },
      workerData: {
        assetDir: definition.assetDir,
        handler: definition.handler,
        functionName,
        timeoutSeconds: definition.timeoutSeconds,
        memorySize: 256,
      },
    });
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: WorkerMessage): void => {
        if ('ready' in message) {
          this.worker.off('message', onMessage);
          if (message.initError) {
            // Lambda reports an init failure on every invocation, not at deploy time; do the same, but say it now.
            console.error(`[local] ${definition.key} failed to initialise: ${message.initError.message}`);
          }
          resolve();
        }
      };
      this.worker.on('message', onMessage);
      this.worker.once('error', reject);
    });
    this.worker.on('message', (message: WorkerMessage) => {
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
    this.worker.on('error', (error) => this.rejectPending(error));
    // Without this, invocations in flight when the worker exits would wait for their timeout timers and
    // then report a timeout that never happened (and keep the process alive until then).
    this.worker.on('exit', (code) => {
      this.exitError = new LambdaInvocationError(
        definition.key,
        'Runtime.ExitError',
        `The runtime of ${definition.key} exited with code ${code}`,
      );
      this.rejectPending(this.exitError);
    });
  }

  private rejectPending(error: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(error);
      this.pending.delete(id);
    }
  }

  invoke<T = unknown>(event: unknown): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
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
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.worker.postMessage({ id, event, requestId: id });
    });
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}
