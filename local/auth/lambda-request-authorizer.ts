import type { RouteAuthorization } from '../cloudformation/local-model';
import type { LocalLambda } from '../emulators/lambda-runtime';
import { readIdentitySource } from './authorizers';

/** What a Lambda REQUEST authorizer returns: an IAM policy and the context later routes see. */
interface AuthorizerResult {
  principalId?: string;
  policyDocument?: { Statement?: { Effect?: string }[] };
  context?: Record<string, unknown>;
}

export interface RequestAuthorizerCall {
  authorization: Extract<RouteAuthorization, { type: 'CUSTOM' }>;
  lambdas: ReadonlyMap<string, Pick<LocalLambda, 'invoke'>>;
  /** `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<route>`: the route being authorized. */
  methodArn: string;
  headers: Record<string, string>;
  /** One entry per occurrence of each header; derived from `headers` when not given. */
  multiValueHeaders?: Record<string, string[]>;
  query: Record<string, string>;
  requestContext: Record<string, unknown>;
  log(message: string): void;
}

/**
 * Runs a Lambda REQUEST authorizer as API Gateway does: a missing identity source is a 401 without calling
 * it; an `Unauthorized` error is a 401, a Deny policy a 403, any other failure a 500. An Allow yields the
 * context that every later route of the connection sees as requestContext.authorizer. The event carries
 * every request header (Sec-WebSocket-Protocol among them) in `headers` and `multiValueHeaders`, and the
 * query string, whatever the identity sources name.
 */
export async function runRequestAuthorizer(
  call: RequestAuthorizerCall,
): Promise<Record<string, unknown> | number> {
  const { authorization, headers, query, requestContext } = call;
  for (const source of authorization.identitySource) {
    if (readIdentitySource(source, { headers, query, context: requestContext }) === undefined) return 401;
  }
  const lambda = call.lambdas.get(authorization.functionKey);
  if (!lambda) return 500;
  const event = {
    type: 'REQUEST',
    methodArn: call.methodArn,
    headers,
    multiValueHeaders:
      call.multiValueHeaders ?? Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: query,
    multiValueQueryStringParameters: Object.fromEntries(Object.entries(query).map(([k, v]) => [k, [v]])),
    stageVariables: {},
    requestContext,
  };
  let result: AuthorizerResult | undefined;
  try {
    result = await lambda.invoke<AuthorizerResult>(event);
  } catch (error) {
    if ((error as Error).message === 'Unauthorized') return 401;
    call.log(`authorizer failed: ${(error as Error).message}`);
    return 500;
  }
  const statements = result?.policyDocument?.Statement ?? [];
  const effects = statements.map((statement) => statement.Effect);
  if (effects.includes('Deny') || !effects.includes('Allow')) return 403;
  return { ...(result?.context ?? {}), principalId: result?.principalId };
}
