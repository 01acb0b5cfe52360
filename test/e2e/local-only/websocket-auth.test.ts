import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import {
  offeredProtocols,
  TOKEN_PROTOCOL_PREFIX,
  WEBSOCKET_PROTOCOL,
} from '../../../contracts/websocket-auth';
import { DynamoConnectionRepository } from '../../../lambda/shared/connection-repository';
import { LocalIssuer } from '../../../local/auth/local-issuer';
import { CommentsApiClient } from '../comments-api-client';
import { documentClient, eventually, loadTarget, tokenFor, type E2eTarget } from '../target';
import { TestClient } from '../ws-client';

/**
 * WebSocket authentication through Sec-WebSocket-Protocol, against the running local stack (the $connect
 * authorizer and connection handler as deployed, behind the local gateway): the token travels in the
 * subprotocol list, the handshake's answer echoes the protocol and never the token, every refusal is a
 * 401 that writes no connection row, and `?token=` keeps working. Then API Gateway's JWT rules, the same
 * on $connect and on the comments API.
 */
let target: E2eTarget;
let db: DynamoDBDocumentClient;
let issuer: LocalIssuer;

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
});

afterAll(() => db.destroy());

interface Handshake {
  /** 101 when the socket opened, else the refusal's status. */
  status: number;
  /** The Sec-WebSocket-Protocol the server answered with. */
  protocol: string | undefined;
  /** Every header of the answer, to check nothing repeats the token. */
  rawHeaders: string;
}

/** Opens a socket offering these subprotocols (and this URL), and closes it as soon as it opened. */
function handshake(protocols: string[] | undefined, url = target.webSocketUrl): Promise<Handshake> {
  return new Promise((resolve, reject) => {
    const socket = protocols === undefined ? new WebSocket(url) : new WebSocket(url, protocols);
    let answer: IncomingMessage | undefined;
    socket.once('upgrade', (response) => (answer = response));
    socket.once('open', () => {
      socket.close();
      resolve({
        status: 101,
        protocol: socket.protocol || undefined,
        rawHeaders: JSON.stringify(answer?.rawHeaders ?? []),
      });
    });
    socket.once('unexpected-response', (request, response) => {
      response.resume();
      request.destroy();
      resolve({
        status: response.statusCode ?? 0,
        protocol: undefined,
        rawHeaders: JSON.stringify(response.rawHeaders),
      });
    });
    socket.once('error', (error) => {
      if (!/Unexpected server response/.test(error.message)) reject(error);
    });
  });
}

/** The header a browser sends for `new WebSocket(url, [WEBSOCKET_PROTOCOL, TOKEN_PROTOCOL_PREFIX + token])`. */
const header = (token: string): string[] => offeredProtocols(token);

/** Live connections once the count has settled (see security.test.ts). */
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

const queryUrl = (token: string): string => `${target.webSocketUrl}?token=${encodeURIComponent(token)}`;

describe('the token in Sec-WebSocket-Protocol', () => {
  it('connects, answers with the protocol and never the token, and the connection works', async () => {
    // Prepare
    const token = await tokenFor(target, 'erin');

    // Act
    const answer = await handshake(header(token));
    const client = await TestClient.connect(target.webSocketUrl, token, { tokenTransport: 'protocol' });
    const author = await CommentsApiClient.as(target, 'erin');
    const post = await author.createPost('Header auth');
    const snapshot = await client.subscribe(post.id);
    await client.close();

    // Assess
    expect(answer).toMatchObject({ status: 101, protocol: WEBSOCKET_PROTOCOL });
    expect(answer.rawHeaders).not.toContain(token);
    expect(answer.rawHeaders).not.toContain(TOKEN_PROTOCOL_PREFIX);
    expect(client.socket.protocol).toBe(WEBSOCKET_PROTOCOL);
    expect(snapshot.data.postId).toBe(post.id);
  });

  it('refuses bad, missing and expired tokens with 401, writing no connection row', async () => {
    // Prepare
    const before = await connectionCount();
    const tokens: Record<string, string[]> = {
      'expired token': header(await issuer.issueToken('mallory', { expiresInSeconds: -120 })),
      'wrong audience': header(await issuer.issueToken('mallory', { audience: 'someone-else' })),
      'no exp': header(await issuer.issueToken('mallory', { expiresInSeconds: null })),
      garbage: header('not-a-jwt'),
      'missing token (the protocol alone)': [WEBSOCKET_PROTOCOL],
    };

    // Act
    const statuses: Record<string, number> = {};
    for (const [reason, protocols] of Object.entries(tokens))
      statuses[reason] = (await handshake(protocols)).status;

    // Assess
    expect(statuses).toEqual(Object.fromEntries(Object.keys(tokens).map((reason) => [reason, 401])));
    expect(await connectionCount()).toBe(before);
  });

  it('refuses malformed protocol lists with 401, never a 500, writing no connection row', async () => {
    // Prepare
    const token = await tokenFor(target, 'erin');
    const before = await connectionCount();
    const lists: Record<string, string[]> = {
      'several tokens': [
        WEBSOCKET_PROTOCOL,
        TOKEN_PROTOCOL_PREFIX + token,
        `${TOKEN_PROTOCOL_PREFIX}${token}x`,
      ],
      'no protocol name': [TOKEN_PROTOCOL_PREFIX + token],
      'an unknown version': ['realtime-comments.v2', TOKEN_PROTOCOL_PREFIX + token],
      'a token without the prefix': [WEBSOCKET_PROTOCOL, token],
      'an overly long value': [WEBSOCKET_PROTOCOL, TOKEN_PROTOCOL_PREFIX + token + 'a'.repeat(9000)],
      'an empty token': [WEBSOCKET_PROTOCOL, TOKEN_PROTOCOL_PREFIX],
    };

    // Act
    const statuses: Record<string, number> = {};
    for (const [problem, protocols] of Object.entries(lists))
      statuses[problem] = (await handshake(protocols)).status;

    // Assess
    expect(statuses).toEqual(Object.fromEntries(Object.keys(lists).map((problem) => [problem, 401])));
    expect(await connectionCount()).toBe(before);
  });

  it('refuses a token in the header and another in the query string', async () => {
    // Prepare
    const token = await tokenFor(target, 'erin');

    // Act
    const answer = await handshake(header(token), queryUrl(token));

    // Assess
    expect(answer.status).toBe(401);
  });
});

describe('the token in the query string', () => {
  it('still connects (wscat, scripts), without a subprotocol', async () => {
    // Prepare
    const token = await tokenFor(target, 'erin');

    // Act
    const answer = await handshake(undefined, queryUrl(token));

    // Assess
    expect(answer).toMatchObject({ status: 101, protocol: undefined });
  });

  it('connects beside a header that names the protocol only, which is echoed', async () => {
    // Prepare
    const token = await tokenFor(target, 'erin');

    // Act
    const answer = await handshake([WEBSOCKET_PROTOCOL], queryUrl(token));

    // Assess
    expect(answer).toMatchObject({ status: 101, protocol: WEBSOCKET_PROTOCOL });
  });
});

describe("API Gateway's JWT rules, the same on $connect and on the comments API", () => {
  /** A write as this token's holder: 201 when the comments API's JWT authorizer accepts it. */
  async function writeStatus(token: string): Promise<number> {
    return (await new CommentsApiClient(target, token).request('POST', '/posts', { title: 'JWT rules' }))
      .status;
  }

  it.each<[string, () => Promise<string>]>([
    ['a Cognito-shaped ID token (aud = the app client id, token_use id)', () => issuer.issueToken('frank')],
    [
      'a Cognito-shaped access token (no aud, client_id = the app client id, token_use access)',
      () =>
        issuer.issueToken('frank', {
          audience: null,
          claims: { token_use: 'access', client_id: issuer.audience, scope: 'aws.cognito.signin.user.admin' },
        }),
    ],
  ])('accepts %s on both', async (_case, mint) => {
    // Prepare
    const token = await mint();

    // Act
    const connect = await handshake(header(token));
    const write = await writeStatus(token);

    // Assess
    expect({ connect: connect.status, write }).toEqual({ connect: 101, write: 201 });
  });

  it.each<[string, () => Promise<string>]>([
    [
      'an aud that does not match while client_id does',
      () => issuer.issueToken('frank', { audience: 'another-app', claims: { client_id: issuer.audience } }),
    ],
    ['no exp', () => issuer.issueToken('frank', { expiresInSeconds: null })],
    [
      'a future nbf',
      () => issuer.issueToken('frank', { claims: { nbf: Math.floor(Date.now() / 1000) + 600 } }),
    ],
    [
      'a future iat',
      () => issuer.issueToken('frank', { claims: { iat: Math.floor(Date.now() / 1000) + 600 } }),
    ],
    [
      'an access token of another app client',
      () =>
        issuer.issueToken('frank', {
          audience: null,
          claims: { token_use: 'access', client_id: 'another-app' },
        }),
    ],
  ])('refuses a token with %s on both (401)', async (_case, mint) => {
    // Prepare
    const token = await mint();

    // Act
    const connect = await handshake(header(token));
    const write = await writeStatus(token);

    // Assess
    expect({ connect: connect.status, write }).toEqual({ connect: 401, write: 401 });
  });
});
