import type { PolicyDocument } from 'aws-lambda';
import { InvalidTokenError, type InvalidTokenReason, type TokenVerifier } from '../shared/token-verifier';

/** Who opens a connection: a verified user, or (when the stage allows it) an anonymous subscriber. */
export type ConnectIdentity = { anonymous: false; userId: string } | { anonymous: true };

export type ConnectRefusalReason = InvalidTokenReason | 'missing_token';

/** The connection must be refused; `reason` is safe to log. */
export class ConnectRefusedError extends Error {
  constructor(readonly reason: ConnectRefusalReason) {
    super(`Connection refused: ${reason}`);
    this.name = 'ConnectRefusedError';
  }
}

/**
 * The context API Gateway hands to the $connect integration as requestContext.authorizer. Values must be
 * strings, numbers or booleans; strings keep them the same whichever way API Gateway serialises them.
 */
export type ConnectAuthorizerContext = { userId: string; anonymous: 'false' } | { anonymous: 'true' };

/** A WebSocket Lambda REQUEST authorizer's answer: an IAM policy on the $connect route, plus context. */
export interface ConnectAuthorizerResult {
  principalId: string;
  policyDocument: PolicyDocument;
  context: ConnectAuthorizerContext;
}

export const ANONYMOUS_PRINCIPAL = 'anonymous';

/**
 * Decides whether a $connect may proceed. A token that is present must verify: an invalid one is refused
 * even when anonymous connections are allowed, so an expired session fails loudly instead of silently
 * becoming anonymous.
 */
export class ConnectAuthorizer {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly allowAnonymous: boolean,
  ) {}

  /** Throws ConnectRefusedError when the connection must be refused; anything else is an outage. */
  async authorize(token: string | undefined): Promise<ConnectIdentity> {
    if (token === undefined || token === '') {
      if (this.allowAnonymous) return { anonymous: true };
      throw new ConnectRefusedError('missing_token');
    }
    try {
      const { userId } = await this.verifier.verify(token);
      return { anonymous: false, userId };
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new ConnectRefusedError(error.reason);
      throw error;
    }
  }
}

/** Allows exactly the route being invoked (the event's methodArn) and nothing else. */
export function allowConnect(identity: ConnectIdentity, methodArn: string): ConnectAuthorizerResult {
  return {
    principalId: identity.anonymous ? ANONYMOUS_PRINCIPAL : identity.userId,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: methodArn }],
    },
    context: identity.anonymous ? { anonymous: 'true' } : { userId: identity.userId, anonymous: 'false' },
  };
}
