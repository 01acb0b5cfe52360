import { LOCAL_ACCESS_KEY_ID, LOCAL_REGION, LOCAL_SECRET_ACCESS_KEY } from '../../../local/auth/credentials';
import { executeApiSigner, signExecuteApiRequest } from '../../../signing/execute-api-signer';

/**
 * The fuzz test's inputs (fuzz.test.ts): every one drawn from a seeded generator, so that a seed names a
 * run exactly. What is drawn aims at the local stack's parsers: percent-encodings, path segments, methods,
 * content types, bodies, SigV4 headers, request lines, upgrade requests and WebSocket frames.
 */

/** mulberry32: small, fast and good enough to pick inputs; the same seed draws the same run. */
export class Dice {
  private state: number;
  constructor(seed: number) {
    this.state = seed;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.state ^ (this.state >>> 15), 1 | this.state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(probability: number): boolean {
    return this.next() < probability;
  }
  bytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i += 1) out[i] = this.int(256);
    return out;
  }
  /** `length` characters of an ASCII alphabet. */
  text(length: number, alphabet = 'abcXYZ019-_.~!$&()*+,;=:@'): string {
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i += 1) out[i] = alphabet.charCodeAt(this.int(alphabet.length));
    return out.toString('latin1');
  }
}

const MALFORMED_ESCAPES = [
  '%',
  '%Z',
  '%ZZ',
  '%E0%A4%A',
  '%FF',
  '%C3%28',
  '%ED%A0%80',
  '%c0%af',
  '%%',
  '%u00e9',
];
const ODD_SEGMENTS = ['..', '.', '', '%2e%2e', '..%2F..', '%2F', '%00', '%20', '%E2%82%AC', '~', ';x=1', '@'];

/** A path segment: an id, a malformed escape somewhere in one, an odd segment, or something long. */
function segment(dice: Dice): string {
  switch (dice.int(5)) {
    case 0:
      return dice.text(1 + dice.int(20), 'abcdefghijklmnopqrstuvwxyz0123456789_-');
    case 1: {
      const id = dice.text(dice.int(8));
      return id + dice.pick(MALFORMED_ESCAPES) + dice.text(dice.int(4));
    }
    case 2:
      return dice.pick(ODD_SEGMENTS);
    case 3:
      return dice.text(dice.chance(0.1) ? 3000 + dice.int(5000) : 1 + dice.int(80));
    default: {
      // Any code point but the surrogates, which are not characters and have no UTF-8 encoding.
      const codePoint = 0x80 + dice.int(0x2ff80);
      return encodeURIComponent(
        String.fromCodePoint(codePoint >= 0xd800 && codePoint < 0xe000 ? 0xe9 : codePoint),
      );
    }
  }
}

function query(dice: Dice): string {
  if (dice.chance(0.6)) return '';
  const pairs = Array.from({ length: 1 + dice.int(4) }, () =>
    dice.pick([
      () => `${segment(dice)}=${segment(dice)}`,
      () => `cursor=${dice.pick(MALFORMED_ESCAPES)}`,
      () => dice.pick(['__proto__=x', 'constructor=y', 'limit=-1', 'limit=99999999999', 'a', '=', '&&']),
      () => `token=${dice.text(40)}`,
    ])(),
  );
  return `?${pairs.join('&')}`;
}

/** Paths that reach each endpoint, then mutated; `{}` is replaced by a segment. */
const APP_PATHS = [
  '/api/v1/posts',
  '/api/v1/posts/{}',
  '/api/v1/posts/{}/comments',
  '/api/v1/posts/{}/comments/{}',
  '/api/v1/websocket/connections',
  '/',
  '/{}',
  '/app.js',
  '/config.json',
  '/_local/token',
  '/_local/issuer/.well-known/jwks.json',
  '/_local/{}',
];
const gatewayPaths = (stage: string): string[] => [
  `/${stage}/@connections/{}`,
  `/${stage}/broadcast/comments`,
  `/${stage}/connections/count`,
  `/${stage}/{}`,
  '/2015-03-31/functions/{}/invocations',
  '/2015-03-31/functions/{}',
  '/_local/faults',
  '/_local/dead-letters',
  '/_local/gateway/crash',
  '/{}',
];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND', 'FOO'];
const CONTENT_TYPES = [
  'application/json',
  'APPLICATION/JSON; charset=utf-8',
  'text/plain',
  'application/octet-stream',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'garbage/x',
  '',
];

/** A body: empty, JSON-ish with wrong shapes, not UTF-8, random bytes, or bigger than a route wants. */
function body(dice: Dice): Buffer {
  switch (dice.int(8)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return Buffer.from(
        JSON.stringify(
          dice.pick([
            { content: dice.text(20) },
            { title: 1, body: null },
            { content: '\ud800' },
            [],
            null,
            'x',
            { postId: segment(dice), comment: { id: 1 } },
          ]),
        ),
      );
    case 2:
      return Buffer.concat([Buffer.from('{"content":"'), dice.bytes(1 + dice.int(40)), Buffer.from('"}')]);
    case 3:
      return Buffer.from('['.repeat(2000 + dice.int(20000)));
    case 4:
      return Buffer.from(JSON.stringify({ content: dice.text(64).repeat(1100) }));
    case 5:
      return Buffer.from(`{"content":${dice.text(10)}`);
    default:
      return dice.bytes(dice.int(2048));
  }
}

/** Ways to get SigV4 wrong, and one to get it right. */
const SIGV4_KINDS = [
  'none',
  'garbage',
  'bad-signature',
  'unknown-key',
  'stale',
  'future',
  'bad-date',
  'prototype-key',
  'prototype-header',
  'valid',
] as const;
type SigV4Kind = (typeof SIGV4_KINDS)[number];

async function sigV4Headers(
  kind: SigV4Kind,
  dice: Dice,
  url: string,
  method: string,
  payload: Buffer,
): Promise<Record<string, string>> {
  if (kind === 'none') return {};
  if (kind === 'garbage')
    return { authorization: dice.pick(['AWS4-HMAC-SHA256', dice.text(80), 'Bearer x']) };
  const secret = kind === 'unknown-key' ? 'not-the-secret' : LOCAL_SECRET_ACCESS_KEY;
  const keyId = kind === 'unknown-key' ? 'AKIDEXAMPLE' : LOCAL_ACCESS_KEY_ID;
  const offsetMs = kind === 'stale' ? -3_600_000 : kind === 'future' ? 3_600_000 : 0;
  const headers = await signExecuteApiRequest(
    executeApiSigner(LOCAL_REGION, { accessKeyId: keyId, secretAccessKey: secret }),
    url,
    { method, headers: { 'content-type': 'application/json' }, body: payload.toString('latin1') },
    new Date(Date.now() + offsetMs),
  );
  const authorization = headers.authorization ?? '';
  switch (kind) {
    case 'bad-signature':
      return { ...headers, authorization: authorization.replace(/.$/, (c) => (c === '0' ? '1' : '0')) };
    case 'bad-date':
      return { ...headers, 'x-amz-date': dice.pick(['yesterday', '20261340T256161Z', '']) };
    case 'prototype-key':
      return { ...headers, authorization: authorization.replace(LOCAL_ACCESS_KEY_ID, 'constructor') };
    case 'prototype-header':
      return {
        ...headers,
        authorization: authorization.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=constructor;host'),
      };
    default:
      return headers;
  }
}

export interface HttpCase {
  port: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Sent in chunks with no content-length, so only reading tells its size. */
  chunked: boolean;
  /** The client goes away half-way through the body. */
  abandon: boolean;
}

/**
 * The dev routes must be fuzzed without turning a fault on or crashing the gateway, which would make the
 * stack answer 5xx on purpose: only methods and bodies those routes refuse are sent to them.
 */
function devRouteSafe(dice: Dice, path: string, method: string, payload: Buffer): [string, Buffer] {
  if (path === '/_local/gateway/crash' && method === 'POST') {
    return [
      method,
      Buffer.from(
        dice.pick(['{"downForMs":-1}', '{"downForMs":"x"}', '{"downForMs":600001}', '{', '{"downForMs":']),
      ),
    ];
  }
  if (path === '/_local/faults' && (method === 'PUT' || method === 'POST')) {
    return [
      method,
      Buffer.from(dice.pick(['{"nope":1}', '{"goneRate":2}', '{"errorRate":"high"}', '[]', '{'])),
    ];
  }
  if (path === '/_local/faults' && method === 'DELETE') return ['GET', payload];
  if (path === '/_local/dead-letters' && method === 'DELETE') return ['GET', payload];
  return [method, payload];
}

/** Where the cases go: the local stack's two ports, the stage on the gateway port, and a user's token. */
export interface FuzzTarget {
  appPort: number;
  gatewayPort: number;
  stage: string;
  token: string;
}

export async function httpCase(dice: Dice, to: FuzzTarget): Promise<HttpCase> {
  const onGateway = dice.chance(0.5);
  const template = dice.pick(onGateway ? gatewayPaths(to.stage) : APP_PATHS);
  const path = template.replace(/\{\}/g, () => segment(dice)) + query(dice);
  const [method, payload] = devRouteSafe(dice, template, dice.pick(METHODS), body(dice));
  const port = onGateway ? to.gatewayPort : to.appPort;
  const host = `localhost:${port}`;
  const headers: Record<string, string> = { host };
  const contentType = dice.pick(CONTENT_TYPES);
  if (contentType) headers['content-type'] = contentType;
  if (dice.chance(0.2)) headers.origin = dice.pick(['http://localhost:3000', 'http://evil.example', 'null']);
  if (dice.chance(0.1)) headers['access-control-request-method'] = dice.pick(METHODS);
  if (dice.chance(0.1))
    headers['x-amz-invocation-type'] = dice.pick(['Event', 'DryRun', 'RequestResponse', 'Nope']);
  if (dice.chance(0.1)) headers.cookie = `${dice.text(5)}=${dice.text(10)}; ;=;`;
  // Claims about the body that are not true of it.
  if (dice.chance(0.05)) headers['content-encoding'] = dice.pick(['gzip', 'br', 'x-unknown']);
  if (dice.chance(0.05)) headers['content-md5'] = dice.text(24);
  if (onGateway) {
    const kind = dice.pick(SIGV4_KINDS);
    // A signed Event or RequestResponse would run a real function with garbage: only DryRun may be valid.
    const invokes = template.startsWith('/2015-03-31/functions/{}/invocations');
    if (kind === 'valid' && invokes) headers['x-amz-invocation-type'] = 'DryRun';
    Object.assign(headers, await sigV4Headers(kind, dice, `http://${host}${path}`, method, payload));
  } else if (dice.chance(0.4)) {
    headers.authorization = dice.pick([`Bearer ${to.token}`, `Bearer ${dice.text(60)}`, 'Bearer', to.token]);
  }
  return {
    port,
    method,
    path,
    headers,
    body: payload,
    chunked: dice.chance(0.2),
    abandon: dice.chance(0.02),
  };
}

/** Requests Node's client would never send: broken request lines, headers, framing and encodings. */
export function rawCase(dice: Dice, to: FuzzTarget): { port: number; data: Buffer } {
  const port = dice.pick([to.appPort, to.gatewayPort]);
  const path = dice.pick([
    `/${to.stage}/@connections/%ZZ`,
    '/2015-03-31/functions/%E0%A4%A/invocations',
    '/api/v1/posts/%FF',
    '//[',
    '*',
    'http://[x/',
    '/a b',
    `/${segment(dice)}`,
  ]);
  const line = dice.pick([
    `GET ${path} HTTP/1.1`,
    `${dice.pick(['get', 'CONNECT', 'G\x01T', 'PRI'])} ${path} HTTP/1.1`,
    `GET ${path} HTTP/9.9`,
    `GET ${path}`,
    dice.text(30),
  ]);
  const headers = dice.pick([
    'host: x\r\nconnection: close',
    'host: x\r\nbad header\r\nconnection: close',
    'host: x\r\nx-nul: a\x00b\r\nconnection: close',
    'host: x\r\nx-fold: a\r\n b\r\nconnection: close',
    `host: x\r\nx-big: ${'a'.repeat(20_000)}\r\nconnection: close`,
    'host: x\r\ncontent-length: 5\r\ncontent-length: 6\r\nconnection: close',
    'host: x\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\nconnection: close',
    'host: x\r\ntransfer-encoding: chunked\r\nconnection: close',
    'host: x\r\ncontent-length: -1\r\nconnection: close',
  ]);
  const tail = dice.pick([
    '',
    'zz\r\nnot hex\r\n\r\n',
    '0\r\n\r\n',
    '{"a":1}',
    dice.bytes(dice.int(200)).toString('latin1'),
  ]);
  const eol = dice.chance(0.1) ? '\n' : '\r\n';
  return {
    port,
    data: Buffer.from(`${line}${eol}${headers.replace(/\r\n/g, eol)}${eol}${eol}${tail}`, 'latin1'),
  };
}

/** An upgrade request for the WebSocket API, more or less broken. */
export function upgradeCase(dice: Dice, stage: string): Buffer {
  const path = dice.pick([
    `/${stage}`,
    `/${stage}?token=${dice.pick(MALFORMED_ESCAPES)}`,
    `/${stage}?token=${dice.text(50)}`,
    `/${stage}/${segment(dice)}`,
    '/nope',
    '//[',
    `/${stage}?${dice.text(3000)}`,
  ]);
  const key = dice.pick(['dGhlIHNhbXBsZSBub25jZQ==', '', 'short', dice.text(24)]);
  const version = dice.pick(['13', '12', 'x', '']);
  const extra = dice.pick([
    '',
    'sec-websocket-extensions: permessage-deflate; bogus\r\n',
    'content-length: 3\r\n',
    // The $connect authorizer and integration parse this list (the token travels in it).
    `sec-websocket-protocol: ${dice.pick([
      'realtime-comments.v1',
      `realtime-comments.v1, realtime-comments.bearer.${dice.text(40)}`,
      `realtime-comments.bearer.${dice.text(40)}`,
      'realtime-comments.v2, realtime-comments.bearer.a.b.c',
      'realtime-comments.v1, realtime-comments.v1',
      ', ,',
      dice.text(80),
      `realtime-comments.v1, realtime-comments.bearer.${'a'.repeat(10_000)}`,
    ])}\r\n`,
  ]);
  const upgrade = dice.pick(['websocket', 'WebSocket', 'h2c', '']);
  return Buffer.from(
    `${dice.pick(['GET', 'POST'])} ${path} HTTP/1.1\r\nhost: x\r\n` +
      `connection: Upgrade\r\nupgrade: ${upgrade}\r\n` +
      `sec-websocket-version: ${version}\r\nsec-websocket-key: ${key}\r\n${extra}\r\n`,
    'latin1',
  );
}

/** A frame a client might send: well-formed actions on odd ids, the special routes, junk, and too much. */
export function frame(dice: Dice): { data: string | Buffer; binary: boolean } {
  const text = (data: string): { data: string; binary: boolean } => ({ data, binary: false });
  switch (dice.int(10)) {
    case 0:
      return text(JSON.stringify({ action: dice.pick(['$disconnect', '$connect', '$default']) }));
    case 1:
      return text(
        JSON.stringify({
          action: dice.pick(['subscribe', 'unsubscribe', 'listComments']),
          postId: segment(dice),
          lastSeq: dice.pick([-1, 1.5, 'x', 2 ** 60]),
        }),
      );
    case 2:
      return text(JSON.stringify({ action: 'listComments', postId: 'p', cursor: dice.text(dice.int(200)) }));
    case 3:
      return { data: dice.bytes(1 + dice.int(500)), binary: true };
    case 4:
      return text(dice.pick(['', 'null', '[]', '{"action":null}', '{"action":{}}', '[[[[[[[[', '\ud800']));
    case 5:
      return text('x'.repeat(4 * 1024 + 1 + dice.int(1000)));
    case 6:
      return text(JSON.stringify({ action: dice.text(1 + dice.int(100)) }));
    default:
      return text(JSON.stringify({ action: 'ping' }));
  }
}
