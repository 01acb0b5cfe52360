import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { EnvNames } from '../../../contracts/env-names';
import type { LocalFunction } from '../../../local/cloudformation/local-model';
import { CrashAfterCommit } from '../../../local/devtools/crash-after-commit';
import { NO_FAULTS, type FaultSettings } from '../../../local/devtools/faults';
import { LocalLambda } from '../../../local/emulators/lambda-runtime';

const BUNDLE_DIR = path.join(__dirname, '..', 'emulators', 'fixtures', 'echo-bundle');

const definition = (key: string, environment: Record<string, string> = {}): LocalFunction => ({
  key,
  functionName: key.replace('/', '-'),
  logicalId: key.split('/')[1] ?? key,
  stackName: 'App',
  assetDir: BUNDLE_DIR,
  handler: 'index.calls',
  environment,
  timeoutSeconds: 10,
});

/** A runtime whose crash the test resolves when it wants. */
function fakeRuntime(key: string, environment: Record<string, string> = {}) {
  let finish = (): void => undefined;
  const crash = jest.fn(() => new Promise<void>((resolve) => (finish = resolve)));
  return { definition: definition(key, environment), crash, finishCrash: () => finish() };
}

describe('CrashAfterCommit', () => {
  let faults: FaultSettings;
  const logged: string[] = [];

  beforeEach(() => {
    faults = NO_FAULTS;
    logged.length = 0;
  });

  const fakeResponse = () => ({ destroy: jest.fn() });

  it('does nothing while the fault is off', () => {
    // Prepare
    const comments = fakeRuntime('App/Comments', { [EnvNames.broadcastUrl]: 'http://gateway/dev' });
    const crashes = new CrashAfterCommit({
      faults: () => faults,
      lambdas: new Map([[comments.definition.key, comments]]),
      log: (message) => logged.push(message),
    });
    const res = fakeResponse();

    // Act
    const taken = crashes.handle({} as never, res as unknown as ServerResponse);

    // Assess
    expect(taken).toBe(false);
    expect(comments.crash).not.toHaveBeenCalled();
    expect(res.destroy).not.toHaveBeenCalled();
  });

  it('crashes the functions given BROADCAST_URL, and only then drops the request unanswered', async () => {
    // Prepare
    faults = { ...NO_FAULTS, crashAfterCommit: true };
    const comments = fakeRuntime('App/Comments', { [EnvNames.broadcastUrl]: 'http://gateway/dev' });
    const broadcast = fakeRuntime('App/Broadcast');
    const crashes = new CrashAfterCommit({
      faults: () => faults,
      lambdas: new Map([
        [comments.definition.key, comments],
        [broadcast.definition.key, broadcast],
      ]),
      log: (message) => logged.push(message),
    });
    const res = fakeResponse();

    // Act
    const taken = crashes.handle({} as never, res as unknown as ServerResponse);
    await Promise.resolve();
    const destroyedBeforeTheCrash = res.destroy.mock.calls.length > 0;
    comments.finishCrash();
    await new Promise((resolve) => setImmediate(resolve));

    // Assess
    expect(taken).toBe(true);
    expect(crashes.callerKeys).toEqual(['App/Comments']);
    expect(comments.crash).toHaveBeenCalledTimes(1);
    expect(broadcast.crash).not.toHaveBeenCalled();
    expect(destroyedBeforeTheCrash).toBe(false);
    expect(res.destroy).toHaveBeenCalledTimes(1);
    expect(logged).toEqual(['crashAfterCommit: crashed App/Comments after its commit']);
  });
});

describe('CrashAfterCommit in front of a real runtime', () => {
  let server: Server;
  let lambda: LocalLambda;
  let faults: FaultSettings;

  beforeAll(async () => {
    faults = NO_FAULTS;
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dev/broadcast/comments`;
    lambda = new LocalLambda(definition('App/Comments', { [EnvNames.broadcastUrl]: url, CALL_URL: url }), {});
    await lambda.ready;
    const crashes = new CrashAfterCommit({
      faults: () => faults,
      lambdas: new Map([['App/Comments', lambda]]),
      log: () => undefined,
    });
    // The broadcast API as the gateway serves it: the fault first, then an answer.
    server.on('request', (req, res) => {
      if (!crashes.handle(req, res)) res.writeHead(200).end('{}');
    });
  });

  afterAll(async () => {
    await lambda?.stop();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('fails the calling invocation with Runtime.ExitError, and the next one runs in a new environment', async () => {
    // Prepare
    faults = { ...NO_FAULTS, crashAfterCommit: true };

    // Act
    const crashed = lambda.invoke({});
    await expect(crashed).rejects.toMatchObject({ name: 'Runtime.ExitError', functionKey: 'App/Comments' });
    faults = NO_FAULTS;
    const next = await lambda.invoke<{ status: number }>({});

    // Assess
    expect(next).toEqual({ status: 200 });
  });
});
