import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import type { LocalIssuer } from './local-issuer';
import { verifySigV4, type SignedRequest, type VerificationResult } from './sigv4-verifier';

/**
 * What API Gateway checks before a route's function runs, done locally: HTTP API JWT authorizers
 * (signature against the issuer's keys, issuer, audience or client_id, expiry) and AWS_IAM (SigV4 against
 * the local credentials). REQUEST (Lambda) authorizers are run for WebSocket $connect by
 * lambda-request-authorizer.ts.
 */
export interface RouteAuthorizers {
  /** Resolves the verified claims, or rejects. */
  verifyJwt(token: string, issuer: string, audience: readonly string[]): Promise<JWTPayload>;
  verifyIam(request: SignedRequest): Promise<VerificationResult>;
}

export class JwtRejectedError extends Error {}

export function createRouteAuthorizers(options: {
  localIssuer: LocalIssuer;
  /** access key id → secret: the credentials the local functions are given. */
  credentials: Record<string, string>;
}): RouteAuthorizers {
  const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  const keySetFor = (issuer: string) => {
    if (issuer === options.localIssuer.issuer) return options.localIssuer.keySet();
    let keySet = remoteKeySets.get(issuer);
    if (!keySet) {
      keySet = createRemoteJWKSet(new URL(`${issuer.replace(/\/$/, '')}/.well-known/jwks.json`));
      remoteKeySets.set(issuer, keySet);
    }
    return keySet;
  };
  return {
    async verifyJwt(token, issuer, audience) {
      const { payload } = await jwtVerify(token, keySetFor(issuer), {
        issuer,
        algorithms: ['RS256', 'ES256'],
      });
      // API Gateway accepts the audience in `aud`, or in `client_id` (Cognito access tokens).
      const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
      const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
      if (!audience.some((a) => audiences.includes(a) || a === clientId)) {
        throw new JwtRejectedError('audience not accepted');
      }
      return payload;
    },
    verifyIam: (request) => verifySigV4(request, options.credentials),
  };
}

/** API Gateway hands JWT claims to the function as strings (arrays as "[a b]"). */
export function claimsForEvent(payload: JWTPayload): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload)) {
    claims[name] = Array.isArray(value)
      ? `[${value.join(' ')}]`
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  }
  return claims;
}

/**
 * Reads an identity source such as `$request.header.Authorization`, `route.request.querystring.token` or
 * `context.connectionId`. Undefined when the request does not carry it.
 */
export function readIdentitySource(
  source: string,
  request: {
    headers: Record<string, string>;
    query: Record<string, string>;
    context?: Record<string, unknown>;
  },
): string | undefined {
  const header = /^(?:\$request|route\.request)\.header\.(.+)$/i.exec(source);
  if (header?.[1]) return request.headers[header[1].toLowerCase()] || undefined;
  const query = /^(?:\$request|route\.request)\.querystring\.(.+)$/i.exec(source);
  if (query?.[1]) return request.query[query[1]] || undefined;
  const context = /^\$?context\.(.+)$/.exec(source);
  if (context?.[1]) {
    const value = request.context?.[context[1]];
    return value === undefined ? undefined : String(value);
  }
  return undefined;
}
