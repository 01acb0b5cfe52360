import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { LocalIssuer } from './local-issuer';
import { verifySigV4, type SignedRequest, type VerificationResult } from './sigv4-verifier';

/**
 * What API Gateway checks before a route's function runs, done locally: HTTP API JWT authorizers (see
 * {@link verifyJwtAsApiGateway}) and AWS_IAM (SigV4 against the local credentials). REQUEST (Lambda)
 * authorizers are run for WebSocket $connect by lambda-request-authorizer.ts.
 */
export interface RouteAuthorizers {
  /**
   * Resolves the verified claims, or rejects. `scopes` are the route's authorization scopes: when there are
   * any, the token must carry at least one of them.
   */
  verifyJwt(
    token: string,
    issuer: string,
    audience: readonly string[],
    scopes?: readonly string[],
  ): Promise<JWTPayload>;
  verifyIam(request: SignedRequest): Promise<VerificationResult>;
}

export class JwtRejectedError extends Error {}

/** "Currently, only RSA-based algorithms are supported." */
export const JWT_AUTHORIZER_ALGORITHMS = ['RS256', 'RS384', 'RS512'];

/**
 * An HTTP API JWT authorizer, step by step as AWS documents it
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
 * an RSA signature by the key of the JWKS that the header's `kid` names; `iss` equal to the configured
 * issuer; `aud` matching one of the audience entries, or, only when the token has no `aud`, `client_id`
 * ("API Gateway validates client_id only if aud is not present. When both aud and client_id are present,
 * API Gateway evaluates aud.": http-api-troubleshooting-jwt.html); `exp` after the current time (a
 * token without one is refused); `nbf` and `iat` before it; and, when the route has scopes, at least one
 * of them in `scope` (space-separated) or `scp`. Any failed step rejects with JwtRejectedError or jose's.
 */
export async function verifyJwtAsApiGateway(
  token: string,
  keys: JWTVerifyGetKey,
  rules: { issuer: string; audience: readonly string[]; scopes?: readonly string[] },
): Promise<JWTPayload> {
  const keyNamedByKid: JWTVerifyGetKey = (header, jws) => {
    if (typeof header.kid !== 'string' || header.kid === '') throw new JwtRejectedError('no kid');
    return keys(header, jws);
  };
  const { payload } = await jwtVerify(token, keyNamedByKid, {
    issuer: rules.issuer,
    algorithms: JWT_AUTHORIZER_ALGORITHMS,
    requiredClaims: ['exp'],
  });
  if (typeof payload.iat === 'number' && payload.iat > Math.floor(Date.now() / 1000)) {
    throw new JwtRejectedError('issued in the future');
  }
  if (!audienceAccepted(payload, rules.audience)) throw new JwtRejectedError('audience not accepted');
  if (rules.scopes && rules.scopes.length > 0) {
    const granted = grantedScopes(payload);
    if (!rules.scopes.some((scope) => granted.includes(scope))) throw new JwtRejectedError('no route scope');
  }
  return payload;
}

function audienceAccepted(payload: JWTPayload, audience: readonly string[]): boolean {
  if (payload.aud !== undefined) {
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : payload.aud;
    return Array.isArray(audiences) && audience.some((entry) => audiences.includes(entry));
  }
  return typeof payload.client_id === 'string' && audience.includes(payload.client_id);
}

function grantedScopes(payload: JWTPayload): string[] {
  const scopes: string[] = [];
  for (const claim of [payload.scope, payload.scp]) {
    if (typeof claim === 'string') scopes.push(...claim.split(' ').filter(Boolean));
    else if (Array.isArray(claim)) scopes.push(...claim.filter((s): s is string => typeof s === 'string'));
  }
  return scopes;
}

export function createRouteAuthorizers(options: {
  localIssuer: LocalIssuer;
  /** access key id → secret: the credentials the local functions are given. */
  credentials: Record<string, string>;
}): RouteAuthorizers {
  const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
  const keySetFor = (issuer: string): JWTVerifyGetKey => {
    if (issuer === options.localIssuer.issuer) return options.localIssuer.keySet();
    let keySet = remoteKeySets.get(issuer);
    if (!keySet) {
      keySet = createRemoteJWKSet(new URL(`${issuer.replace(/\/$/, '')}/.well-known/jwks.json`));
      remoteKeySets.set(issuer, keySet);
    }
    return keySet;
  };
  return {
    verifyJwt: (token, issuer, audience, scopes) =>
      verifyJwtAsApiGateway(token, keySetFor(issuer), { issuer, audience, scopes }),
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
