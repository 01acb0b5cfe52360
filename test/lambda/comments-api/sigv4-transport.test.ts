import { createHash, createHmac } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import {
  HttpBroadcastClient,
  type HttpTransport,
  type TransportRequest,
} from '../../../lambda/comments-api/broadcast-client';
import { CommentService } from '../../../lambda/comments-api/comment-service';
import { createHandler } from '../../../lambda/comments-api/routes';
import {
  createSigV4Transport,
  RequestSigningError,
  regionFromEnv,
} from '../../../lambda/comments-api/sigv4-transport';
import { logger, metrics } from '../../../lambda/shared/telemetry';
import {
  fixedTimeDependencies,
  httpEvent,
  InMemoryCommentRepository,
  jsonBody,
  tokenClaims,
} from './fixtures';

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};
const SIGNING_TIME = new Date('2027-01-02T03:04:05.000Z');
const URL_TO_SIGN = 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev/broadcast/comments';
const BODY = JSON.stringify({ type: 'comment.created', data: { postId: 'P1' } });

/** A transport that records what it was asked to send and answers 200. */
function recorder(): { send: HttpTransport; sent: [string, TransportRequest][] } {
  const sent: [string, TransportRequest][] = [];
  return {
    sent,
    send: async (url, request) => {
      sent.push([url, request]);
      return new Response('{"connectionCount":0}', { status: 200 });
    },
  };
}

function post(body = BODY): TransportRequest {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: new AbortController().signal,
  };
}

const sha256 = (data: string): string => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * Recomputes the signature from what was sent, following the SigV4 specification with node:crypto only
 * (not the library under test): canonical request, string to sign, derived key, HMAC.
 */
function expectedSignature(url: string, request: TransportRequest, secret: string): string {
  const headers = request.headers;
  const authorization = headers.authorization ?? '';
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1] ?? '';
  const scope = /Credential=[^/]+\/([^,]+)/.exec(authorization)?.[1] ?? '';
  const [date = '', region = '', service = ''] = scope.split('/');
  const target = new URL(url);
  const canonicalQuery = [...target.searchParams.entries()]
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .sort()
    .join('&');
  const canonicalRequest = [
    request.method,
    target.pathname,
    canonicalQuery,
    ...signedHeaders.split(';').map((name) => `${name}:${(headers[name] ?? '').trim()}`),
    '',
    signedHeaders,
    sha256(request.body ?? ''),
  ].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', headers['x-amz-date'], scope, sha256(canonicalRequest)].join(
    '\n',
  );
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('createSigV4Transport', () => {
  it('signs for execute-api in the region with the credentials, then sends', async () => {
    // Prepare
    const { send, sent } = recorder();
    const transport = createSigV4Transport({
      region: 'eu-west-1',
      credentials,
      send,
      clock: () => SIGNING_TIME,
    });

    // Act
    await transport(URL_TO_SIGN, post());

    // Assess
    const [url, request] = sent[0] ?? [];
    expect(url).toBe(URL_TO_SIGN);
    expect(request?.method).toBe('POST');
    expect(request?.body).toBe(BODY);
    expect(request?.headers).toEqual({
      'content-type': 'application/json',
      host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'x-amz-date': '20270102T030405Z',
      'x-amz-security-token': 'session-token-example',
      'x-amz-content-sha256': sha256(BODY),
      authorization: expect.stringMatching(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20270102\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
      ),
    });
  });

  it('produces the signature an independent SigV4 computation arrives at', async () => {
    // Prepare
    const { send, sent } = recorder();
    const transport = createSigV4Transport({
      region: 'eu-west-1',
      credentials,
      send,
      clock: () => SIGNING_TIME,
    });

    // Act
    await transport(`${URL_TO_SIGN}?b=2&a=1`, post());

    // Assess
    const [url = '', request] = sent[0] ?? [];
    if (!request) throw new Error('nothing was sent');
    const signature = /Signature=([0-9a-f]{64})$/.exec(request.headers.authorization ?? '')?.[1];
    expect(signature).toBe(expectedSignature(url, request, credentials.secretAccessKey));
  });

  it('produces the signature the same signer computes again for the request as sent', async () => {
    // Prepare
    const { send, sent } = recorder();
    const transport = createSigV4Transport({
      region: 'eu-west-1',
      credentials,
      send,
      clock: () => SIGNING_TIME,
    });
    const verifier = new SignatureV4({
      service: 'execute-api',
      region: 'eu-west-1',
      credentials,
      sha256: Hash.bind(null, 'sha256'),
    });

    // Act
    await transport(URL_TO_SIGN, post());

    // Assess
    const [url = '', request] = sent[0] ?? [];
    if (!request) throw new Error('nothing was sent');
    const target = new URL(url);
    const { authorization, ...unsigned } = request.headers;
    const resigned = await verifier.sign(
      {
        method: request.method,
        protocol: target.protocol,
        hostname: target.hostname,
        path: target.pathname,
        query: {},
        headers: unsigned,
        body: request.body,
      },
      { signingDate: SIGNING_TIME },
    );
    expect(resigned.headers.authorization).toBe(authorization);
  });

  it('signs the x-correlation-id header the broadcast client adds, so it cannot be changed in transit', async () => {
    // Prepare
    const { send, sent } = recorder();
    const client = new HttpBroadcastClient({
      baseUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev',
      timeoutMs: 1000,
      send: createSigV4Transport({ region: 'eu-west-1', credentials, send, clock: () => SIGNING_TIME }),
      correlationId: () => 'corr-123',
    });

    // Act
    await client.publish({
      type: 'comment.created',
      data: {
        postId: 'P1',
        comment: {
          id: 'C1',
          postId: 'P1',
          userId: 'u1',
          content: 'Hi',
          createdAt: '2027-01-01T00:00:00.000Z',
        },
      },
    });

    // Assess
    const [url = '', request] = sent[0] ?? [];
    if (!request) throw new Error('nothing was sent');
    expect(request.headers['x-correlation-id']).toBe('corr-123');
    expect(request.headers.authorization).toContain(
      'SignedHeaders=content-type;host;prefer;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-correlation-id,',
    );
    const signature = /Signature=([0-9a-f]{64})$/.exec(request.headers.authorization ?? '')?.[1];
    expect(signature).toBe(expectedSignature(url, request, credentials.secretAccessKey));
    const tampered = { ...request, headers: { ...request.headers, 'x-correlation-id': 'corr-999' } };
    expect(expectedSignature(url, tampered, credentials.secretAccessKey)).not.toBe(signature);
  });

  it('binds the body: a different body gets a different signature', async () => {
    // Prepare
    const { send, sent } = recorder();
    const transport = createSigV4Transport({
      region: 'eu-west-1',
      credentials,
      send,
      clock: () => SIGNING_TIME,
    });

    // Act
    await transport(URL_TO_SIGN, post());
    await transport(URL_TO_SIGN, post(BODY.replace('P1', 'P2')));

    // Assess
    const [first, second] = sent.map(([, request]) => request.headers.authorization);
    expect(first).not.toBe(second);
  });

  it('signs the host with its port when the URL has one, as fetch sends it', async () => {
    // Prepare
    const { send, sent } = recorder();
    const transport = createSigV4Transport({ region: 'us-east-1', credentials, send });

    // Act
    await transport('http://127.0.0.1:3001/dev/connections/count', {
      method: 'GET',
      headers: { accept: 'application/json' },
      signal: new AbortController().signal,
    });

    // Assess
    const [url = '', request] = sent[0] ?? [];
    if (!request) throw new Error('nothing was sent');
    expect(request.headers.host).toBe('127.0.0.1:3001');
    expect(request.headers.authorization).toContain('/us-east-1/execute-api/aws4_request');
    expect(request.headers.authorization).toContain(
      `Signature=${expectedSignature(url, request, credentials.secretAccessKey)}`,
    );
  });

  it('resolves credentials from a provider on each request', async () => {
    // Prepare
    const { send, sent } = recorder();
    const provider = jest.fn(async () => ({ accessKeyId: 'ROLEKEY', secretAccessKey: 'secret' }));
    const transport = createSigV4Transport({ region: 'us-east-1', credentials: provider, send });

    // Act
    await transport(URL_TO_SIGN, post());

    // Assess
    expect(provider).toHaveBeenCalled();
    expect(sent[0]?.[1].headers.authorization).toContain('Credential=ROLEKEY/');
  });

  it('sends nothing, and logs and counts, when credentials cannot be resolved', async () => {
    // Prepare
    const { send, sent } = recorder();
    const error = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');
    const transport = createSigV4Transport({
      region: 'us-east-1',
      credentials: async () => {
        throw Object.assign(new Error('Could not load credentials from any providers'), {
          name: 'CredentialsProviderError',
        });
      },
      send,
    });

    // Act
    const sending = transport(URL_TO_SIGN, post());

    // Assess
    await expect(sending).rejects.toBeInstanceOf(RequestSigningError);
    expect(sent).toEqual([]);
    expect(error).toHaveBeenCalledWith(
      'Could not sign request',
      expect.objectContaining({ errorName: 'CredentialsProviderError' }),
    );
    expect(addMetric).toHaveBeenCalledWith('RequestSigningFailures', 'Count', 1);
  });

  it('never fails a comment write when signing the broadcast fails', async () => {
    // Prepare
    const { send, sent } = recorder();
    const comments = new InMemoryCommentRepository();
    await comments.createPost({
      id: 'P1',
      title: 't',
      body: '',
      userId: 'alice',
      createdAt: '2027-01-01T00:00:00Z',
    });
    const service = new CommentService({
      comments,
      broadcaster: new HttpBroadcastClient({
        baseUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/dev',
        timeoutMs: 1000,
        send: createSigV4Transport({
          region: 'eu-west-1',
          credentials: async () => {
            throw new Error('no credentials');
          },
          send,
        }),
      }),
      ...fixedTimeDependencies(),
      websocketEndpoint: '',
      eventRetentionSeconds: 86_400,
    });
    const error = jest.spyOn(logger, 'error');
    const addMetric = jest.spyOn(metrics, 'addMetric');

    // Act
    const result = await createHandler(service)(
      httpEvent('POST /api/v1/posts/{id}/comments', {
        pathParameters: { id: 'P1' },
        claims: tokenClaims('bob'),
        body: '{"content":"Hi"}',
      }),
    );

    // Assess
    expect(result.statusCode).toBe(201);
    expect(jsonBody(result)).toMatchObject({ userId: 'bob', content: 'Hi' });
    expect(comments.comments.size).toBe(1);
    expect(sent).toEqual([]);
    expect(error).toHaveBeenCalledWith('Broadcast failed', expect.objectContaining({ postId: 'P1' }));
    expect(addMetric).toHaveBeenCalledWith('RequestSigningFailures', 'Count', 1);
    expect(addMetric).toHaveBeenCalledWith('BroadcastFailures', 'Count', 1);
  });

  it('refuses an empty region at construction', () => {
    // Act
    const build = (): unknown => createSigV4Transport({ region: ' ', credentials });

    // Assess
    expect(build).toThrow('SigV4 signing needs a region');
  });
});

describe('regionFromEnv', () => {
  it('reads AWS_REGION, which the Lambda runtime sets', () => {
    // Act / Assess
    expect(regionFromEnv({ AWS_REGION: 'eu-central-1' })).toBe('eu-central-1');
  });

  it('fails naming AWS_REGION when it is missing', () => {
    // Act / Assess
    expect(() => regionFromEnv({})).toThrow('Missing required environment variable AWS_REGION');
  });
});
