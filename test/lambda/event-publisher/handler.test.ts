import {
  ApiGatewayManagementApiClient,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createdEvent, eventRow, streamRecord } from '../fixtures/stream-records';

type HandlerModule = typeof import('../../../lambda/event-publisher/handler');

const COMMENTS_TABLE = 'comments-test';
const CONNECTIONS_TABLE = 'connections-test';
const WORKER = 'realtime-comments-dev-fan-out-worker';
const BATCH_SIZE = 3;

const ddb = mockClient(DynamoDBDocumentClient);
const api = mockClient(ApiGatewayManagementApiClient);
const lambda = mockClient(LambdaClient);
let handler: HandlerModule['handler'];

beforeAll(() => {
  // The module wires the publisher from the environment at import, as at a Lambda cold start.
  Object.assign(process.env, {
    COMMENTS_TABLE_NAME: COMMENTS_TABLE,
    CONNECTIONS_TABLE_NAME: CONNECTIONS_TABLE,
    WEBSOCKET_MANAGEMENT_ENDPOINT: 'https://api.execute-api.us-east-1.amazonaws.com/dev',
    FAN_OUT_WORKER_FUNCTION_NAME: WORKER,
    FAN_OUT_CONCURRENCY: '2',
    FAN_OUT_BATCH_SIZE: String(BATCH_SIZE),
    FAN_OUT_MAX_ATTEMPTS: '2',
    FAN_OUT_RETRY_BASE_MS: '1',
    FAN_OUT_RETRY_MAX_MS: '2',
    PUBLISH_CLAIM_TTL_MS: '61000',
  });
  ({ handler } = jest.requireActual<HandlerModule>('../../../lambda/event-publisher/handler'));
});

beforeEach(() => {
  ddb.reset();
  api.reset();
  lambda.reset();
  ddb.on(UpdateCommand).resolves({});
  ddb.on(QueryCommand).resolves({
    Items: [
      { pk: 'subscribers#p1', sk: 'a' },
      { pk: 'subscribers#p1', sk: 'b' },
    ],
  });
  api.on(PostToConnectionCommand).resolves({});
  lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
});

/** The stream's records of events 1…n of post p1, sequence numbers "100", "200", … */
const batchOf = (...seqs: number[]): DynamoDBStreamEvent => ({
  Records: seqs.map((seq) => streamRecord(eventRow(createdEvent(seq)), `${seq}00`)),
});

const context = (remainingMs: number): Context =>
  ({ awsRequestId: 'req-1', getRemainingTimeInMillis: () => remainingMs }) as unknown as Context;

const pushed = (): { connectionId: string | undefined; payload: string }[] =>
  api.commandCalls(PostToConnectionCommand).map((call) => ({
    connectionId: call.args[0].input.ConnectionId,
    payload: Buffer.from(call.args[0].input.Data as Uint8Array).toString('utf8'),
  }));

/** How a claim (not a completion) updates the cursor. */
const CLAIM_UPDATE = 'SET #token = :token, #claimedSeq = :seq, #expires = :expires';

/** The claims the publisher made on the cursor, by seq. */
const claimedSeqs = (): unknown[] =>
  ddb
    .commandCalls(UpdateCommand)
    .filter((call) => call.args[0].input.UpdateExpression === CLAIM_UPDATE)
    .map((call) => call.args[0].input.ExpressionAttributeValues?.[':seq']);

/** A refused claim, with the cursor as it stands. */
const refusedWith = (cursor: Record<string, unknown>): ConditionalCheckFailedException =>
  new ConditionalCheckFailedException({
    message: 'The conditional request failed',
    $metadata: {},
    Item: marshall({ pk: 'post#p1', sk: 'publish', ...cursor }),
  });

describe('event publisher handler', () => {
  it('publishes a batch of stored events in seq order, each exactly as stored, and reports no failure', async () => {
    // Act
    const response = await handler(batchOf(1, 2, 3), context(60_000));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(claimedSeqs()).toEqual([1, 2, 3]);
    const payloads = pushed().map((push) => push.payload);
    expect(payloads).toEqual([1, 1, 2, 2, 3, 3].map((seq) => JSON.stringify(createdEvent(seq))));
    expect(pushed().map((push) => push.connectionId)).toEqual(['a', 'b', 'a', 'b', 'a', 'b']);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: CONNECTIONS_TABLE,
      ExpressionAttributeValues: { ':pk': 'subscribers#p1' },
      ConsistentRead: true,
    });
  });

  it('claims each event on the publish cursor of the comments table (mode any) and completes the claim', async () => {
    // Act
    await handler(batchOf(7), context(60_000));

    // Assess
    const [claim, complete] = ddb.commandCalls(UpdateCommand).map((call) => call.args[0].input);
    expect(claim).toMatchObject({
      TableName: COMMENTS_TABLE,
      Key: { pk: 'post#p1', sk: 'publish' },
      ConditionExpression: expect.stringContaining('#published < :seq'),
    });
    expect(complete).toMatchObject({
      TableName: COMMENTS_TABLE,
      Key: { pk: 'post#p1', sk: 'publish' },
      UpdateExpression: expect.stringContaining('SET #published = :seq'),
      ExpressionAttributeValues: { ':seq': 7, ':token': claim?.ExpressionAttributeValues?.[':token'] },
    });
  });

  it('reports the first event it could not publish as the one item failure, and publishes none after it', async () => {
    // Prepare
    ddb
      .on(UpdateCommand, { UpdateExpression: CLAIM_UPDATE, ExpressionAttributeValues: { ':seq': 2 } })
      .rejects(Object.assign(new Error('Internal server error'), { name: 'InternalServerError' }));

    // Act
    const response = await handler(batchOf(1, 2, 3), context(60_000));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '200' }] });
    expect(pushed().map((push) => push.payload)).toEqual(
      [1, 1].map((seq) => JSON.stringify(createdEvent(seq))),
    );
    expect(claimedSeqs()).toEqual([1, 2]);
  });

  it('skips an event the fast path has already published, pushing nothing for it', async () => {
    // Prepare
    ddb
      .on(UpdateCommand, { UpdateExpression: CLAIM_UPDATE, ExpressionAttributeValues: { ':seq': 1 } })
      .rejects(refusedWith({ publishedSeq: 1 }));

    // Act
    const response = await handler(batchOf(1, 2), context(60_000));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(pushed().map((push) => push.payload)).toEqual(
      [2, 2].map((seq) => JSON.stringify(createdEvent(seq))),
    );
  });

  it('hands the record back to Lambda when another path holds the claim past its deadline', async () => {
    // Prepare: a claim that outlives the invocation (2.1 s left, 2 s of it kept for the answer).
    ddb
      .on(UpdateCommand)
      .rejects(
        refusedWith({ publishedSeq: 0, claimToken: 'fast-path', claimExpiresAt: Date.now() + 60_000 }),
      );

    // Act
    const response = await handler(batchOf(1, 2), context(2100));

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: '100' }] });
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
  });

  it('queues an audience larger than a batch for the fan-out workers, with the stored event', async () => {
    // Prepare
    ddb.on(QueryCommand).resolves({
      Items: ['a', 'b', 'c', 'd', 'e'].map((sk) => ({ pk: 'subscribers#p1', sk })),
    });

    // Act
    const response = await handler(batchOf(4), context(60_000));

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(api).not.toHaveReceivedCommand(PostToConnectionCommand);
    const batches = lambda.commandCalls(InvokeCommand).map((call) => ({
      functionName: call.args[0].input.FunctionName,
      batch: JSON.parse(Buffer.from(call.args[0].input.Payload as Uint8Array).toString('utf8')),
    }));
    expect(batches.map(({ functionName }) => functionName)).toEqual([WORKER, WORKER]);
    expect(batches.map(({ batch }) => batch.envelope)).toEqual([createdEvent(4), createdEvent(4)]);
    expect(batches.map(({ batch }) => batch.correlationId)).toEqual(['e4', 'e4']);
  });
});
