/**
 * `npm run token -- <userId> [--expires-in <seconds>]`: prints a token from the local issuer for the
 * local stack described by its outputs file (local-outputs.json, or LOCAL_OUTPUTS_FILE as `npm start` was
 * given it), ready for `Authorization: Bearer <token>` on the comments API and `?token=<token>` on the
 * WebSocket URL. Anything wrong prints why on stderr, prints no token and exits 1.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ID_PATTERN, isValidId } from '../contracts/protocol';
import { DEFAULT_KEYS_FILE, LocalIssuer } from './auth/local-issuer';
import { readOutputsFile } from './launch/outputs-file';
import { DEFAULT_OUTPUTS_FILE } from './local-stack-options';

async function main(): Promise<void> {
  const [userId, flag, value] = process.argv.slice(2);
  if (!isValidId(userId)) {
    throw new Error(
      `Usage: npm run token -- <userId> [--expires-in <seconds>]; userId must match ${ID_PATTERN.source}`,
    );
  }
  const expiresInSeconds = flag === '--expires-in' ? Number(value) : 3600;
  if (!Number.isInteger(expiresInSeconds)) throw new Error('--expires-in takes a whole number of seconds');
  const outputsFile = path.resolve(process.env.LOCAL_OUTPUTS_FILE || DEFAULT_OUTPUTS_FILE);
  if (!existsSync(outputsFile)) {
    throw new Error(
      `${outputsFile} not found: start the local stack first (npm start), whose outputs name the issuer the ` +
        'token is for; if it was started with LOCAL_OUTPUTS_FILE=<file>, set the same here',
    );
  }
  const outputs = readOutputsFile(outputsFile);
  const issuer = outputs.optional('AuthIssuer');
  const audience = outputs.optional('AuthAudience');
  if (!issuer || !audience) throw new Error(`${outputsFile} names no local issuer; restart the local stack`);
  const localIssuer = await LocalIssuer.load({
    issuer,
    audience,
    // The stack names its keys in its outputs, so a stack started with LOCAL_ISSUER_KEYS_FILE needs nothing more.
    keysFile: path.resolve(
      process.env.LOCAL_ISSUER_KEYS_FILE || outputs.optional('IssuerKeysFile') || DEFAULT_KEYS_FILE,
    ),
  });
  process.stdout.write(`${await localIssuer.issueToken(userId, { expiresInSeconds })}\n`);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
