import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { UnauthorizedError } from '../shared/errors';
import { ID_PATTERN, isValidId } from '../shared/protocol';
import type { Actor } from './comment-service';

export type { Actor };

/**
 * The header that names the acting user until the API verifies tokens. HTTP APIs deliver header names
 * in lower case. It is a claim, not a proof: anyone can send it, which is why this is the one function
 * to change when a JWT authorizer arrives (the user then comes from event.requestContext.authorizer).
 */
export const USER_ID_HEADER = 'x-user-id';

/** The user a write acts for. Throws UnauthorizedError (401) when the request does not say who it is. */
export function resolveActor(event: APIGatewayProxyEventV2): Actor {
  const userId = event.headers?.[USER_ID_HEADER];
  if (userId === undefined || userId.trim() === '') {
    throw new UnauthorizedError(`Missing ${USER_ID_HEADER} header: writes need the acting user's id`);
  }
  if (!isValidId(userId)) {
    throw new UnauthorizedError(`${USER_ID_HEADER} header must match ${ID_PATTERN.source}`);
  }
  return { userId };
}
