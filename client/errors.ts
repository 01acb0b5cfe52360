import type { ErrorCode } from '../contracts/protocol';

/** Failures the client itself detects, beside the server's protocol error codes. */
export const ClientErrorCodes = {
  /** The handshake was refused with 401: the token is missing, expired or not accepted. */
  unauthorized: 'UNAUTHORIZED',
  /** The connection could not be opened (refused handshake, network error). */
  connectionFailed: 'CONNECTION_FAILED',
  /** The token function threw or returned something other than a string. */
  tokenFailed: 'TOKEN_FAILED',
  /** No `subscribed` or `error` answered a subscribe in time; it is sent again. */
  subscribeTimeout: 'SUBSCRIBE_TIMEOUT',
  /** No `comments.page` or `error` answered a `listComments` in time; it is sent again. */
  pageTimeout: 'PAGE_TIMEOUT',
  /** An application handler threw; the client carried on. */
  handlerFailed: 'HANDLER_FAILED',
} as const;
export type ClientErrorCode = (typeof ClientErrorCodes)[keyof typeof ClientErrorCodes];

export class RealtimeCommentsError extends Error {
  override readonly name = 'RealtimeCommentsError';

  constructor(
    /** A server protocol code (`POST_NOT_FOUND`, …) or one of ClientErrorCodes. */
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    readonly details: {
      /** The subscription the error concerns, when it concerns one. */
      postId?: string;
      /**
       * True when the client keeps trying by itself (reconnects, subscribes again); false when it gave
       * up, e.g. a subscribe refused with POST_NOT_FOUND, which also ends that subscription.
       */
      retrying: boolean;
      cause?: unknown;
    },
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get postId(): string | undefined {
    return this.details.postId;
  }

  get retrying(): boolean {
    return this.details.retrying;
  }
}

/** The message of anything thrown, for logs and error texts: handlers and token functions may throw non-Errors. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
