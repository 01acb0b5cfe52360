import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { REPO_ROOT } from '../../lib/constructs/handler-function';
import { cdkJsonContext } from '../lib/synth-stage';

/** Runs bin/app.ts the way the CDK CLI does: context in CDK_CONTEXT_JSON, output dir in CDK_OUTDIR. */
function runApp(context: Record<string, unknown>, env: Record<string, string>): SpawnSyncReturns<string> {
  // Whatever the CLI running jest may have set must not leak into the child.
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.CDK_DEFAULT_ACCOUNT;
  delete childEnv.CDK_DEFAULT_REGION;
  return spawnSync(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), ['bin/app.ts'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...childEnv, ...env, CDK_CONTEXT_JSON: JSON.stringify({ ...cdkJsonContext(), ...context }) },
  });
}

describe('bin/app.ts', () => {
  let outdir: string;

  beforeEach(() => {
    outdir = mkdtempSync(path.join(tmpdir(), 'realtime-comments-bin-'));
  });

  afterEach(() => {
    rmSync(outdir, { recursive: true, force: true });
  });

  it('fails on an unknown stage, listing the valid ones', () => {
    const result = runApp({ stage: 'qa' }, { CDK_OUTDIR: outdir });

    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('Unknown stage "qa". Valid stages: dev, prod');
  });

  it('synthesizes the dev stacks when no stage is given, pinned to the CLI account and region', () => {
    const result = runApp(
      {},
      { CDK_OUTDIR: outdir, CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'eu-west-1' },
    );

    expect(result.status).toBe(0);
    const manifest = JSON.parse(readFileSync(path.join(outdir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; environment?: string }>;
    };
    const stacks = Object.entries(manifest.artifacts).filter(
      ([, a]) => a.type === 'aws:cloudformation:stack',
    );
    expect(Object.fromEntries(stacks.map(([id, a]) => [id, a.environment]))).toEqual({
      'RealtimeComments-dev-Data': 'aws://123456789012/eu-west-1',
      'RealtimeComments-dev-Realtime': 'aws://123456789012/eu-west-1',
      'RealtimeComments-dev-CommentsApi': 'aws://123456789012/eu-west-1',
      'RealtimeComments-dev-Operations': 'aws://123456789012/eu-west-1',
    });
  });
});
