/**
 * The HTTP API routes this function serves, as API Gateway spells their route keys. The handler
 * dispatches on exactly these strings, so the API's route definitions should be built from this list
 * (it has no imports, so infrastructure code can use it without pulling in the Lambda's dependencies).
 * Path parameter names ({id}, {commentId}) are part of the contract: the routes read them by name.
 */
export const CommentsApiRoutes = {
  createPost: 'POST /api/v1/posts',
  getPost: 'GET /api/v1/posts/{id}',
  createComment: 'POST /api/v1/posts/{id}/comments',
  listComments: 'GET /api/v1/posts/{id}/comments',
  updateComment: 'PATCH /api/v1/posts/{id}/comments/{commentId}',
  deleteComment: 'DELETE /api/v1/posts/{id}/comments/{commentId}',
  connectionStatus: 'GET /api/v1/websocket/connections',
} as const;

export type CommentsApiRouteKey = (typeof CommentsApiRoutes)[keyof typeof CommentsApiRoutes];

export const COMMENTS_API_ROUTE_KEYS: readonly CommentsApiRouteKey[] = Object.values(CommentsApiRoutes);
