import { ArnFormat, Stack } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { HandlerFunction } from './handler-function';
import { acknowledgeWildcardResource } from './nag-acknowledgement';

/**
 * PostToConnection on one WebSocket stage, and nothing else: not GetConnection or DeleteConnection (no
 * function uses them), not another stage. WebSocketStage.grantManagementApiAccess() would allow every
 * method (`/{stage}/*\/@connections/*`).
 */
export function grantPostToConnection(stage: apigwv2.WebSocketStage, handler: HandlerFunction): void {
  const { stageName } = stage;
  const connectionsArn = Stack.of(stage).formatArn({
    service: 'execute-api',
    resource: stage.api.apiId,
    arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    resourceName: `${stageName}/POST/@connections/*`,
  });
  iam.Grant.addToPrincipal({
    grantee: handler,
    actions: ['execute-api:ManageConnections'],
    resourceArns: [connectionsArn],
  });
  acknowledgeWildcardResource(
    handler.role,
    connectionsArn,
    'Connection ids are assigned by API Gateway at run time, so PostToConnection cannot name them; ' +
      `the grant is already limited to POST on the ${stageName} stage of this WebSocket API.`,
  );
}

/**
 * Lets a function queue events for itself (an asynchronous Invoke of its own ARN). A policy of its own:
 * in the role's default policy, the function's ARN would make the function depend on itself.
 */
export function grantInvokeSelf(handler: HandlerFunction, policyId: string): void {
  new iam.Policy(handler, policyId, {
    roles: [handler.role],
    statements: [
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [handler.function.functionArn],
      }),
    ],
  });
}

/** Exactly a function's unqualified ARN: grantInvoke() would add `<arn>:*` (every version and alias). */
export function grantInvoke(grantee: HandlerFunction, target: HandlerFunction): void {
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['lambda:InvokeFunction'],
    resourceArns: [target.function.functionArn],
  });
}
