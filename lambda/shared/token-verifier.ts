import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { requireEnv, type Env } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';
import { isValidId } from '../../contracts/protocol';

/** Who a verified token speaks for. `userId` is the token's `sub`; `claims` are the verified payload. */
export interface VerifiedIdentity {
  userId: string;
  claims: JWTPayload;
}

/** Verifies a bearer token: the port the WebSocket authorizer depends on. */
export interface TokenVerifier {
  /** Resolves with the identity, or rejects with InvalidTokenError. Any other rejection is an outage. */
  verify(token: string): Promise<VerifiedIdentity>;
}

/** Why a token was refused. Safe to log: it says nothing about the token's contents. */
export type InvalidTokenReason =
  'expired' | 'not_yet_valid' | 'bad_signature' | 'wrong_issuer' | 'wrong_audience' | 'malformed';

/** The token is not acceptable. Anything else a verifier throws (JWKS unreachable) is not the caller's fault. */
export class InvalidTokenError extends Error {
  constructor(readonly reason: InvalidTokenReason) {
    super(`Invalid token: ${reason}`);
    this.name = 'InvalidTokenError';
  }
}

export interface AuthConfig {
  /** Exact `iss` the tokens must carry, e.g. https://cognito-idp.{region}.amazonaws.com/{userPoolId}. */
  issuer: string;
  /**
   * Accepted when `aud` contains it; `client_id` is read only when the token has no `aud` (Cognito access
   * tokens), as API Gateway's JWT authorizer does.
   */
  audience: string;
  /** The issuer's JSON Web Key Set. https, except on a loopback host (the local stack). */
  jwksUrl: string;
}

/**
 * RSA only, as API Gateway's JWT authorizer ("Currently, only RSA-based algorithms are supported"), so a
 * token $connect accepts is one the comments API accepts too. Cognito signs with RS256. Never HS*, never none.
 */
export const ACCEPTED_ALGORITHMS = ['RS256', 'RS384', 'RS512'];

/** Far above any real JWT (Cognito's are ~1 KB); bigger input is refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8 * 1024;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Reads the three AUTH_* variables; a missing one fails the cold start with its name. */
export function authConfigFromEnv(env: Env = process.env): AuthConfig {
  return {
    issuer: requireEnv(EnvNames.authIssuer, env),
    audience: requireEnv(EnvNames.authAudience, env),
    jwksUrl: requireEnv(EnvNames.authJwksUrl, env),
  };
}

function jwksEndpoint(jwksUrl: string): URL {
  let url: URL;
  try {
    url = new URL(jwksUrl);
  } catch {
    throw new Error(`${EnvNames.authJwksUrl} must be an absolute URL, got "${jwksUrl}"`);
  }
  // Keys fetched over plain HTTP could be swapped in transit, and then any token would verify.
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new Error(`${EnvNames.authJwksUrl} must be an https URL (http only on a loopback host)`);
  }
  return url;
}

/**
 * API Gateway's rule, so both entry points accept the same tokens: "API Gateway validates client_id only
 * if aud is not present. When both aud and client_id are present, API Gateway evaluates aud."
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html). A
 * Cognito ID token has `aud` = the app client id; its access token has no `aud`, and `client_id` instead.
 */
function audienceMatches(claims: JWTPayload, audience: string): boolean {
  const { aud } = claims;
  if (aud !== undefined) return aud === audience || (Array.isArray(aud) && aud.includes(audience));
  return claims.client_id === audience;
}

/** `iat` "must be before the current time" (API Gateway); jose checks it only against a maximum age. */
function issuedInTheFuture(claims: JWTPayload): boolean {
  return typeof claims.iat === 'number' && claims.iat > Math.floor(Date.now() / 1000);
}

/** Maps jose's failures to a reason; returns undefined for failures that are not the token's fault. */
function reasonFor(error: unknown): InvalidTokenReason | undefined {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'iss') return 'wrong_issuer';
    if (error.claim === 'nbf') return 'not_yet_valid';
    return 'malformed';
  }
  if (
    error instanceof errors.JWSSignatureVerificationFailed ||
    error instanceof errors.JOSEAlgNotAllowed ||
    // Signed by a key the issuer does not publish: as good as a forged signature.
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys
  ) {
    return 'bad_signature';
  }
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported
  ) {
    return 'malformed';
  }
  return undefined;
}

/**
 * Verifies JWTs against the issuer's published keys (jose). The key set is fetched on first use and
 * cached by jose, so build one verifier per cold start, at module scope, and reuse it.
 * A token is never decoded without its signature being checked first.
 *
 * The rules are those of API Gateway's HTTP API JWT authorizer, which guards the comments API
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html): an RSA
 * signature by the key its `kid` names; `iss` equal to the issuer; `aud` containing the audience, or, only
 * without `aud`, `client_id` equal to it; `exp` present and in the future; `nbf` and `iat`, when present,
 * not in the future. (Route scopes do not apply: $connect has none.) Then `sub` must be of the id format.
 */
export class JwksTokenVerifier implements TokenVerifier {
  private readonly issuer: string;
  private readonly audience: string;
  private readonly keys: JWTVerifyGetKey;

  /** `keys` replaces the remote key set, for tests that sign with a local key pair. */
  constructor({ issuer, audience, jwksUrl }: AuthConfig, keys?: JWTVerifyGetKey) {
    if (issuer.trim() === '') throw new Error('Token issuer must not be empty');
    if (audience.trim() === '') throw new Error('Token audience must not be empty');
    this.issuer = issuer;
    this.audience = audience;
    this.keys = keys ?? createRemoteJWKSet(jwksEndpoint(jwksUrl));
  }

  /**
   * "kid – The token must have a header claim that matches the key in the jwks_uri that signed the token"
   * (API Gateway): without a kid, jose would try the one key of the right type.
   */
  private readonly keyForHeader: JWTVerifyGetKey = (header, token) => {
    if (typeof header.kid !== 'string' || header.kid === '') throw new InvalidTokenError('malformed');
    return this.keys(header, token);
  };

  async verify(token: string): Promise<VerifiedIdentity> {
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new InvalidTokenError('malformed');
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, this.keyForHeader, {
        issuer: this.issuer,
        algorithms: ACCEPTED_ALGORITHMS,
        // nbf, when present, is checked by jose: it must not be in the future.
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      const reason = reasonFor(error);
      if (reason === undefined) throw error;
      throw new InvalidTokenError(reason);
    }
    if (issuedInTheFuture(claims)) throw new InvalidTokenError('not_yet_valid');
    if (!audienceMatches(claims, this.audience)) throw new InvalidTokenError('wrong_audience');
    // The sub becomes a stored userId and a DynamoDB attribute: only the id format is accepted.
    if (!isValidId(claims.sub)) throw new InvalidTokenError('malformed');
    return { userId: claims.sub, claims };
  }
}
