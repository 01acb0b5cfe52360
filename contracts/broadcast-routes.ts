/**
 * The broadcast HTTP API's routes, as API Gateway spells their route keys, with the method and path each
 * is made of. The stack declares exactly these routes (with IAM auth), the broadcast function dispatches on
 * these keys, the comments API's broadcast client and the benchmark build their URLs from these paths, and
 * the comments function's `execute-api:Invoke` grant names these resources: a route renamed here is
 * renamed everywhere.
 */
export const BroadcastRoutes = {
  /** Fan an envelope `{type, data}` out to the subscribers of `data.postId` (or to every connection). */
  broadcastComments: { routeKey: 'POST /broadcast/comments', method: 'POST', path: '/broadcast/comments' },
  /** How many WebSocket connections are live. */
  connectionCount: { routeKey: 'GET /connections/count', method: 'GET', path: '/connections/count' },
} as const;

export type BroadcastRoute = (typeof BroadcastRoutes)[keyof typeof BroadcastRoutes];
export type BroadcastRouteKey = BroadcastRoute['routeKey'];

export const BROADCAST_ROUTE_LIST: readonly BroadcastRoute[] = Object.values(BroadcastRoutes);

/**
 * `Prefer: respond-async` (RFC 7240) on a broadcast: answer 202 as soon as the broadcast is queued, and
 * fan it out in the background. What the comments function sends, so that creating a comment never waits
 * for its fan-out, whatever the audience. Without it the answer comes after the fan-out is handed off.
 */
export const PREFER_HEADER = 'prefer';
export const RESPOND_ASYNC = 'respond-async';
