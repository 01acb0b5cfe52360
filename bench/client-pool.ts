import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sleep } from '../contracts/backoff';
import { REPO_ROOT } from '../local/launch/local-stack-process';
import type { ConnectionSpec, WorkerMessage, WorkerReply, WorkerRequest } from './worker-protocol';

/** A request without its id (the handle assigns one); distributive, so each kind keeps its own fields. */
type RequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

const WORKER_SCRIPT = path.join(__dirname, 'client-worker.ts');
const TSX_LOADER = pathToFileURL(path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 100;

class WorkerHandle {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (r: WorkerReply) => void; reject: (e: Error) => void }
  >();
  readonly ready: Promise<void>;
  private exited = false;

  constructor(
    readonly child: ChildProcess,
    onProgress: (message: Extract<WorkerMessage, { kind: 'progress' }>) => void,
  ) {
    this.ready = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('client worker not ready in time')), READY_TIMEOUT_MS);
      child.on('message', (message: WorkerMessage) => {
        if (message.kind === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (message.kind === 'progress') {
          onProgress(message);
        } else {
          const waiter = this.pending.get(message.id);
          this.pending.delete(message.id);
          waiter?.resolve(message);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        this.exited = true;
        const error = new Error(`client worker exited with ${code}`);
        reject(error);
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
      });
    });
  }

  request<T extends WorkerReply>(body: RequestBody): Promise<T> {
    if (this.exited) return Promise.reject(new Error('client worker has exited'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: WorkerReply) => void, reject });
      this.child.send({ ...body, id } as WorkerRequest);
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.disconnect();
    const killer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  }
}

export interface OpenResult {
  opened: number;
  failed: number;
  errors: string[];
}

/**
 * WebSocket clients held in worker processes apart from the server's, so that the fan-out's receiving
 * end does not share an event loop with its sending end. Connection i lives in worker i mod W, so any
 * prefix of the pool (an audience) is spread evenly across the workers.
 */
export class ClientPool {
  private progress = new Map<string, { opened: number; failed: number }[]>();

  private readonly workers: WorkerHandle[];

  private constructor(
    count: number,
    private readonly log: (line: string) => void,
  ) {
    this.workers = Array.from({ length: count }, (_, index) => {
      const child = fork(WORKER_SCRIPT, [], {
        execArgv: ['--import', TSX_LOADER],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      return new WorkerHandle(child, (message) => this.onProgress(index, message));
    });
  }

  static async start(count: number, log: (line: string) => void): Promise<ClientPool> {
    const pool = new ClientPool(count, log);
    try {
      await Promise.all(pool.workers.map((worker) => worker.ready));
    } catch (error) {
      await pool.stop();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  private onProgress(worker: number, message: { pool: string; opened: number; failed: number }): void {
    const counts = this.progress.get(message.pool);
    if (counts) counts[worker] = { opened: message.opened, failed: message.failed };
  }

  /** Opens (and subscribes) the connections, each in worker index mod W; logs progress every 2 s. */
  async open(
    pool: string,
    url: string,
    connections: ConnectionSpec[],
    options: { queryIndex: boolean; concurrency: number; timeoutMs: number; label: string },
  ): Promise<OpenResult> {
    const shares = this.workers.map(() => [] as ConnectionSpec[]);
    for (const spec of connections) shares[spec.index % this.workers.length]?.push(spec);
    this.progress.set(
      pool,
      this.workers.map(() => ({ opened: 0, failed: 0 })),
    );
    const started = Date.now();
    const ticker = setInterval(() => {
      const counts = this.progress.get(pool) ?? [];
      const opened = counts.reduce((sum, c) => sum + c.opened, 0);
      const failed = counts.reduce((sum, c) => sum + c.failed, 0);
      const rate = opened / Math.max(0.001, (Date.now() - started) / 1000);
      this.log(
        `${options.label} ${opened}/${connections.length}${failed ? ` (${failed} failed)` : ''} ` +
          `… ${rate.toFixed(0)}/s`,
      );
    }, 2_000);
    try {
      const replies = await Promise.all(
        this.workers.map((worker, index) =>
          worker.request<Extract<WorkerReply, { opened: number }>>({
            kind: 'open',
            pool,
            url,
            queryIndex: options.queryIndex,
            connections: shares[index] ?? [],
            concurrency: options.concurrency,
            timeoutMs: options.timeoutMs,
          }),
        ),
      );
      return {
        opened: replies.reduce((sum, r) => sum + r.opened, 0),
        failed: replies.reduce((sum, r) => sum + r.failed, 0),
        errors: replies.flatMap((r) => r.errors),
      };
    } finally {
      clearInterval(ticker);
      this.progress.delete(pool);
    }
  }

  /** Events received per marker, summed over the workers. */
  async counts(markers: string[]): Promise<Record<string, number>> {
    const replies = await Promise.all(
      this.workers.map((worker) =>
        worker.request<Extract<WorkerReply, { counts: unknown }>>({ kind: 'counts', markers }),
      ),
    );
    const total: Record<string, number> = Object.fromEntries(markers.map((marker) => [marker, 0]));
    for (const reply of replies) {
      for (const [marker, count] of Object.entries(reply.counts))
        total[marker] = (total[marker] ?? 0) + count;
    }
    return total;
  }

  /** Receipt times (shared clock, epoch ms) per marker, from every worker. */
  async times(markers: string[]): Promise<Record<string, number[]>> {
    const replies = await Promise.all(
      this.workers.map((worker) =>
        worker.request<Extract<WorkerReply, { times: unknown }>>({ kind: 'times', markers }),
      ),
    );
    const merged: Record<string, number[]> = Object.fromEntries(markers.map((marker) => [marker, []]));
    for (const reply of replies) {
      for (const [marker, times] of Object.entries(reply.times)) merged[marker]?.push(...times);
    }
    return merged;
  }

  async forget(markers: string[]): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.request({ kind: 'forget', markers })));
  }

  /**
   * Waits until every marker has reached its expected count, or (with quietMs) nothing more has arrived
   * for that long, or the timeout passes. Returns the counts then; what is missing is lost.
   */
  async waitForDeliveries(
    expected: Record<string, number>,
    { timeoutMs, quietMs }: { timeoutMs: number; quietMs?: number },
  ): Promise<Record<string, number>> {
    const markers = Object.keys(expected);
    const deadline = Date.now() + timeoutMs;
    let lastTotal = -1;
    let lastChange = Date.now();
    for (;;) {
      const counts = await this.counts(markers);
      if (markers.every((marker) => (counts[marker] ?? 0) >= (expected[marker] ?? 0))) return counts;
      const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
      if (total !== lastTotal) {
        lastTotal = total;
        lastChange = Date.now();
      }
      if (quietMs !== undefined && Date.now() - lastChange >= quietMs) return counts;
      if (Date.now() >= deadline) return counts;
      await sleep(POLL_MS);
    }
  }

  async closePool(pool: string, graceful: boolean): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.request({ kind: 'closePool', pool, graceful })));
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop()));
  }
}
