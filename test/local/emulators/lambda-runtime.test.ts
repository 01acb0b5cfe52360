import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  assertFunctionsLoaded,
  FunctionLoadError,
  LambdaInvocationError,
  LocalLambda,
} from '../../../local/emulators/lambda-runtime';
import type { LocalFunction } from '../../../local/cloudformation/local-model';

const BUNDLE_DIR = path.join(__dirname, 'fixtures', 'echo-bundle');

interface EchoResult {
  event: unknown;
  env?: string;
  base?: string;
  functionName?: string;
  remaining: boolean;
}

function definition(overrides: Partial<LocalFunction> = {}): LocalFunction {
  return {
    key: 'Test/Echo',
    functionName: 'Test-Echo',
    logicalId: 'Echo',
    stackName: 'Test',
    assetDir: BUNDLE_DIR,
    handler: 'index.handler',
    environment: {},
    timeoutSeconds: 5,
    ...overrides,
  };
}

describe('LocalLambda', () => {
  const started: LocalLambda[] = [];

  async function start(fn: LocalFunction, baseEnv: Record<string, string> = {}): Promise<LocalLambda> {
    const lambda = new LocalLambda(fn, baseEnv);
    started.push(lambda);
    await lambda.ready;
    return lambda;
  }

  afterEach(async () => {
    await Promise.all(started.splice(0).map((lambda) => lambda.stop()));
    jest.restoreAllMocks();
  });

  it('runs the bundled handler with the event and a context that reports remaining time', async () => {
    // Prepare
    const lambda = await start(definition());

    // Act
    const result = await lambda.invoke<EchoResult>({ hello: 'world', n: [1, 2] });

    // Assess
    expect(result).toMatchObject({ event: { hello: 'world', n: [1, 2] }, remaining: true });
  });

  it('gives each function its own environment, on top of the base environment', async () => {
    // Prepare
    const baseEnv = { BASE_VAR: 'base', SOME_VAR: 'overridden' };
    const one = await start(
      definition({ key: 'Test/One', functionName: 'Test-One', environment: { SOME_VAR: 'one' } }),
      baseEnv,
    );
    const two = await start(
      definition({ key: 'Test/Two', functionName: 'Test-Two', environment: { SOME_VAR: 'two' } }),
      baseEnv,
    );

    // Act
    const [fromOne, fromTwo] = await Promise.all([one.invoke<EchoResult>({}), two.invoke<EchoResult>({})]);

    // Assess
    expect(fromOne).toMatchObject({ env: 'one', base: 'base', functionName: 'Test-One' });
    expect(fromTwo).toMatchObject({ env: 'two', base: 'base', functionName: 'Test-Two' });
    expect(process.env.SOME_VAR).toBeUndefined();
  });

  it("rejects with a LambdaInvocationError carrying the handler's error name and message", async () => {
    // Prepare
    const lambda = await start(definition({ handler: 'index.failing' }));

    // Act
    const invocation = lambda.invoke({ reason: 'no text' });

    // Assess
    await expect(invocation).rejects.toBeInstanceOf(LambdaInvocationError);
    await expect(invocation).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'bad input: no text',
      functionKey: 'Test/Echo',
    });
  });

  it('keeps serving after a failed invocation', async () => {
    // Prepare
    const lambda = await start(definition({ handler: 'index.failing' }));
    await lambda.invoke({ reason: 'first' }).catch(() => undefined);

    // Act
    const second = lambda.invoke({ reason: 'second' });

    // Assess
    await expect(second).rejects.toThrow('bad input: second');
  });

  it('rejects with a TimeoutError when the handler runs longer than the timeout', async () => {
    // Prepare
    const lambda = await start(definition({ handler: 'index.slow', timeoutSeconds: 1 }));

    // Act
    const invocation = lambda.invoke({});

    // Assess
    await expect(invocation).rejects.toBeInstanceOf(LambdaInvocationError);
    await expect(invocation).rejects.toMatchObject({
      name: 'TimeoutError',
      message: 'Task timed out after 1 seconds',
    });
  });

  it('reports a handler that is not exported on every invocation, as Lambda does', async () => {
    // Prepare
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const lambda = await start(definition({ handler: 'index.missing' }));

    // Act
    const invocation = lambda.invoke({});

    // Assess
    await expect(invocation).rejects.toThrow('index.missing is not a function');
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('Test/Echo failed to initialise'));
  });

  it('rejects with Runtime.ExitError when the handler ends the runtime', async () => {
    // Prepare
    const lambda = await start(definition({ handler: 'index.exits' }));

    // Act
    const invocation = lambda.invoke({});

    // Assess
    await expect(invocation).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      message: 'The runtime of Test/Echo exited with code 3',
    });
  });

  it('stop() terminates the worker: an invocation in flight and later ones are rejected', async () => {
    // Prepare
    const lambda = await start(definition({ handler: 'index.slow', timeoutSeconds: 30 }));
    const inFlight = lambda.invoke({});

    // Act
    await lambda.stop();

    // Assess
    await expect(inFlight).rejects.toMatchObject({ name: 'Runtime.ExitError' });
    await expect(lambda.invoke({})).rejects.toMatchObject({ name: 'Runtime.ExitError' });
  });

  describe('loading', () => {
    /** Bundles written outside the project, as with LOCAL_ASSEMBLY_DIR=/tmp/…: no node_modules above them. */
    let outside: string;

    beforeAll(() => {
      outside = mkdtempSync(path.join(tmpdir(), 'local-lambda-'));
      writeFileSync(
        path.join(outside, 'sdk.js'),
        // As an esbuild bundle with the AWS SDK kept external: a bare require, resolved at load time.
        "const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');\n" +
          'exports.handler = async () => typeof DynamoDBClient;\n',
      );
      writeFileSync(path.join(outside, 'broken.js'), "require('no-such-module-anywhere');\n");
      writeFileSync(path.join(outside, 'exits.js'), 'process.exit(4);\n');
    });

    afterAll(() => rmSync(outside, { recursive: true, force: true }));

    it("resolves a bundle's external AWS SDK from the project's node_modules, wherever the bundle is", async () => {
      // Prepare
      const lambda = await start(definition({ assetDir: outside, handler: 'sdk.handler' }));

      // Act
      const result = await lambda.invoke({});

      // Assess
      expect(lambda.initError).toBeUndefined();
      expect(result).toBe('function');
    });

    it('keeps why a bundle failed to load, and assertFunctionsLoaded names the function', async () => {
      // Prepare
      jest.spyOn(console, 'error').mockImplementation(() => undefined);
      const fine = await start(definition());
      const broken = await start(
        definition({ key: 'Test/Broken', assetDir: outside, handler: 'broken.handler' }),
      );

      // Act
      const check = (): void => assertFunctionsLoaded([fine, broken]);

      // Assess
      expect(broken.initError?.message).toContain("Cannot find module 'no-such-module-anywhere'");
      expect(check).toThrow(FunctionLoadError);
      expect(check).toThrow(/1 function\(s\) failed to load[\s\S]*Test\/Broken: Cannot find module/);
      expect(() => assertFunctionsLoaded([fine])).not.toThrow();
    });

    it('rejects ready, rather than waiting for ever, when the bundle ends its runtime while loading', async () => {
      // Prepare
      const lambda = new LocalLambda(definition({ assetDir: outside, handler: 'exits.handler' }), {});
      started.push(lambda);

      // Act
      const ready = lambda.ready;

      // Assess
      await expect(ready).rejects.toThrow('The runtime of Test/Echo exited with code 4 while loading');
    });
  });
});
