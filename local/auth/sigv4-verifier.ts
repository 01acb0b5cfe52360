import { createHash, timingSafeEqual } from 'node:crypto';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

/**
 * Verifies AWS Signature Version 4 on requests to the local stack's IAM-authorized routes (the broadcast
 * API, the Management API), the way API Gateway's AWS_IAM authorization does: the key must be one we
 * know, the date within five minutes, and the signature must match a re-signing of the same request with
 * that key's secret. Unsigned, tampered and stale requests are refused with 403.
 */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface SignedRequest {
  method: string;
  /** Host header as received (host[:port]). */
  host: string;
  /** The path exactly as received (still URL-encoded). */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
}

export type VerificationResult =
  | { ok: true; accessKeyId: string }
  | { ok: false; reason: 'missing' | 'malformed' | 'unknown-key' | 'stale' | 'mismatch' };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** `20261126T070000Z` → Date. */
function parseAmzDate(value: string | undefined): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value ?? '');
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s));
}

/** A header's value, never an inherited property (a signed header named `constructor` is just absent). */
const ownHeader = (headers: Record<string, string>, name: string): string | undefined =>
  Object.hasOwn(headers, name) && typeof headers[name] === 'string' ? headers[name] : undefined;

export async function verifySigV4(
  request: SignedRequest,
  credentials: Record<string, string>,
  now: number = Date.now(),
): Promise<VerificationResult> {
  const authorization = request.headers.authorization;
  if (!authorization) return { ok: false, reason: 'missing' };
  const match = AUTHORIZATION.exec(authorization);
  if (!match) return { ok: false, reason: 'malformed' };
  const [, accessKeyId = '', , region = '', service = '', signedHeaderList = '', signature = ''] = match;
  // Own keys only: a key id such as `constructor` must be unknown, not Object.prototype's.
  const secretAccessKey = Object.hasOwn(credentials, accessKeyId) ? credentials[accessKeyId] : undefined;
  if (secretAccessKey === undefined) return { ok: false, reason: 'unknown-key' };
  const signingDate = parseAmzDate(request.headers['x-amz-date']);
  if (!signingDate) return { ok: false, reason: 'malformed' };
  if (Math.abs(now - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) return { ok: false, reason: 'stale' };

  // A signed payload-hash header only vouches for the body if it is the hash of the body that arrived.
  const declaredHash = request.headers['x-amz-content-sha256'];
  if (
    declaredHash !== undefined &&
    declaredHash !== createHash('sha256').update(request.body).digest('hex')
  ) {
    return { ok: false, reason: 'mismatch' };
  }
  const signedHeaders = signedHeaderList.split(';');
  // Prototype-less, so that a name such as `__proto__` is a key like any other.
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const name of signedHeaders) {
    const value = name === 'host' ? request.host : ownHeader(request.headers, name);
    if (value === undefined) return { ok: false, reason: 'mismatch' };
    headers[name] = value;
  }
  const query: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  for (const [key, value] of request.query) {
    const existing = Object.hasOwn(query, key) ? query[key] : undefined;
    query[key] =
      existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const [hostname = request.host, port] = request.host.split(':');
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId, secretAccessKey },
    sha256: Hash.bind(null, 'sha256'),
  });
  // Whatever a client put in its headers, a re-signing that fails is a signature that does not match.
  const resigned = await signer
    .sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname,
        ...(port ? { port: Number(port) } : {}),
        // As received: the signer escapes it again, exactly as the client's signer did with the encoded path.
        path: request.path,
        query,
        headers,
        body: request.body.length > 0 ? request.body : undefined,
      },
      { signingDate, signableHeaders: new Set(signedHeaders) },
    )
    .catch(() => undefined);
  if (!resigned) return { ok: false, reason: 'mismatch' };
  const expected = /Signature=([0-9a-f]{64})/.exec(String(resigned.headers.authorization ?? ''))?.[1] ?? '';
  const matches =
    expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
  return matches ? { ok: true, accessKeyId } : { ok: false, reason: 'mismatch' };
}
