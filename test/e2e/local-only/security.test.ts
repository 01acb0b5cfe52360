import { readFileSync } from 'node:fs';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { generateKeyPair, SignJWT } from 'jose';
import WebSocket from 'ws';
import { connectionKeys, connectionsTableSchema } from '../../../contracts/table-schema';
import { DynamoConnectionRepository } from '../../../lambda/shared/connection-repository';
import { LocalIssuer } from '../../../local/auth/local-issuer';
import { CommentsApiClient } from '../comments-api-client';
import { broadcastSigner, signedBroadcast } from '../signed-broadcast';
import { documentClient, eventually, loadTarget, tokenFor, type E2eTarget } from '../target';
import { TestClient } from '../ws-client';

/**
 * The security rules, proved against the running local stack, which enforces what the deployed stages
 * do: verified tokens on $connect and on every write, authorship on edits, SigV4 on the broadcast API,
 * and clear errors with no state change for bad input.
 */
let target: E2eTarget;
let db: DynamoDBDocumentClient;
let issuer: LocalIssuer;
let alice: CommentsApiClient;
let bob: CommentsApiClient;

beforeAll(async () => {
  target = loadTarget();
  db = documentClient(target);
  const outputs = JSON.parse(readFileSync(process.env.E2E_LOCAL_OUTPUTS_FILE ?? '', 'utf8')) as {
    LocalStack: { AuthIssuer: string; AuthAudience: string };
  };
  issuer = await LocalIssuer.load({
    issuer: outputs.LocalStack.AuthIssuer,
    audience: outputs.LocalStack.AuthAudience,
    keysFile: process.env.E2E_ISSUER_KEYS_FILE ?? '',
  });
  alice = await CommentsApiClient.as(target, 'alice');
  bob = await CommentsApiClient.as(target, 'bob');
});

afterAll(() => db.destroy());

/** Tokens that must all be refused, each for one reason. */
async function badTokens(): Promise<Record<string, string>> {
  const { privateKey } = await generateKeyPair('RS256');
  const now = Math.floor(Date.now() / 1000);
  const forged = await new SignJWT({})
    .setProtectedHeader({ alg: 'RS256', kid: issuer.publicJwk.kid ?? '' })
    .setSubject('mallory')
    .setIssuer(issuer.issuer)
    .setAudience(issuer.audience)
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .sign(privateKey);
  return {
    'forged signature': forged,
    'wrong issuer': await issuer.issueToken('mallory', { issuer: 'https://evil.example.com' }),
    'wrong audience': await issuer.issueToken('mallory', { audience: 'someone-else' }),
    expired: await issuer.issueToken('mallory', { expiresInSeconds: -120 }),
    'not a JWT': 'not-a-token',
  };
}

/**
 * Live connections, counted the way the broadcast API counts them, once the count has settled: clients of
 * earlier test files may still be disconnecting, and their rows going away must not look like ours.
 */
async function connectionCount(): Promise<number> {
  const repository = new DynamoConnectionRepository(db, target.connectionsTableName, 0);
  let previous = await repository.countConnections();
  return eventually(async () => {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const current = await repository.countConnections();
    const settled = current === previous;
    previous = current;
    return settled ? current : undefined;
  });
}

/** The HTTP status of a refused upgrade, or 101 when the socket opened. */
function upgradeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

async function commentsOf(postId: string): Promise<unknown[]> {
  const response = await alice.request('GET', `/posts/${postId}/comments`);
  return (response.body as { comments: unknown[] }).comments;
}

describe('WebSocket $connect', () => {
  it('refuses a missing token with 401 and writes no connection row', async () => {
    const before = await connectionCount();

    await expect(upgradeStatus(target.webSocketUrl)).resolves.toBe(401);

    expect(await connectionCount()).toBe(before);
  });

  it('refuses forged, wrong-issuer, wrong-audience, expired and garbage tokens, writing nothing', async () => {
    const before = await connectionCount();

    for (const [reason, token] of Object.entries(await badTokens())) {
      const status = await upgradeStatus(`${target.webSocketUrl}?token=${encodeURIComponent(token)}`);
      expect({ reason, status }).toEqual({ reason, status: 401 });
    }

    expect(await connectionCount()).toBe(before);
  });

  it('accepts a valid token', async () => {
    const token = await tokenFor(target, 'carol');

    await expect(upgradeStatus(`${target.webSocketUrl}?token=${encodeURIComponent(token)}`)).resolves.toBe(
      101,
    );
  });
});

describe('comments API writes', () => {
  it('refuses writes without a token or with a bad one (401) and stores nothing', async () => {
    const post = await alice.createPost('Guarded');
    const tokens: Record<string, string | undefined> = { none: undefined, ...(await badTokens()) };

    for (const [reason, token] of Object.entries(tokens)) {
      const client = new CommentsApiClient(target, token);
      const created = await client.request('POST', `/posts/${post.id}/comments`, { content: 'sneaky' });
      const newPost = await client.request('POST', '/posts', { title: 'sneaky' });
      expect({ reason, comment: created.status, post: newPost.status }).toEqual({
        reason,
        comment: 401,
        post: 401,
      });
    }

    expect(await commentsOf(post.id)).toEqual([]);
  });

  it('takes the author from the token, never from the body', async () => {
    const post = await alice.createPost('Who wrote this');

    const created = await bob.request('POST', `/posts/${post.id}/comments`, {
      content: 'hi',
      userId: 'alice',
    });

    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userId: 'bob' });
  });

  it("refuses to edit or delete another user's comment (403) and leaves it as it was", async () => {
    const post = await alice.createPost('Mine');
    const comment = await alice.createComment(post.id, 'original');

    const edit = await bob.request('PATCH', `/posts/${post.id}/comments/${comment.id}`, {
      content: 'defaced',
    });
    const remove = await bob.request('DELETE', `/posts/${post.id}/comments/${comment.id}`);

    expect([edit.status, remove.status]).toEqual([403, 403]);
    expect(edit.body).toEqual({ detail: expect.any(String) });
    expect(await commentsOf(post.id)).toEqual([comment]);
  });
});

describe('broadcast API (AWS_IAM)', () => {
  async function listenerOn(postId: string): Promise<TestClient> {
    const client = await TestClient.connect(target.webSocketUrl, await tokenFor(target, 'listener'));
    await client.subscribe(postId);
    return client;
  }

  it('refuses unsigned, tampered, stale and wrongly keyed calls with 403 and delivers nothing', async () => {
    const post = await alice.createPost('Broadcast target');
    const listener = await listenerOn(post.id);
    const body = JSON.stringify({ type: 'comment.created', data: { postId: post.id, forged: true } });
    const tampered = await signedBroadcast(
      target,
      JSON.stringify({ type: 'comment.created', data: { postId: post.id } }),
    );
    const stale = await signedBroadcast(target, body, { signingDate: new Date(Date.now() - 10 * 60 * 1000) });
    const wrongKey = await signedBroadcast(target, body, {
      signer: broadcastSigner('AKIDEXAMPLE', 'not-the-secret'),
    });

    const attempts: Record<string, RequestInit> = {
      unsigned: { method: 'POST', headers: { 'content-type': 'application/json' }, body },
      tampered: { method: 'POST', headers: tampered.headers, body },
      'outside the time window': { method: 'POST', headers: stale.headers, body },
      'unknown key': { method: 'POST', headers: wrongKey.headers, body },
    };
    for (const [reason, init] of Object.entries(attempts)) {
      const response = await fetch(tampered.url, init);
      expect({ reason, status: response.status }).toEqual({ reason, status: 403 });
    }

    const valid = await signedBroadcast(
      target,
      JSON.stringify({ type: 'marker', data: { postId: post.id } }),
    );
    const accepted = await fetch(valid.url, {
      method: 'POST',
      headers: valid.headers,
      body: JSON.stringify({ type: 'marker', data: { postId: post.id } }),
    });
    expect(accepted.status).toBe(200);
    await listener.waitFor((e) => (e.type as string) === 'marker');
    expect(listener.events.map((e) => e.type)).toEqual(['subscribed', 'comments.list', 'marker']);
    await listener.close();
  });
});

describe('malformed input', () => {
  it('answers each bad comments API request with a 4xx {detail} and stores nothing', async () => {
    const post = await alice.createPost('Inputs');
    const cases: [string, string, unknown, number][] = [
      ['bad JSON', `/posts/${post.id}/comments`, '{"content":', 400],
      ['wrong type', `/posts/${post.id}/comments`, { content: 123 }, 400],
      ['array body', `/posts/${post.id}/comments`, ['content'], 400],
      ['empty content', `/posts/${post.id}/comments`, { content: '   ' }, 400],
      ['control characters', `/posts/${post.id}/comments`, { content: 'bell\u0007' }, 400],
      ['too long', `/posts/${post.id}/comments`, { content: 'x'.repeat(2001) }, 400],
      ['oversize body', `/posts/${post.id}/comments`, { content: 'x'.repeat(70 * 1024) }, 413],
      ['malformed post id', '/posts/bad%20id!/comments', { content: 'hi' }, 400],
      ['title of wrong type', '/posts', { title: ['a'] }, 400],
    ];

    for (const [reason, path, body, status] of cases) {
      const response = await alice.request('POST', path, body);
      expect({ reason, status: response.status, body: response.body }).toEqual({
        reason,
        status,
        body: { detail: expect.any(String) },
      });
    }

    expect(await commentsOf(post.id)).toEqual([]);
  });

  it('stores <script> content verbatim as text (the demo page renders it inert)', async () => {
    const post = await alice.createPost('Scripts');

    const comment = await alice.createComment(post.id, '<script>alert(1)</script>');

    expect(await commentsOf(post.id)).toEqual([{ ...comment, content: '<script>alert(1)</script>' }]);
  });

  it('answers oversize WebSocket messages with an error, and closes on frames past the gateway limit', async () => {
    const post = await alice.createPost('Frames');
    const client = await TestClient.connect(target.webSocketUrl, await tokenFor(target, 'framer'));

    client.send(JSON.stringify({ action: 'subscribe', postId: post.id, padding: 'x'.repeat(5000) }));
    const error = await client.waitFor((e) => e.type === 'error');
    const closed = new Promise<number>((resolve) => client.socket.once('close', (code) => resolve(code)));
    client.socket.send('x'.repeat(129 * 1024));

    expect(error).toEqual({
      type: 'error',
      data: { code: 'MESSAGE_TOO_LARGE', message: expect.any(String) },
    });
    await expect(closed).resolves.toBe(1009);
    const subscribers = await db.send(
      new QueryCommand({
        TableName: target.connectionsTableName,
        KeyConditionExpression: '#pk = :pk',
        ExpressionAttributeNames: { '#pk': connectionsTableSchema.partitionKey.name },
        ExpressionAttributeValues: { ':pk': connectionKeys.subscribersPartition(post.id) },
        ConsistentRead: true,
      }),
    );
    expect(subscribers.Items).toEqual([]);
  });
});
