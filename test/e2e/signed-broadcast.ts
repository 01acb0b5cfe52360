import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { LOCAL_ACCESS_KEY_ID, LOCAL_SECRET_ACCESS_KEY } from '../../local/local-stack';
import type { E2eTarget } from './target';

/** A SigV4 signer for the broadcast API; the local stack's own credentials unless told otherwise. */
export function broadcastSigner(
  accessKeyId = LOCAL_ACCESS_KEY_ID,
  secretAccessKey = LOCAL_SECRET_ACCESS_KEY,
): SignatureV4 {
  return new SignatureV4({
    service: 'execute-api',
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
  });
}

/** Signs a `POST /broadcast/comments` the way the comments Lambda does; returns the URL and headers to send. */
export async function signedBroadcast(
  target: E2eTarget,
  body: string,
  options: { signingDate?: Date; signer?: SignatureV4 } = {},
): Promise<{ url: URL; headers: Record<string, string> }> {
  const url = new URL(`${target.broadcastUrl}/broadcast/comments`);
  const signed = await (options.signer ?? broadcastSigner()).sign(
    {
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      port: Number(url.port),
      path: url.pathname,
      query: {},
      headers: { host: url.host, 'content-type': 'application/json' },
      body,
    },
    options.signingDate ? { signingDate: options.signingDate } : {},
  );
  return { url, headers: signed.headers as Record<string, string> };
}
