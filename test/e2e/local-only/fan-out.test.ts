import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { FanOutBatch } from '../../../lambda/fan-out/fan-out-batch';
import type { Comment, Post } from '../../../contracts/protocol';
import { stageConfigs } from '../../../lib/config/stage-config';
import type { DeadLetter } from '../../../local/emulators/lambda-invoke-api';
import { CommentsApiClient } from '../comments-api-client';
import { signedBroadcast } from '../signed-broadcast';
import { documentClient, eventually, loadTarget, subscriberIds, tokenFor, type E2eTarget } from '../target';
import { TestClient } from '../ws-client';

/**
 * A broadcast to more subscribers than one batch goes through the fan-out workers (asynchronous Lambda
 * invocations, emulated by the local stack): every subscriber must get exactly one copy, also when the
 * Management API throttles, and a batch that cannot be delivered at all must end in the dead-letter list
 * with exactly its connection ids. The local stack runs the dev stage, so the batch size is dev's.
 */
const BATCH_SIZE = stageConfigs.dev.fanOutBatchSize;
/** Two full batches and a partial one. */
const AUDIENCE = 2 * BATCH_SIZE + 7;
const BATCHES = Math.ceil(AUDIENCE / BATCH_SIZE);

let target: E2eTarget;
let db: DynamoDBDocumentClient;
let author: CommentsApiClient;
let post: Post;
const clients: TestClient[] = [];

async function setFaults(faults: Record<string, unknown>): Promise<void> {
  if (!target.faultsUrl) throw new Error('this test needs the local stack');
  const response = await fetch(target.faultsUrl, { method: 'PUT', body: JSON.stringify(faults) });
  if (!response.ok) throw new Error(`setting faults failed: ${response.status}`);
}

async function deadLetters(): Promise<DeadLetter[]> {
  const url = (target.faultsUrl ?? '').replace(/\/_local\/faults$/, '/_local/dead-letters');
  const response = await fetch(url);
  return ((await response.json()) as { deadLetters: DeadLetter[] }).deadLetters;
}

/** How many copies of a comment each client has received. */
const copiesOf = (comment: Comment): number[] =>
  clients.map(
    (client) =>
      client.ofType('comment.created').filter((event) => event.data.comment.id === comment.id).length,
  );

/** Waits until every client has the comment, then a little longer, so that a late duplicate would show. */
async function everyClientReceives(comment: Comment): Promise<number[]> {
  await Promise.all(
    clients.map((client) =>
      client.waitFor((e) => e.type === 'comment.created' && e.data.comment.id === comment.id, 30_000),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 500));
  return copiesOf(comment);
}

beforeAll(async () => {
  target = loadTarget();
  db = documentClient(target);
  author = await CommentsApiClient.as(target, 'fan-out-author');
  const token = await tokenFor(target, 'fan-out-listener');
  post = await author.createPost('A large audience');
  for (let wave = 0; wave < AUDIENCE; wave += 25) {
    const size = Math.min(25, AUDIENCE - wave);
    const connected = await Promise.all(
      Array.from({ length: size }, () => TestClient.connect(target.webSocketUrl, token)),
    );
    clients.push(...connected);
    await Promise.all(connected.map((client) => client.subscribe(post.id)));
  }
}, 60_000);

afterEach(async () => {
  if (target.faultsUrl) await fetch(target.faultsUrl, { method: 'DELETE' });
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  db.destroy();
});

it(`delivers exactly one copy to each of ${AUDIENCE} subscribers, more than one batch of ${BATCH_SIZE}`, async () => {
  // Act
  const comment = await author.createComment(post.id, 'hello, everyone');

  // Assess
  expect(await everyClientReceives(comment)).toEqual(clients.map(() => 1));
});

it('answers a large broadcast with 202 once its batches are queued, not delivered', async () => {
  // Prepare
  const body = JSON.stringify({
    type: 'comment.created',
    data: { postId: post.id, comment: { id: 'direct' } },
  });
  const { url, headers } = await signedBroadcast(target, body);

  // Act
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body,
  });

  // Assess
  expect(response.status).toBe(202);
  expect(await response.json()).toEqual({
    broadcastId: expect.any(String),
    connectionCount: AUDIENCE,
    delivered: 0,
    stale: 0,
    retried: 0,
    failed: 0,
    queued: AUDIENCE,
    batches: BATCHES,
    handedOn: 0,
  });
  await Promise.all(
    clients.map((client) =>
      client.waitFor((e) => e.type === 'comment.created' && e.data.comment.id === 'direct', 30_000),
    ),
  );
});

it('still delivers exactly one copy each when the Management API throttles a third of the pushes', async () => {
  // Prepare
  await setFaults({ throttleRate: 0.3 });

  // Act
  const comment = await author.createComment(post.id, 'through the throttle');

  // Assess
  expect(await everyClientReceives(comment)).toEqual(clients.map(() => 1));
});

it('dead-letters each batch it cannot deliver, after retries, with exactly its connection ids', async () => {
  // Prepare
  const subscribers = await subscriberIds(db, target, post.id);
  await setFaults({ errorRate: 1 });

  // Act
  const comment = await author.createComment(post.id, 'nobody will see this');
  const letters = await eventually(async () => {
    const found = (await deadLetters()).filter(
      (letter) =>
        // Stream failure records carry no payload: only the worker's batches are looked at here.
        'requestPayload' in letter &&
        (letter.requestPayload as FanOutBatch).envelope.data?.comment !== undefined &&
        ((letter.requestPayload as FanOutBatch).envelope.data?.comment as Comment).id === comment.id,
    );
    return found.length === BATCHES ? found : undefined;
  }, 45_000);

  // Assess
  const batches = letters.map(
    (letter) => ('requestPayload' in letter ? letter.requestPayload : undefined) as FanOutBatch,
  );
  expect(batches.flatMap((batch) => batch.connectionIds).sort()).toEqual([...subscribers].sort());
  expect(new Set(batches.map((batch) => batch.broadcastId)).size).toBe(1);
  for (const letter of letters) {
    expect(letter.requestContext).toMatchObject({ condition: 'RetriesExhausted', approximateInvokeCount: 3 });
    expect(letter.responsePayload.errorType).toBe('FanOutBatchFailedError');
    expect(letter.destination).toMatch(/FanOutWorkerDeadLetterQueue/);
  }
  expect(copiesOf(comment)).toEqual(clients.map(() => 0));
}, 60_000);
