import type { SignatureV4 } from '@smithy/signature-v4';
import { executeApiSigner, signExecuteApiRequest } from '../../signing/execute-api-signer';
import { LOCAL_ACCESS_KEY_ID, LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY } from '../../local/auth/credentials';
import type { E2eTarget } from './target';

/** A SigV4 signer for the broadcast API; the local stack's own credentials unless told otherwise. */
export function broadcastSigner(
  accessKeyId = LOCAL_ACCESS_KEY_ID,
  secretAccessKey = LOCAL_SECRET_ACCESS_KEY,
): SignatureV4 {
  return executeApiSigner(LOCAL_REGION, { accessKeyId, secretAccessKey });
}

/** Signs a `POST /broadcast/comments` the way the comments Lambda does; returns the URL and headers to send. */
export async function signedBroadcast(
  target: E2eTarget,
  body: string,
  options: { signingDate?: Date; signer?: SignatureV4 } = {},
): Promise<{ url: URL; headers: Record<string, string> }> {
  const url = new URL(`${target.broadcastUrl}/broadcast/comments`);
  const headers = await signExecuteApiRequest(
    options.signer ?? broadcastSigner(),
    url.toString(),
    { method: 'POST', headers: { 'content-type': 'application/json' }, body },
    options.signingDate,
  );
  return { url, headers };
}
