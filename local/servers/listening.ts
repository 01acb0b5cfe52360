import { createServer, type Server } from 'node:http';

/** Thrown when a port the local stack needs is taken: the message says which and how to choose another. */
export class PortInUseError extends Error {}

/**
 * Fails before anything starts when a port is taken, rather than after a minute of synthesis and
 * DynamoDB Local start-up. `envName` is the variable that moves it.
 */
export async function assertPortFree(port: number, purpose: string, envName: string): Promise<void> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new PortInUseError(
              `Port ${port} (${purpose}) is already in use — is another local stack running? ` +
                `Stop it, or choose another port with ${envName}=<port>.`,
            )
          : error,
      );
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** Loopback only: the local stack trusts every caller with its dev routes and its fixed credentials. */
export function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Closes a server without waiting for its clients: open keep-alive connections are cut. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
