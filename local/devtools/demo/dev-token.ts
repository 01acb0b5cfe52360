import { CommentsApiError } from '@realtime-comments/client';

/**
 * A token from the local stack's dev-only token route (the demo's sign-in): the page's one raw request,
 * as that route is no part of the comments API.
 */
export async function requestToken(tokenUrl: string, userId: string): Promise<string> {
  const request = { method: 'POST', headers: { 'content-type': 'application/json' } };
  let response: Response;
  try {
    response = await fetch(tokenUrl, { ...request, body: JSON.stringify({ userId }) });
  } catch (cause) {
    // Said like the comments API's own network failures, so the page words it the same way.
    throw new CommentsApiError(`POST ${tokenUrl}: ${String(cause)}`, {
      failure: 'network',
      attempts: 1,
      cause,
    });
  }
  const payload = (await response.json().catch(() => ({}))) as { token?: string; detail?: string };
  if (!response.ok || !payload.token)
    throw new Error(payload.detail ?? `Sign-in failed with ${response.status}`);
  return payload.token;
}
