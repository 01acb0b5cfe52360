import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { requireEnv } from '../../contracts/env-reader';
import { countMetric, logger } from '../shared/telemetry';
import { MetricNames } from '../../contracts/telemetry-names';
import type { HttpTransport } from './broadcast-client';

/** Static credentials, or a provider of them (the SDK's provider chains are such providers). */
export type SigningCredentials = ConstructorParameters<typeof SignatureV4>[0]['credentials'];

/** IAM-authorised API Gateway APIs (HTTP, REST and WebSocket) verify SigV4 under this service name. */
export const EXECUTE_API_SERVICE = 'execute-api';

/**
 * Set by the Lambda runtime itself (and by the local stack for its workers), not by our constructs,
 * which is why it is not one of EnvNames.
 */
export const REGION_ENV = 'AWS_REGION';

export interface SigV4TransportOptions {
  region: string;
  /**
   * @default defaultProvider() of @aws-sdk/credential-provider-node, the Node provider chain (what
   * fromNodeProviderChain of @aws-sdk/credential-providers wraps): in Lambda, the function role's
   * credentials from the environment, memoised and refreshed before they expire.
   */
  credentials?: SigningCredentials;
  /** Sends the signed request. @default global fetch, looked up per request */
  send?: HttpTransport;
  /** The signing time. @default now */
  clock?: () => Date;
}

/** The signing failed: no credentials could be resolved, typically. The request was not sent. */
export class RequestSigningError extends Error {
  constructor(cause: unknown) {
    super(`Could not sign the request: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'RequestSigningError';
  }
}

export function regionFromEnv(env: Record<string, string | undefined> = process.env): string {
  return requireEnv(REGION_ENV, env);
}

const fetchTransport: HttpTransport = (url, request) => fetch(url, request);

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

/**
 * An HttpTransport that signs every request with SigV4 for execute-api, then sends it: what an API with
 * AWS_IAM authorization requires. Signed: method, host, path, query, the request's headers and a hash of
 * the body. Credentials are resolved (and cached, and refreshed) by the provider; build one transport per
 * cold start. A signing failure is logged and counted here, then rejected like any transport failure,
 * which the broadcast client logs and swallows: the comment write it follows is never failed by it.
 */
export function createSigV4Transport({
  region,
  credentials = defaultProvider(),
  send = fetchTransport,
  clock = () => new Date(),
}: SigV4TransportOptions): HttpTransport {
  if (region.trim() === '') throw new Error('SigV4 signing needs a region');
  const signer = executeApiSigner(region, credentials);

  return async (url, request) => {
    let headers: Record<string, string>;
    try {
      headers = await signExecuteApiRequest(signer, url, request, clock());
    } catch (error) {
      logger.error('Could not sign request', {
        url,
        errorName: (error as Error).name,
        error: error as Error,
      });
      countMetric(MetricNames.requestSigningFailures);
      throw new RequestSigningError(error);
    }
    return send(url, { ...request, headers });
  };
}
