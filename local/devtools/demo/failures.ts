import { CommentsApiError } from '@realtime-comments/client';

/** What a failed action means for the user: the page closes a post found gone, and says the rest. */
export interface Failure {
  kind: 'unreachable' | 'post-gone' | 'comment-gone' | 'other';
  message: string;
}

export function describeFailure(error: unknown): Failure {
  if (!(error instanceof CommentsApiError)) {
    return { kind: 'other', message: error instanceof Error ? error.message : String(error) };
  }
  if (error.details.failure === 'network') {
    return { kind: 'unreachable', message: 'The server is unreachable: it may be stopped or restarting.' };
  }
  if (error.details.failure === 'timeout') {
    return { kind: 'unreachable', message: 'The server did not answer in time.' };
  }
  if (error.status === 404) {
    return error.detail === 'Comment not found'
      ? { kind: 'comment-gone', message: 'That comment no longer exists.' }
      : { kind: 'post-gone', message: 'This post no longer exists.' };
  }
  if (error.status === 401)
    return { kind: 'other', message: 'Your sign-in was not accepted: sign in again.' };
  return { kind: 'other', message: error.detail ?? error.message };
}
