import * as path from 'node:path';
import { LocalLambda } from '../../../local/emulators/lambda-runtime';
import type { LocalFunction } from '../../../local/cloudformation/local-model';

/** LocalLambda's execution environment ending (crash(), or a handler that exits) and being replaced. */

const BUNDLE_DIR = path.join(__dirname, 'fixtures', 'echo-bundle');

const definition = (handler: string): LocalFunction => ({
  key: 'Test/Echo',
  functionName: 'Test-Echo',
  logicalId: 'Echo',
  stackName: 'Test',
  assetDir: BUNDLE_DIR,
  handler,
  environment: {},
  timeoutSeconds: 30,
});

describe('LocalLambda execution environments', () => {
  const started: LocalLambda[] = [];

  async function start(handler: string): Promise<LocalLambda> {
    const lambda = new LocalLambda(definition(handler), {});
    started.push(lambda);
    await lambda.ready;
    return lambda;
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((lambda) => lambda.stop()));
  });

  it('crash() fails every invocation in flight with Runtime.ExitError', async () => {
    // Prepare
    const lambda = await start('index.slow');
    const first = lambda.invoke({});
    const second = lambda.invoke({});

    // Act
    await lambda.crash();

    // Assess
    await expect(first).rejects.toMatchObject({ name: 'Runtime.ExitError', functionKey: 'Test/Echo' });
    await expect(second).rejects.toMatchObject({ name: 'Runtime.ExitError' });
  });

  it('runs the next invocation after crash() in a new environment: a cold start', async () => {
    // Prepare
    const lambda = await start('index.counts');
    await lambda.invoke({});
    const warm = await lambda.invoke<{ served: number }>({});

    // Act
    await lambda.crash();
    const afterCrash = await lambda.invoke<{ served: number }>({});
    const next = await lambda.invoke<{ served: number }>({});

    // Assess
    expect(warm.served).toBe(2);
    expect(afterCrash.served).toBe(1);
    expect(next.served).toBe(2);
  });

  it('replaces an environment whose handler ended the runtime', async () => {
    // Prepare
    const exits = await start('index.exits');
    await expect(exits.invoke({})).rejects.toMatchObject({ name: 'Runtime.ExitError' });

    // Act
    const again = exits.invoke({});

    // Assess: a new environment ran it (and exited again), rather than a dead one refusing it.
    await expect(again).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      message: 'The runtime of Test/Echo exited with code 3',
    });
  });

  it('starts no environment once stopped, crashed or not', async () => {
    // Prepare
    const lambda = await start('index.counts');
    await lambda.crash();

    // Act
    await lambda.stop();

    // Assess
    await expect(lambda.invoke({})).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      message: 'The runtime of Test/Echo was stopped',
    });
  });

  it('crash() of an environment already gone does nothing', async () => {
    // Prepare
    const lambda = await start('index.counts');
    await lambda.crash();

    // Act
    const crashAgain = lambda.crash();

    // Assess
    await expect(crashAgain).resolves.toBeUndefined();
    await expect(lambda.invoke<{ served: number }>({})).resolves.toEqual({ served: 1 });
  });
});
