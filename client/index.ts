/**
 * The realtime comments client SDK, for browsers and Node. Protocol types come from the one protocol
 * module (contracts/protocol.ts) and are re-exported here, so applications import from one place.
 */
export {
  RealtimeCommentsClient,
  type ClientEvents,
  type ClientLogger,
  type ConnectionState,
  type PostState,
  type RealtimeCommentsClientOptions,
  type SubscribeOptions,
  type SubscriptionHandlers,
  type TokenRequest,
  type TokenSource,
  type TokenTransport,
} from './client';
export {
  CommentsApiClient,
  CommentsApiError,
  type CallOptions,
  type CommentPage,
  type CommentsApiClientOptions,
  type CommentsApiFailure,
  type CreateOptions,
} from './comments-api';
export { CommentView } from './comment-view';
export { CLIENT_VERSION } from './build-info';
export { Backoff, backoffCeiling, backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
export { ClientErrorCodes, RealtimeCommentsError, type ClientErrorCode } from './errors';
export { PostStream, type CommentEvent, type StreamStep } from './post-stream';
export type { WebSocketConstructor, WebSocketErrorEvent, WebSocketLike } from './websocket';
export type {
  Comment,
  CommentCreatedEvent,
  CommentUpdatedEvent,
  CommentsListEvent,
  CommentsPageEvent,
  ErrorCode,
  EventMeta,
  Post,
} from '../contracts/protocol';
export { ErrorCodes } from '../contracts/protocol';
