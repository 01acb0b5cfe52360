import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * SigV4 for IAM-authorised API Gateway routes (execute-api), the one way this project signs such calls:
 * the comments function's calls to the broadcast API, the benchmark's and the e2e suite's. It needs only
 * the signing packages, so none of its users loads Lambda code, the local stack or aws-cdk-lib to sign.
 */

/** IAM-authorised API Gateway APIs (HTTP, REST and WebSocket) verify SigV4 under this service name. */
export const EXECUTE_API_SERVICE = 'execute-api';

/** Static credentials, or a provider of them (the SDK's provider chains are such providers). */
export type SigningCredentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

function queryOf(url: URL): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return query;
}

/** A SigV4 signer for IAM-authorised API Gateway routes. */
export function executeApiSigner(region: string, credentials: SigningCredentials): SignatureV4 {
  return new SignatureV4({
    service: EXECUTE_API_SERVICE,
    region,
    credentials,
    sha256: Hash.bind(null, 'sha256'),
  });
}

/**
 * The headers of `request` to `url`, signed: method, host, path, query, the given headers and a hash of the
 * body. The one way this project signs execute-api calls (the comments Lambda, the benchmark, the tests).
 */
export async function signExecuteApiRequest(
  signer: SignatureV4,
  url: string,
  request: { method: string; headers: Record<string, string>; body?: string },
  signingDate?: Date,
): Promise<Record<string, string>> {
  const target = new URL(url);
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port === '' ? undefined : Number(target.port),
      path: target.pathname,
      query: queryOf(target),
      // fetch derives Host from the URL (and ignores one passed in), so sign exactly that value.
      headers: { ...request.headers, host: target.host },
      body: request.body,
    },
    signingDate ? { signingDate } : {},
  );
  return signed.headers as Record<string, string>;
}
