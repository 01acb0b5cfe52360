import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { EnvNames } from '../../contracts/env-names';
import { requireEnv, type Env } from '../../contracts/env-reader';
import { countMetric, logger } from '../shared/telemetry';
import { MetricNames } from '../../contracts/telemetry-names';
import type { HttpTransport } from './broadcast-client';
import {
  executeApiSigner,
  signExecuteApiRequest,
  type SigningCredentials,
} from '../../signing/execute-api-signer';

export { EXECUTE_API_SERVICE, type SigningCredentials } from '../../signing/execute-api-signer';

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

/** The region to sign for: the function's own, which Lambda sets (and the local stack, for its workers). */
export function regionFromEnv(env: Env = process.env): string {
  return requireEnv(EnvNames.region, env);
}

const fetchTransport: HttpTransport = (url, request) => fetch(url, request);

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
