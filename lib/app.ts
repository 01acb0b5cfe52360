import { Tags, Validations, type App, type Environment } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { StageConfig } from './config/stage-config';
import { CommentsApiStack } from './stacks/comments-api-stack';
import { DataStack } from './stacks/data-stack';
import { OperationsStack } from './stacks/operations-stack';
import { RealtimeStack } from './stacks/realtime-stack';

export interface RealtimeCommentsStacks {
  readonly data: DataStack;
  readonly realtime: RealtimeStack;
  readonly commentsApi: CommentsApiStack;
  readonly operations: OperationsStack;
}

export interface BuildAppOptions {
  /** account/region to pin the stacks to; leave undefined for environment-agnostic templates. */
  readonly env?: Environment;
  /**
   * Run cdk-nag's AWS Solutions rules over every stack when the app synthesizes: any finding that is not
   * acknowledged (Validations.of(construct).acknowledge, with a reason, next to the resource) makes
   * app.synth() throw, and with it `cdk synth`, `cdk deploy` and the template tests.
   * @default true
   */
  readonly nag?: boolean;
}

/** `RealtimeComments-{stage}-{part}`: the stack id and the CloudFormation stack name. */
export const stackName = (stageConfig: StageConfig, part: string): string =>
  `RealtimeComments-${stageConfig.stageName}-${part}`;

/**
 * Registers cdk-nag's AWS Solutions pack as a validation plugin: it runs at synthesis, over every stack
 * of the app, after every construct has been built.
 */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}

/**
 * The one wiring of the app's stacks for a stage, called by bin/app.ts, the template tests and the local
 * stack alike.
 */
export function buildApp(
  app: App,
  stageConfig: StageConfig,
  options: BuildAppOptions = {},
): RealtimeCommentsStacks {
  const { env, nag = true } = options;
  Tags.of(app).add('project', 'realtime-comments');
  Tags.of(app).add('stage', stageConfig.stageName);

  const data = new DataStack(app, stackName(stageConfig, 'Data'), {
    env,
    stageConfig,
    description: `Realtime comments (${stageConfig.stageName}): DynamoDB tables and user identity`,
  });
  const realtime = new RealtimeStack(app, stackName(stageConfig, 'Realtime'), {
    env,
    stageConfig,
    description: `Realtime comments (${stageConfig.stageName}): WebSocket API and broadcast API`,
    connectionsTable: data.connectionsTable,
    commentsTable: data.commentsTable,
    identity: data.identity,
  });
  const commentsApi = new CommentsApiStack(app, stackName(stageConfig, 'CommentsApi'), {
    env,
    stageConfig,
    description: `Realtime comments (${stageConfig.stageName}): comments REST API`,
    commentsTable: data.commentsTable,
    webSocketStage: realtime.webSocketStage,
    broadcastStage: realtime.broadcastStage,
    identity: data.identity,
  });
  const operations = new OperationsStack(app, stackName(stageConfig, 'Operations'), {
    env,
    stageConfig,
    description: `Realtime comments (${stageConfig.stageName}): dashboard and alarms`,
    functions: {
      ConnectAuthorizer: realtime.authorizerHandler,
      WebSocketConnection: realtime.connectionHandler,
      WebSocketMessages: realtime.messagesHandler,
      Broadcast: realtime.broadcastHandler,
      FanOutWorker: realtime.fanOutWorker.handler,
      EventPublisher: realtime.eventPublishing.handler,
      CommentsApi: commentsApi.handler,
    },
    httpApis: [
      { label: 'CommentsApi', apiId: commentsApi.api.apiId, stageName: commentsApi.stage.stageName },
      {
        label: 'BroadcastApi',
        apiId: realtime.broadcastApi.apiId,
        stageName: realtime.broadcastStage.stageName,
      },
    ],
    webSocketApi: { apiId: realtime.webSocketApi.apiId, stageName: realtime.webSocketStage.stageName },
    deadLetterQueues: [
      {
        queue: realtime.fanOutDeadLetterQueue,
        holds:
          'fan-out batches that failed every retry: their connections missed an event (clients repair it at their next heartbeat)',
      },
      {
        queue: realtime.eventPublishing.failureQueue,
        holds:
          'stream records the publisher never published: their events reached no live subscriber (clients repair them from the event log)',
      },
    ],
  });
  if (nag) addNagChecks(app);
  return { data, realtime, commentsApi, operations };
}
