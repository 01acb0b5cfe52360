/**
 * `npm run token -- <userId> [--expires-in <seconds>]`: prints a token from the local issuer for the
 * local stack described by local-outputs.json (written by `npm start`), ready for
 * `Authorization: Bearer <token>` on the comments API and `?token=<token>` on the WebSocket URL.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { ID_PATTERN, isValidId } from '../contracts/protocol';
import { DEFAULT_KEYS_FILE, LocalIssuer } from './auth/local-issuer';
import { readOutputsFile } from './launch/outputs-file';

async function main(): Promise<void> {
  const [userId, flag, value] = process.argv.slice(2);
  if (!isValidId(userId)) {
    throw new Error(
      `Usage: npm run token -- <userId> [--expires-in <seconds>]; userId must match ${ID_PATTERN.source}`,
    );
  }
  const expiresInSeconds = flag === '--expires-in' ? Number(value) : 3600;
  if (!Number.isInteger(expiresInSeconds)) throw new Error('--expires-in takes a whole number of seconds');
  const outputsFile = path.resolve(process.env.LOCAL_OUTPUTS_FILE || 'local-outputs.json');
  if (!existsSync(outputsFile)) {
    throw new Error(
      `${outputsFile} not found: start the local stack first (npm start); tokens are bound to its issuer`,
    );
  }
  const outputs = readOutputsFile(outputsFile);
  const issuer = outputs.optional('AuthIssuer');
  const audience = outputs.optional('AuthAudience');
  if (!issuer || !audience) throw new Error(`${outputsFile} names no local issuer; restart the local stack`);
  const localIssuer = await LocalIssuer.load({
    issuer,
    audience,
    keysFile: path.resolve(process.env.LOCAL_ISSUER_KEYS_FILE || DEFAULT_KEYS_FILE),
  });
  process.stdout.write(`${await localIssuer.issueToken(userId, { expiresInSeconds })}\n`);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
