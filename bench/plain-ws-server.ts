import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { sharedNow } from './worker-protocol';

/**
 * Baseline (a) of the fan-out: a plain `ws` server in the benchmark's process that writes the payload
 * straight to each socket. No Lambda, no HTTP hop, no DynamoDB: what this machine can push at most.
 * Clients connect with `?i=<pool index>` so that "the first N clients" means the same ones as in the
 * real system's audiences.
 */
export class PlainWebSocketServer {
  private readonly sockets = new Map<number, WebSocket>();

  private constructor(private readonly server: WebSocketServer) {
    server.on('connection', (socket, req) => {
      const index = Number(new URL(req.url ?? '/', 'http://local').searchParams.get('i'));
      if (!Number.isInteger(index) || index < 0) {
        socket.close(1008, 'missing ?i=');
        return;
      }
      this.sockets.set(index, socket);
      socket.once('close', () => {
        if (this.sockets.get(index) === socket) this.sockets.delete(index);
      });
      socket.on('error', () => socket.terminate());
    });
  }

  static async start(): Promise<PlainWebSocketServer> {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      server.once('listening', () => resolve());
      server.once('error', reject);
    });
    return new PlainWebSocketServer(server);
  }

  get url(): string {
    const { port } = this.server.address() as AddressInfo;
    return `ws://127.0.0.1:${port}/`;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Sends the payload to connections 0..n-1 and returns when the loop started (shared clock). */
  sendToFirst(n: number, payload: string): { startedAt: number; sent: number } {
    const startedAt = sharedNow();
    let sent = 0;
    for (let index = 0; index < n; index += 1) {
      const socket = this.sockets.get(index);
      if (!socket) continue;
      socket.send(payload);
      sent += 1;
    }
    return { startedAt, sent };
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets.values()) socket.terminate();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
