import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CommentsApiClient } from '../comments-api-client';
import {
  connectionRows,
  documentClient,
  eventually,
  loadTarget,
  subscriberIds,
  tokenFor,
  type E2eTarget,
} from '../target';
import { TestClient } from '../ws-client';

/**
 * A client killed without a close frame whose $disconnect never arrives (the local gateway's
 * dropDisconnect fault) must be removed by the next broadcast, when the Management API answers 410.
 */
let target: E2eTarget;
let db: DynamoDBDocumentClient;

async function setFaults(faults: Record<string, unknown>): Promise<void> {
  if (!target.faultsUrl) throw new Error('this test needs the local stack');
  const response = await fetch(target.faultsUrl, { method: 'PUT', body: JSON.stringify(faults) });
  if (!response.ok) throw new Error(`setting faults failed: ${response.status}`);
}

beforeAll(async () => {
  target = loadTarget();
  db = documentClient(target);
});

afterAll(async () => {
  if (target.faultsUrl) await fetch(target.faultsUrl, { method: 'DELETE' });
  db.destroy();
});

it('deletes a killed connection on the next broadcast and still delivers to the live one', async () => {
  const api = await CommentsApiClient.as(target, 'stale-test');
  const wsToken = await tokenFor(target, 'stale-listener');
  const post = await api.createPost('Stale connections');
  const live = await TestClient.connect(target.webSocketUrl, wsToken);
  const doomed = await TestClient.connect(target.webSocketUrl, wsToken);
  await live.subscribe(post.id);
  await doomed.subscribe(post.id);
  const before = await subscriberIds(db, target, post.id);
  await setFaults({ dropDisconnect: true });

  doomed.kill();
  // With $disconnect lost, both rows stay until something notices the connection is gone.
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect((await subscriberIds(db, target, post.id)).sort()).toEqual(before.sort());
  await setFaults({ dropDisconnect: false });
  const comment = await api.createComment(post.id, 'who is still there?');

  await live.waitFor((e) => e.type === 'comment.created' && e.data.comment.id === comment.id);
  const remaining = await eventually(async () => {
    const ids = await subscriberIds(db, target, post.id);
    return ids.length === 1 ? ids : undefined;
  });
  const [doomedId] = before.filter((id) => !remaining.includes(id));
  if (!doomedId) throw new Error('could not tell the killed connection apart');
  expect(await connectionRows(db, target, doomedId)).toEqual([]);
  await live.close();
});
