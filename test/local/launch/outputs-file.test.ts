import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  findOutput,
  readOutputsFile,
  writeOutputsFile,
  type StackOutputs,
} from '../../../local/launch/outputs-file';

/** Two stacks, as `cdk deploy --outputs-file` writes them: outputs are looked up across both. */
const OUTPUTS: StackOutputs = {
  'App-Realtime': { WebSocketUrl: 'wss://abc.execute-api.eu-west-1.amazonaws.com/dev', Empty: '' },
  LocalStack: { FaultsUrl: 'http://localhost:3001/_local/faults' },
};

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'outputs-file-'));
  file = path.join(dir, 'outputs.json');
  writeFileSync(file, JSON.stringify(OUTPUTS));
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('readOutputsFile', () => {
  it('finds a required output in whichever stack has it', () => {
    // Act
    const outputs = readOutputsFile(file);

    // Assess
    expect(outputs.required('WebSocketUrl')).toBe('wss://abc.execute-api.eu-west-1.amazonaws.com/dev');
    expect(outputs.required('FaultsUrl')).toBe('http://localhost:3001/_local/faults');
    expect(outputs.outputs).toEqual(OUTPUTS);
  });

  it('refuses a missing or empty required output, naming it and the file', () => {
    // Prepare
    const outputs = readOutputsFile(file);

    // Act / Assess
    expect(() => outputs.required('TokenUrl')).toThrow(`Output TokenUrl missing from ${file}`);
    expect(() => outputs.required('Empty')).toThrow(`Output Empty missing from ${file}`);
  });

  it('answers undefined for a missing or empty optional output', () => {
    // Prepare
    const outputs = readOutputsFile(file);

    // Act / Assess
    expect(outputs.optional('TokenUrl')).toBeUndefined();
    expect(outputs.optional('Empty')).toBeUndefined();
    expect(outputs.optional('FaultsUrl')).toBe('http://localhost:3001/_local/faults');
  });
});

describe('findOutput', () => {
  it('takes the first stack that has the key', () => {
    // Act
    const value = findOutput({ A: { Key: 'first' }, B: { Key: 'second' } }, 'Key');

    // Assess
    expect(value).toBe('first');
  });
});

describe('writeOutputsFile', () => {
  it('writes what readOutputsFile reads, as indented JSON', async () => {
    // Act
    await writeOutputsFile(file, OUTPUTS);

    // Assess
    expect(readFileSync(file, 'utf8')).toBe(`${JSON.stringify(OUTPUTS, null, 2)}\n`);
    expect(readOutputsFile(file).outputs).toEqual(OUTPUTS);
  });
});
