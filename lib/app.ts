import { Tags, type App, type Environment } from 'aws-cdk-lib';
import type { StageConfig } from './config/stage-config';
import { CommentsApiStack } from './stacks/comments-api-stack';
import { DataStack } from './stacks/data-stack';
import { RealtimeStack } from './stacks/realtime-stack';

export interface RealtimeCommentsStacks {
  readonly data: DataStack;
  readonly realtime: RealtimeStack;
  readonly commentsApi: CommentsApiStack;
}

/** `RealtimeComments-{stage}-{part}`: the stack id and the CloudFormation stack name. */
export const stackName = (stageConfig: StageConfig, part: string): string =>
  `RealtimeComments-${stageConfig.stageName}-${part}`;

/**
 * The one wiring of the app's stacks for a stage, called by bin/app.ts and by the template tests alike.
 * @param env account/region to pin the stacks to; leave undefined for environment-agnostic templates
 */
export function buildApp(app: App, stageConfig: StageConfig, env?: Environment): RealtimeCommentsStacks {
  Tags.of(app).add('project', 'realtime-comments');
  Tags.of(app).add('stage', stageConfig.stageName);

  const data = new DataStack(app, stackName(stageConfig, 'Data'), {
    env,
    stageConfig,
    description: `Realtime comments (${stageConfig.stageName}): DynamoDB tables`,
  });
  const realtime = new RealtimeStack(app, stackName(stageConfig, 'Realtime'), {
    env,
    stageConfig,
    description: `Realtime comments (${stageConfig.stageName}): WebSocket API and broadcast API`,
    connectionsTable: data.connectionsTable,
    commentsTable: data.commentsTable,
  });
  const commentsApi = new CommentsApiStack(app, stackName(stageConfig, 'CommentsApi'), {
    env,
    stageConfig,
    description: `Realtime comments (${stageConfig.stageName}): comments REST API`,
    commentsTable: data.commentsTable,
    webSocketStage: realtime.webSocketStage,
    broadcastStage: realtime.broadcastStage,
  });
  return { data, realtime, commentsApi };
}
