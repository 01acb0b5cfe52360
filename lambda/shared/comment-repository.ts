import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { Comment, Post } from './protocol';
import { commentKeys, commentsTableSchema } from './table-schema';

export interface CommentPage {
  comments: Comment[];
  /** Opaque; present when more comments follow. */
  nextCursor?: string;
}

export interface ListCommentsOptions {
  limit: number;
  cursor?: string;
}

/** Posts and comments storage: the port the comment service and the subscribe route depend on. */
export interface CommentRepository {
  createPost(post: Post): Promise<void>;
  getPost(postId: string): Promise<Post | undefined>;
  /** Stores the comment only if its post exists; false when it does not. */
  createComment(comment: Comment): Promise<boolean>;
  getComment(postId: string, commentId: string): Promise<Comment | undefined>;
  listComments(postId: string, options: ListCommentsOptions): Promise<CommentPage>;
  /** Returns the updated comment, or undefined when there is no such comment. */
  updateComment(
    postId: string,
    commentId: string,
    content: string,
    updatedAt: string,
  ): Promise<Comment | undefined>;
  /** Returns false when there was no such comment. */
  deleteComment(postId: string, commentId: string): Promise<boolean>;
}

/** A cursor that was not produced by listComments: the caller sent garbage. */
export class InvalidCursorError extends Error {
  constructor() {
    super('Invalid pagination cursor');
    this.name = 'InvalidCursorError';
  }
}

const { partitionKey, sortKey } = commentsTableSchema;

function isConditionalCheckFailure(error: unknown): boolean {
  return error instanceof Error && error.name === 'ConditionalCheckFailedException';
}

function toComment(item: Record<string, unknown>): Comment {
  const comment: Comment = {
    id: String(item.id),
    postId: String(item.postId),
    userId: String(item.userId),
    content: String(item.content),
    createdAt: String(item.createdAt),
  };
  if (typeof item.updatedAt === 'string') comment.updatedAt = item.updatedAt;
  return comment;
}

function toPost(item: Record<string, unknown>): Post {
  return {
    id: String(item.id),
    title: String(item.title),
    body: String(item.body ?? ''),
    userId: String(item.userId),
    createdAt: String(item.createdAt),
  };
}

/** The cursor is the last comment id of a page, base64url-encoded so clients treat it as opaque. */
function encodeCursor(commentId: string): string {
  return Buffer.from(commentId, 'utf8').toString('base64url');
}

/** base64url of the longest id (64 characters) is 86 characters; anything longer is not ours. */
const MAX_CURSOR_LENGTH = 88;

function decodeCursor(cursor: string): string {
  if (cursor.length > MAX_CURSOR_LENGTH) throw new InvalidCursorError();
  const commentId = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(commentId)) throw new InvalidCursorError();
  return commentId;
}

export class DynamoCommentRepository implements CommentRepository {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  private postKey(postId: string): Record<string, string> {
    return {
      [partitionKey.name]: commentKeys.postPartition(postId),
      [sortKey.name]: commentKeys.postSortKey,
    };
  }

  private commentKey(postId: string, commentId: string): Record<string, string> {
    return {
      [partitionKey.name]: commentKeys.postPartition(postId),
      [sortKey.name]: commentKeys.commentSortKey(commentId),
    };
  }

  async createPost(post: Post): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...this.postKey(post.id), ...post },
        ConditionExpression: 'attribute_not_exists(#pk)',
        ExpressionAttributeNames: { '#pk': partitionKey.name },
      }),
    );
  }

  async getPost(postId: string): Promise<Post | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: this.postKey(postId) }),
    );
    return result.Item ? toPost(result.Item) : undefined;
  }

  async createComment(comment: Comment): Promise<boolean> {
    // One transaction checks the post and writes the comment, so a comment can never be orphaned.
    try {
      await this.client.send(
        new TransactWriteCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName: this.tableName,
                Key: this.postKey(comment.postId),
                ConditionExpression: 'attribute_exists(#pk)',
                ExpressionAttributeNames: { '#pk': partitionKey.name },
              },
            },
            {
              Put: {
                TableName: this.tableName,
                Item: { ...this.commentKey(comment.postId, comment.id), ...comment },
                ConditionExpression: 'attribute_not_exists(#pk)',
                ExpressionAttributeNames: { '#pk': partitionKey.name },
              },
            },
          ],
        }),
      );
      return true;
    } catch (error) {
      if (
        error instanceof TransactionCanceledException &&
        error.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
      ) {
        return false;
      }
      throw error;
    }
  }

  async getComment(postId: string, commentId: string): Promise<Comment | undefined> {
    const result = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: this.commentKey(postId, commentId) }),
    );
    return result.Item ? toComment(result.Item) : undefined;
  }

  async listComments(postId: string, { limit, cursor }: ListCommentsOptions): Promise<CommentPage> {
    const startKey = cursor === undefined ? undefined : this.commentKey(postId, decodeCursor(cursor));
    const result = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
        ExpressionAttributeNames: { '#pk': partitionKey.name, '#sk': sortKey.name },
        ExpressionAttributeValues: {
          ':pk': commentKeys.postPartition(postId),
          ':prefix': commentKeys.commentPrefix,
        },
        ScanIndexForward: true,
        Limit: limit,
        ExclusiveStartKey: startKey,
      }),
    );
    const comments = (result.Items ?? []).map(toComment);
    const last = comments[comments.length - 1];
    // DynamoDB may hand back a LastEvaluatedKey even when nothing follows; the next page is then empty,
    // which is correct if slightly wasteful.
    return result.LastEvaluatedKey && last ? { comments, nextCursor: encodeCursor(last.id) } : { comments };
  }

  async updateComment(
    postId: string,
    commentId: string,
    content: string,
    updatedAt: string,
  ): Promise<Comment | undefined> {
    try {
      const result = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.commentKey(postId, commentId),
          UpdateExpression: 'SET content = :content, updatedAt = :updatedAt',
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': partitionKey.name },
          ExpressionAttributeValues: { ':content': content, ':updatedAt': updatedAt },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return result.Attributes ? toComment(result.Attributes) : undefined;
    } catch (error) {
      if (isConditionalCheckFailure(error)) return undefined;
      throw error;
    }
  }

  async deleteComment(postId: string, commentId: string): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: this.commentKey(postId, commentId),
          ConditionExpression: 'attribute_exists(#pk)',
          ExpressionAttributeNames: { '#pk': partitionKey.name },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionalCheckFailure(error)) return false;
      throw error;
    }
  }
}
