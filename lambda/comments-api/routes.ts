import { headerValue } from '../../contracts/headers';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ValidationError } from '../shared/errors';
import { errorResponse, json, parseJsonBody, toErrorResponse, type HttpResult } from '../shared/http';
import { createHash } from 'node:crypto';
import { IDEMPOTENCY_KEY_HEADER, isValidIdempotencyKey } from '../../contracts/idempotency';
import type { CommentService, IdempotencyRequest } from './comment-service';
import { resolveActor } from './identity';
import { CommentsApiRoutes, type CommentsApiRouteKey } from '../../contracts/comments-api-routes';

export type Route = (event: APIGatewayProxyEventV2) => Promise<HttpResult>;
export type CommentsApiHandler = (event: APIGatewayProxyEventV2) => Promise<HttpResult>;

function bodyObject(event: APIGatewayProxyEventV2): Record<string, unknown> {
  const body = parseJsonBody(event);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function requiredString(body: Record<string, unknown>, field: string): string {
  const value = body[field];
  if (value === undefined || value === null) throw new ValidationError(`"${field}" is required`);
  if (typeof value !== 'string') throw new ValidationError(`"${field}" must be a string`);
  return value;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  return body[field] === undefined || body[field] === null ? undefined : requiredString(body, field);
}

function pathParameter(event: APIGatewayProxyEventV2, name: 'id' | 'commentId'): string {
  const value = event.pathParameters?.[name];
  // API Gateway matches these routes only when the segment is there: a miss means a misdeclared route.
  if (value === undefined) throw new ValidationError(`Missing path parameter "${name}"`);
  return value;
}

/**
 * The request's Idempotency-Key, with a fingerprint of the request it came with: the route key, the path
 * and the exact body. A retry sends the same bytes; a new request under an old key does not.
 */
function idempotencyOf(event: APIGatewayProxyEventV2): IdempotencyRequest | undefined {
  const key = headerValue(event.headers, IDEMPOTENCY_KEY_HEADER);
  if (key === undefined) return undefined;
  if (!isValidIdempotencyKey(key)) {
    throw new ValidationError('Idempotency-Key must be 8 to 128 characters of [A-Za-z0-9_-]');
  }
  const fingerprint = createHash('sha256')
    .update(`${event.routeKey}\n${event.rawPath}\n`)
    .update(event.body ?? '')
    .digest('base64url');
  return { key, fingerprint };
}

/** Decimal digits only: Number() alone would also take '', '0x10' and '1e1'. NaN is refused by the service. */
function pageLimit(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  return /^\d{1,6}$/.test(raw) ? Number(raw) : Number.NaN;
}

/** The route table: one entry per route key in contracts/comments-api-routes.ts, each parsing its request and shaping its answer. */
export function createRoutes(service: CommentService): Record<CommentsApiRouteKey, Route> {
  return {
    [CommentsApiRoutes.createPost]: async (event) => {
      const actor = resolveActor(event);
      const body = bodyObject(event);
      const post = await service.createPost(
        actor,
        { title: requiredString(body, 'title'), body: optionalString(body, 'body') },
        idempotencyOf(event),
      );
      return json(201, post);
    },

    [CommentsApiRoutes.getPost]: async (event) =>
      json(200, await service.getPost(pathParameter(event, 'id'))),

    [CommentsApiRoutes.createComment]: async (event) => {
      const actor = resolveActor(event);
      const body = bodyObject(event);
      const comment = await service.createComment(
        actor,
        pathParameter(event, 'id'),
        requiredString(body, 'content'),
        idempotencyOf(event),
      );
      // The original CreateCommentResponse, field for field.
      const { id, content, userId, createdAt, postId } = comment;
      return json(201, { id, content, userId, createdAt, postId });
    },

    [CommentsApiRoutes.listComments]: async (event) => {
      const query = event.queryStringParameters ?? {};
      const listing = await service.listComments(pathParameter(event, 'id'), {
        limit: pageLimit(query.limit),
        cursor: query.cursor,
      });
      return json(200, listing);
    },

    [CommentsApiRoutes.updateComment]: async (event) => {
      const actor = resolveActor(event);
      const body = bodyObject(event);
      const updated = await service.updateComment(
        actor,
        pathParameter(event, 'id'),
        pathParameter(event, 'commentId'),
        requiredString(body, 'content'),
      );
      return json(200, updated);
    },

    [CommentsApiRoutes.deleteComment]: async (event) => {
      const actor = resolveActor(event);
      await service.deleteComment(actor, pathParameter(event, 'id'), pathParameter(event, 'commentId'));
      return { statusCode: 204 };
    },

    [CommentsApiRoutes.connectionStatus]: async () => json(200, await service.connectionStatus()),
  };
}

/** Dispatches on event.routeKey and turns every error into a response; the module-scope wiring is handler.ts. */
export function createHandler(service: CommentService): CommentsApiHandler {
  const routes = createRoutes(service);
  return async (event) => {
    // hasOwn: a route key such as "constructor" must not reach Object.prototype.
    const route = Object.hasOwn(routes, event.routeKey)
      ? routes[event.routeKey as CommentsApiRouteKey]
      : undefined;
    if (!route) return errorResponse(404, 'Not Found');
    try {
      return await route(event);
    } catch (error) {
      return toErrorResponse(error);
    }
  };
}
