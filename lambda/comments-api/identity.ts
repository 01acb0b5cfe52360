import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { UnauthorizedError } from '../shared/errors';
import { isValidId } from '../../contracts/protocol';
import type { Actor } from './comment-service';

export type { Actor };

export const MISSING_TOKEN_DETAIL = 'A valid bearer token is required';

/**
 * The part of an HTTP API request context a JWT authorizer fills in. API Gateway verified the bearer
 * token (signature, issuer, audience, expiry) before invoking us, so these claims are a proof; the local
 * stack emulates the same authorizer.
 */
interface JwtAuthorizerContext {
  jwt?: { claims?: Record<string, unknown> };
}

function verifiedSubject(event: APIGatewayProxyEventV2): unknown {
  const { authorizer } = event.requestContext as { authorizer?: JwtAuthorizerContext };
  return authorizer?.jwt?.claims?.sub;
}

/**
 * The user a write acts for: the verified token's `sub`, and nothing else. No header or body field can
 * name or override the actor. Throws UnauthorizedError (401) when the request carries no verified identity.
 */
export function resolveActor(event: APIGatewayProxyEventV2): Actor {
  const userId = verifiedSubject(event);
  // A sub outside the id format cannot be stored as an author, so it is treated as no identity at all.
  if (!isValidId(userId)) throw new UnauthorizedError(MISSING_TOKEN_DETAIL);
  return { userId };
}
