import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAULTS_PATH } from '../../../local/devtools/control-paths';
import { FaultControl } from '../../../local/devtools/fault-control';
import { NO_FAULTS, type FailureCounter } from '../../../local/devtools/faults';

/** A counted fault (`streamConsumerFailures`): setting it arms its counter, reading it says what is left. */

/** Failures armed and used, as LocalStreamMappings keeps them. */
class CountingFailures implements FailureCounter {
  armed: number[] = [];
  remaining = 0;

  arm(count: number): void {
    this.armed.push(count);
    this.remaining = count;
  }

  left(): number {
    return this.remaining;
  }

  /** One invocation used one failure. */
  use(): void {
    this.remaining = Math.max(0, this.remaining - 1);
  }
}

let server: Server | undefined;

async function serve(faults: FaultControl): Promise<string> {
  server = createServer((req, res) => {
    if (!faults.handle(req, res)) res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${FAULTS_PATH}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  if (server?.listening) await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

describe('FaultControl with a failure counter', () => {
  it('arms the count set at start (from the environment)', () => {
    // Prepare
    const counter = new CountingFailures();

    // Act
    const faults = new FaultControl(
      { ...NO_FAULTS, streamConsumerFailures: 4 },
      { streamConsumerFailures: counter },
    );

    // Assess
    expect(counter.armed).toEqual([4]);
    expect(faults.current().streamConsumerFailures).toBe(4);
  });

  it('arms that many failures on PUT, and GET shows how many are left', async () => {
    // Prepare
    const counter = new CountingFailures();
    const url = await serve(new FaultControl(NO_FAULTS, { streamConsumerFailures: counter }));

    // Act
    const put = await fetch(url, { method: 'PUT', body: '{"streamConsumerFailures":3}' });
    counter.use();
    const shown = (await (await fetch(url)).json()) as { streamConsumerFailures: number };

    // Assess
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ streamConsumerFailures: 3 });
    expect(counter.armed).toEqual([3]);
    expect(shown.streamConsumerFailures).toBe(2);
  });

  it('leaves the counter alone when an update does not name it', () => {
    // Prepare
    const counter = new CountingFailures();
    const faults = new FaultControl(NO_FAULTS, { streamConsumerFailures: counter });

    // Act
    faults.update({ goneRate: 0.5 });

    // Assess
    expect(counter.armed).toEqual([]);
  });

  it('disarms on DELETE', async () => {
    // Prepare
    const counter = new CountingFailures();
    const url = await serve(
      new FaultControl({ ...NO_FAULTS, streamConsumerFailures: 5 }, { streamConsumerFailures: counter }),
    );

    // Act
    const response = await fetch(url, { method: 'DELETE' });

    // Assess
    expect(await response.json()).toEqual(NO_FAULTS);
    expect(counter.armed).toEqual([5, 0]);
  });

  it('keeps the plain setting when no counter is bound', () => {
    // Prepare
    const faults = new FaultControl(NO_FAULTS);

    // Act
    const next = faults.update({ streamConsumerFailures: 2, crashAfterCommit: true });

    // Assess
    expect(next).toEqual({ ...NO_FAULTS, streamConsumerFailures: 2, crashAfterCommit: true });
  });
});
