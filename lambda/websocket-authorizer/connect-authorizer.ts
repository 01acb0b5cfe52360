import type { PolicyDocument } from 'aws-lambda';
import { parseProtocolOffer, type ProtocolOfferProblem } from '../../contracts/websocket-auth';
import { InvalidTokenError, type InvalidTokenReason, type TokenVerifier } from '../shared/token-verifier';

/** Who opens a connection: a verified user, or (when the stage allows it) an anonymous subscriber. */
export type ConnectIdentity = { anonymous: false; userId: string } | { anonymous: true };

export type ConnectRefusalReason =
  | InvalidTokenReason
  | 'missing_token'
  /** Sec-WebSocket-Protocol is not a list this API accepts; `problem` says how. */
  | 'bad_protocol_header'
  /** A token in the header and another in the query string: which one would be meant is not guessed. */
  | 'two_tokens';

/** The connection must be refused; `reason` and `problem` are safe to log. */
export class ConnectRefusedError extends Error {
  constructor(
    readonly reason: ConnectRefusalReason,
    readonly problem?: ProtocolOfferProblem,
  ) {
    super(`Connection refused: ${reason}${problem ? ` (${problem})` : ''}`);
    this.name = 'ConnectRefusedError';
  }
}

/** Where a handshake may carry its token (see contracts/websocket-auth.ts). */
export interface ConnectCredentials {
  /** The Sec-WebSocket-Protocol header, as the client sent it. */
  protocolHeader: string | undefined;
  /** The `token` query parameter. */
  queryToken: string | undefined;
}

/**
 * The token a handshake presents: the one in Sec-WebSocket-Protocol (browsers, the SDK) or the one in the
 * query string (wscat, scripts); undefined when neither has one. A protocol list that is not valid, or a
 * token in both places, is refused: never a 500, and never a guess.
 */
export function presentedToken({ protocolHeader, queryToken }: ConnectCredentials): string | undefined {
  const offer = parseProtocolOffer(protocolHeader);
  if (offer.kind === 'invalid') throw new ConnectRefusedError('bad_protocol_header', offer.problem);
  const headerToken = offer.kind === 'valid' ? offer.token : undefined;
  const query = queryToken === '' ? undefined : queryToken;
  if (headerToken !== undefined && query !== undefined) throw new ConnectRefusedError('two_tokens');
  return headerToken ?? query;
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
