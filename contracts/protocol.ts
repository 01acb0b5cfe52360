/**
 * The wire protocol between clients, the WebSocket handlers, the broadcast API and the comments API.
 * This module is the single definition of it: handlers, the local stack, the client SDK and the tests all
 * import these types and parsers rather than restating them. See docs/protocol.md.
 */
import { isRecord } from './json';

/** Ids of posts and comments: what we generate (ULIDs) and what clients may send. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Client messages are tiny (`{"action":"subscribe","postId":"…"}`); anything far bigger is a bug or abuse.
 * API Gateway itself accepts frames up to 32 KB, so the limit has to be enforced here.
 */
export const MAX_CLIENT_MESSAGE_BYTES = 4 * 1024;

export interface Comment {
  id: string;
  postId: string;
  userId: string;
  content: string;
  createdAt: string;
  updatedAt?: string;
}

export interface Post {
  id: string;
  title: string;
  body: string;
  userId: string;
  createdAt: string;
}

export type CommentAction = 'updated' | 'deleted';

/**
 * Every change to a post's comments is an event with an id and a per-post sequence number that only
 * grows (1, 2, 3, … with no gaps). They sit beside `type` and `data`, so the original `{type, data}`
 * envelope is unchanged for clients that ignore them. A client that remembers the last `seq` it saw can
 * resubscribe with it and receive exactly what it missed (see `subscribe.lastSeq`).
 */
export interface EventMeta {
  /** Unique per event: clients drop a second copy of an id they have seen. */
  eventId: string;
  /** Per-post, strictly increasing by one. */
  seq: number;
}

/** Events the server pushes to clients; every message on the wire is a `{type, data}` envelope. */
export interface CommentCreatedEvent extends Partial<EventMeta> {
  type: 'comment.created';
  data: { postId: string; comment: Comment };
}
export interface CommentUpdatedEvent extends Partial<EventMeta> {
  type: 'comment.updated';
  data: {
    postId: string;
    commentId: string;
    action: CommentAction;
    /**
     * For `updated`: the comment as stored after the edit, so that a client's view needs no second read
     * to show it. Absent for `deleted` (and from servers that predate it).
     */
    comment?: Comment;
  };
}
export interface CommentsListEvent {
  type: 'comments.list';
  data: {
    postId: string;
    comments: Comment[];
    count: number;
    /** The post's last event `seq` this snapshot includes; live events continue from seq + 1. */
    seq?: number;
    /**
     * True when this snapshot replaces a replay: the client asked to resume after a `lastSeq` older than
     * the retention window, so it must drop what it had and start again from this list.
     */
    reset?: boolean;
    /**
     * True when the page was cut short to keep the message under API Gateway's 128 KB limit: the newest
     * comments of the page were left out. `hasMore` is then true and `cursor` points past the last one sent.
     */
    truncated?: boolean;
    /**
     * True when more comments follow this page: the list is complete only once every page has arrived.
     * Ask for the next with `{action: "listComments", postId, cursor}` (or `GET /posts/{id}/comments?cursor=`).
     */
    hasMore?: boolean;
    /** Where the next page starts; present exactly when `hasMore` is true. Opaque. */
    cursor?: string;
  };
}

/**
 * A later page of a post's comments, the answer to `listComments`. Pages after the first are read when
 * asked for, so they may already reflect changes newer than the snapshot's `seq`; applying the events after
 * that `seq` on top (create = upsert, edit = replace, delete = remove) still ends at the stored list.
 */
export interface CommentsPageEvent {
  type: 'comments.page';
  data: {
    postId: string;
    comments: Comment[];
    count: number;
    /** See {@link CommentsListEvent}: true when this page was cut short at 128 KB. */
    truncated?: boolean;
    hasMore: boolean;
    cursor?: string;
  };
}
export interface SubscribedEvent {
  type: 'subscribed';
  data: { postId: string };
}
export interface UnsubscribedEvent {
  type: 'unsubscribed';
  data: { postId: string };
}
/**
 * The answer to a ping, and the heartbeat that lets a client notice a change it never received: `seqs`
 * holds the current `seq` of every post this connection subscribes to. A client whose `lastSeq` for a post
 * is lower asks for a replay, so a lost last event is repaired within one ping interval.
 */
export interface PongEvent {
  type: 'pong';
  data?: { seqs: Record<string, number> };
}
export interface ErrorEvent {
  type: 'error';
  data: {
    code: ErrorCode;
    message: string;
    /** The post the refused message named, when it named one. */
    postId?: string;
  };
}

/** Events that describe a change to a post's comments: what the comments API broadcasts. */
export type CommentChangeEvent = CommentCreatedEvent | CommentUpdatedEvent | CommentsListEvent;

/**
 * A change as stored and sent: `{type, data, eventId, seq}`. The comments API broadcasts exactly this, and
 * a resubscribe with `lastSeq` replays exactly this, byte for byte.
 */
export type SequencedChangeEvent = (CommentCreatedEvent | CommentUpdatedEvent) & EventMeta;

export type ServerEvent =
  CommentChangeEvent | CommentsPageEvent | SubscribedEvent | UnsubscribedEvent | PongEvent | ErrorEvent;

export type ClientMessage =
  | {
      action: 'subscribe';
      postId: string;
      /** Resume after this event: the server replays every later event in order, or sends a reset snapshot. */
      lastSeq?: number;
    }
  | { action: 'unsubscribe'; postId: string }
  /** The next page of a post's comments, after `cursor` (the first page when absent): a `comments.page`. */
  | { action: 'listComments'; postId: string; cursor?: string }
  | { action: 'ping' };

export type ClientAction = ClientMessage['action'];

/** The action routes the WebSocket API declares; everything else falls through to `$default`. */
export const CLIENT_ACTIONS: readonly ClientAction[] = ['subscribe', 'unsubscribe', 'listComments', 'ping'];

/** A page cursor as the server hands it out (base64url of an id): anything else is refused unread. */
export const CURSOR_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Stable, machine-readable error codes sent in `{type:"error", data:{code, message}}`. */
export const ErrorCodes = {
  invalidJson: 'INVALID_JSON',
  invalidMessage: 'INVALID_MESSAGE',
  unknownAction: 'UNKNOWN_ACTION',
  invalidPostId: 'INVALID_POST_ID',
  /** `lastSeq` is not a non-negative whole number. */
  invalidLastSeq: 'INVALID_LAST_SEQ',
  messageTooLarge: 'MESSAGE_TOO_LARGE',
  /** A subscribe named a post that does not exist. */
  postNotFound: 'POST_NOT_FOUND',
  /** A subscribe beyond the connection's subscription limit; nothing was stored. */
  tooManySubscriptions: 'TOO_MANY_SUBSCRIPTIONS',
  /** A `listComments` cursor that the server did not hand out. */
  invalidCursor: 'INVALID_CURSOR',
  internalError: 'INTERNAL_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface ProtocolError {
  code: ErrorCode;
  message: string;
  /** The post the refused message named, when it named a valid one: lets a client tell its requests apart. */
  postId?: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

const fail = (code: ErrorCode, message: string): { ok: false; error: ProtocolError } => ({
  ok: false,
  error: { code, message },
});

const failFor = (postId: string, code: ErrorCode, message: string): { ok: false; error: ProtocolError } => ({
  ok: false,
  error: { code, message, postId },
});

export function isValidId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value);
}

const utf8 = new TextEncoder();

/** UTF-8 size; TextEncoder rather than Buffer so that browsers (the client SDK, the demo page) can use this module. */
export function byteLength(text: string): number {
  return utf8.encode(text).length;
}

/** What a JSON-object parser checks before reading fields, and how its errors name the input. */
interface JsonBodyRules {
  /** How the errors name the input: `Message`, `Body`. */
  readonly noun: string;
  readonly emptyMessage: string;
  readonly maxBytes: number;
  /** What the input must be, as the error says it: `a JSON object`. */
  readonly objectShape: string;
}

/**
 * The checks every JSON input of the protocol goes through, in this order: present and non-empty, within
 * its size limit (measured before parsing, so an oversized input is never parsed), valid JSON, and a
 * plain object. Each failure has the error code clients and callers already rely on.
 */
function parseJsonObject(
  raw: string | null | undefined,
  rules: JsonBodyRules,
): ParseResult<Record<string, unknown>> {
  if (raw === null || raw === undefined || raw.length === 0) {
    return fail(ErrorCodes.invalidMessage, rules.emptyMessage);
  }
  if (byteLength(raw) > rules.maxBytes) {
    return fail(ErrorCodes.messageTooLarge, `${rules.noun} exceeds ${rules.maxBytes} bytes`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail(ErrorCodes.invalidJson, `${rules.noun} is not valid JSON`);
  }
  if (!isRecord(parsed)) {
    return fail(ErrorCodes.invalidMessage, `${rules.noun} must be ${rules.objectShape}`);
  }
  return { ok: true, value: parsed };
}

const CLIENT_MESSAGE_BODY: JsonBodyRules = {
  noun: 'Message',
  emptyMessage: 'Message body is empty',
  maxBytes: MAX_CLIENT_MESSAGE_BYTES,
  objectShape: 'a JSON object',
};

/** Parses one client text frame. Never throws: every failure is a ProtocolError to send back. */
export function parseClientMessage(raw: string | null | undefined): ParseResult<ClientMessage> {
  const body = parseJsonObject(raw, CLIENT_MESSAGE_BODY);
  if (!body.ok) return body;
  const parsed = body.value;
  const { action } = parsed;
  if (typeof action !== 'string') {
    return fail(ErrorCodes.invalidMessage, 'Message needs a string "action"');
  }
  switch (action) {
    case 'ping':
      return { ok: true, value: { action } };
    case 'subscribe':
    case 'unsubscribe':
    case 'listComments': {
      const { postId } = parsed;
      if (postId === undefined) {
        return fail(ErrorCodes.invalidPostId, `"${action}" needs a "postId"`);
      }
      if (!isValidId(postId)) {
        return fail(ErrorCodes.invalidPostId, `"postId" must match ${ID_PATTERN.source}`);
      }
      if (action === 'listComments') {
        const { cursor } = parsed;
        if (cursor === undefined) return { ok: true, value: { action, postId } };
        if (typeof cursor !== 'string' || !CURSOR_PATTERN.test(cursor)) {
          return failFor(postId, ErrorCodes.invalidCursor, '"cursor" must be a cursor the server sent');
        }
        return { ok: true, value: { action, postId, cursor } };
      }
      if (action === 'subscribe' && parsed.lastSeq !== undefined) {
        const { lastSeq } = parsed;
        if (typeof lastSeq !== 'number' || !Number.isSafeInteger(lastSeq) || lastSeq < 0) {
          return failFor(postId, ErrorCodes.invalidLastSeq, '"lastSeq" must be a whole number >= 0');
        }
        return { ok: true, value: { action, postId, lastSeq } };
      }
      return { ok: true, value: { action, postId } };
    }
    default:
      return fail(
        ErrorCodes.unknownAction,
        `Unknown action "${action.slice(0, 64)}"; expected one of ${CLIENT_ACTIONS.join(', ')}`,
      );
  }
}

/**
 * An envelope posted to the broadcast API. `data.postId`, when set, narrows the audience to that post.
 * `eventId` and `seq` are set on comment changes (see {@link EventMeta}) and pushed on unchanged.
 */
export interface BroadcastEnvelope {
  type: string;
  data?: Record<string, unknown>;
  eventId?: string;
  seq?: number;
}

/** Broadcast payloads are pushed to clients verbatim; API Gateway caps a pushed message at 128 KB. */
export const MAX_BROADCAST_BYTES = 128 * 1024;

const EVENT_TYPE_PATTERN = /^[a-z][a-z0-9._-]{0,63}$/;

const BROADCAST_BODY: JsonBodyRules = {
  noun: 'Body',
  emptyMessage: 'Body is empty',
  maxBytes: MAX_BROADCAST_BYTES,
  objectShape: 'a JSON object {type, data}',
};

export function parseBroadcastEnvelope(raw: string | null | undefined): ParseResult<BroadcastEnvelope> {
  const body = parseJsonObject(raw, BROADCAST_BODY);
  if (!body.ok) return body;
  const { type, data, eventId, seq } = body.value;
  if (typeof type !== 'string' || !EVENT_TYPE_PATTERN.test(type)) {
    return fail(ErrorCodes.invalidMessage, `"type" must match ${EVENT_TYPE_PATTERN.source}`);
  }
  if (data !== undefined) {
    if (!isRecord(data)) {
      return fail(ErrorCodes.invalidMessage, '"data" must be a JSON object');
    }
    if (data.postId !== undefined && !isValidId(data.postId)) {
      return fail(ErrorCodes.invalidPostId, `"data.postId" must match ${ID_PATTERN.source}`);
    }
  }
  if (eventId !== undefined && !isValidId(eventId)) {
    return fail(ErrorCodes.invalidMessage, `"eventId" must match ${ID_PATTERN.source}`);
  }
  if (seq !== undefined && !isSeq(seq)) {
    return fail(ErrorCodes.invalidMessage, '"seq" must be a whole number >= 1');
  }
  // Built in this key order, the order the comments API stores and sends: the fan-out re-serialises the
  // envelope, and a replayed event must be the same bytes as the live one.
  const value: BroadcastEnvelope = { type };
  if (isRecord(data)) value.data = data;
  if (eventId !== undefined) value.eventId = eventId;
  if (seq !== undefined) value.seq = seq;
  return { ok: true, value };
}

/** A change's `seq`: a safe whole number from 1 up. */
export function isSeq(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
}

/** The audience of a broadcast: one post's subscribers, or every connection. */
export function broadcastPostId(envelope: BroadcastEnvelope): string | undefined {
  const postId = envelope.data?.postId;
  return typeof postId === 'string' ? postId : undefined;
}

/** Type guard for clients (SDK, tests) reading server frames. */
export function parseServerEvent(raw: string): ServerEvent | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || typeof parsed.type !== 'string') return undefined;
  return parsed as unknown as ServerEvent;
}

export const errorEvent = (error: ProtocolError): ErrorEvent => ({ type: 'error', data: error });
