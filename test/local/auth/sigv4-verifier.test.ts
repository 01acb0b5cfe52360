import { verifySigV4, type SignedRequest } from '../../../local/auth/sigv4-verifier';
import { executeApiSigner, signExecuteApiRequest } from '../../../signing/execute-api-signer';

const CREDENTIALS = { LOCALTESTKEY: 'local-test-secret' };
const URL_ = 'http://127.0.0.1:3001/dev/broadcast/comments?b=2&a=1';
const BODY = '{"postId":"p1"}';

/** A request signed as the comments function signs one, as the verifier receives it. */
async function signedRequest(): Promise<SignedRequest> {
  const signer = executeApiSigner('us-east-1', {
    accessKeyId: 'LOCALTESTKEY',
    secretAccessKey: CREDENTIALS.LOCALTESTKEY,
  });
  const headers = await signExecuteApiRequest(signer, URL_, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: BODY,
  });
  const lowerCased = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const url = new URL(URL_);
  return {
    method: 'POST',
    host: url.host,
    path: url.pathname,
    query: url.searchParams,
    headers: lowerCased,
    body: Buffer.from(BODY),
  };
}

const withAuthorization = (request: SignedRequest, authorization: string): SignedRequest => ({
  ...request,
  headers: { ...request.headers, authorization },
});

describe('verifySigV4 on hostile input', () => {
  it('accepts the request as signed', async () => {
    // Act
    const result = await verifySigV4(await signedRequest(), CREDENTIALS);

    // Assess
    expect(result).toEqual({ ok: true, accessKeyId: 'LOCALTESTKEY' });
  });

  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'treats the access key id %s as unknown, not as an inherited property',
    async (keyId) => {
      // Prepare
      const request = await signedRequest();
      const authorization = request.headers.authorization?.replace('LOCALTESTKEY', keyId) ?? '';

      // Act
      const result = await verifySigV4(withAuthorization(request, authorization), CREDENTIALS);

      // Assess
      expect(result).toEqual({ ok: false, reason: 'unknown-key' });
    },
  );

  it.each(['constructor;host', 'host;__proto__;x-amz-date', 'host;;x-amz-date', 'toString'])(
    'refuses SignedHeaders=%s as a mismatch instead of throwing',
    async (signedHeaders) => {
      // Prepare
      const request = await signedRequest();
      const authorization = (request.headers.authorization ?? '').replace(
        /SignedHeaders=[^,]+/,
        `SignedHeaders=${signedHeaders}`,
      );

      // Act
      const result = await verifySigV4(withAuthorization(request, authorization), CREDENTIALS);

      // Assess
      expect(result).toEqual({ ok: false, reason: 'mismatch' });
    },
  );

  it.each(['a:b:c', ':', 'host:notaport', '[::1]:80'])(
    'refuses a signature over the odd Host %s as a mismatch instead of throwing',
    async (host) => {
      // Prepare
      const request = { ...(await signedRequest()), host };

      // Act
      const result = await verifySigV4(request, CREDENTIALS);

      // Assess
      expect(result).toEqual({ ok: false, reason: 'mismatch' });
    },
  );

  it('keeps a query parameter named __proto__ in what it re-signs', async () => {
    // Prepare
    const request = await signedRequest();
    const tampered = { ...request, query: new URLSearchParams('b=2&a=1&__proto__=x') };

    // Act
    const result = await verifySigV4(tampered, CREDENTIALS);

    // Assess
    expect(result).toEqual({ ok: false, reason: 'mismatch' });
  });

  it.each([
    ['garbage', 'malformed'],
    ['AWS4-HMAC-SHA256 Credential=LOCALTESTKEY/2026/x', 'malformed'],
  ])('refuses Authorization: %s as %s', async (authorization, reason) => {
    // Act
    const result = await verifySigV4(withAuthorization(await signedRequest(), authorization), CREDENTIALS);

    // Assess
    expect(result).toEqual({ ok: false, reason });
  });

  it.each([
    ['not a date', 'malformed'],
    ['20000101T000000Z', 'stale'],
    ['20261340T256161Z', 'stale'],
  ])('refuses X-Amz-Date: %s as %s', async (date, reason) => {
    // Prepare
    const request = await signedRequest();

    // Act
    const result = await verifySigV4(
      { ...request, headers: { ...request.headers, 'x-amz-date': date } },
      CREDENTIALS,
    );

    // Assess
    expect(result).toEqual({ ok: false, reason });
  });
});
