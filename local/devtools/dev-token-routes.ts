import { ID_PATTERN, isValidId } from '../../contracts/protocol';
import { JWKS_PATH, type LocalIssuer } from '../auth/local-issuer';
import { jsonResponse, type HttpRequest, type HttpResponse } from '../http-io';
import { LOCAL_TOKEN_PATH } from './control-paths';

/** An hour, as a Cognito ID token lives by default. */
const TOKEN_LIFETIME_SECONDS = 3600;

/**
 * The local issuer's routes on the app port, under `/_local/`: its signing keys (the JWKS the functions
 * verify tokens against) and `POST /_local/token {"userId": "…"}`, which signs a user in without a
 * password, for the demo page and the tests. Any other `/_local/` path is a 404.
 */
export function createDevTokenRoutes(
  localIssuer: LocalIssuer,
): (request: HttpRequest) => Promise<HttpResponse> {
  return async (request) => {
    if (request.method === 'GET' && request.rawPath === JWKS_PATH) return jsonResponse(200, localIssuer.jwks);
    if (request.method !== 'POST' || request.rawPath !== LOCAL_TOKEN_PATH) {
      return jsonResponse(404, { message: 'Not Found' });
    }
    let userId: unknown;
    try {
      userId = (JSON.parse(request.body.toString('utf8')) as { userId?: unknown }).userId;
    } catch {
      return jsonResponse(400, { detail: 'Body must be JSON {"userId": "<id>"}' });
    }
    if (!isValidId(userId)) return jsonResponse(400, { detail: `userId must match ${ID_PATTERN.source}` });
    const token = await localIssuer.issueToken(userId, { expiresInSeconds: TOKEN_LIFETIME_SECONDS });
    return jsonResponse(200, { userId, token, expiresIn: TOKEN_LIFETIME_SECONDS });
  };
}
