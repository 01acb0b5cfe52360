import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import {
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  SignJWT,
  type JWK,
  type KeyLike,
} from 'jose';

/**
 * The local stack's identity provider: an RS256 key pair kept in a file (so `npm run token` and a running
 * stack agree), its JWKS, and tokens shaped like Cognito's (iss, aud, sub, token_use, exp). Deployed
 * stages use Cognito or an OIDC issuer instead; the functions verify both the same way.
 */
export const DEFAULT_KEYS_FILE = path.resolve(__dirname, '..', '..', '.local', 'issuer', 'keys.json');
export const LOCAL_ISSUER_PATH = '/_local/issuer';
export const JWKS_PATH = `${LOCAL_ISSUER_PATH}/.well-known/jwks.json`;
const ALGORITHM = 'RS256';

interface StoredKeys {
  privateJwk: JWK;
  publicJwk: JWK;
}

export interface TokenOptions {
  /** Seconds until expiry; negative for an already expired token; null for none (refused everywhere). */
  expiresInSeconds?: number | null;
  issuer?: string;
  /** null leaves `aud` out, as in a Cognito access token (which names its app in `client_id`). */
  audience?: string | null;
  /** Extra claims. */
  claims?: Record<string, unknown>;
}

export class LocalIssuer {
  private constructor(
    readonly issuer: string,
    readonly audience: string,
    private readonly privateKey: KeyLike | Uint8Array,
    readonly publicJwk: JWK,
  ) {}

  /** Loads the key pair from the file, creating it on first use. */
  static async load(options: { issuer: string; audience: string; keysFile?: string }): Promise<LocalIssuer> {
    const keysFile = options.keysFile ?? DEFAULT_KEYS_FILE;
    let stored: StoredKeys;
    if (existsSync(keysFile)) {
      stored = JSON.parse(readFileSync(keysFile, 'utf8')) as StoredKeys;
    } else {
      const { privateKey, publicKey } = await generateKeyPair(ALGORITHM, { extractable: true });
      const kid = `local-${Date.now().toString(36)}`;
      stored = {
        privateJwk: { ...(await exportJWK(privateKey)), kid, alg: ALGORITHM },
        publicJwk: { ...(await exportJWK(publicKey)), kid, alg: ALGORITHM, use: 'sig' },
      };
      mkdirSync(path.dirname(keysFile), { recursive: true });
      writeFileSync(keysFile, JSON.stringify(stored), { mode: 0o600 });
    }
    const privateKey = await importJWK(stored.privateJwk, ALGORITHM);
    return new LocalIssuer(options.issuer, options.audience, privateKey, stored.publicJwk);
  }

  get jwks(): { keys: JWK[] } {
    return { keys: [this.publicJwk] };
  }

  /** A key set for jose's jwtVerify, for the local stack's own authorizer emulation. */
  keySet(): ReturnType<typeof createLocalJWKSet> {
    return createLocalJWKSet(this.jwks);
  }

  async issueToken(userId: string, options: TokenOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const jwt = new SignJWT({ token_use: 'id', ...options.claims })
      .setProtectedHeader({ alg: ALGORITHM, kid: this.publicJwk.kid ?? 'local', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(options.issuer ?? this.issuer);
    if (options.claims?.iat === undefined) jwt.setIssuedAt(now);
    if (options.audience !== null) jwt.setAudience(options.audience ?? this.audience);
    if (options.expiresInSeconds !== null) jwt.setExpirationTime(now + (options.expiresInSeconds ?? 3600));
    return jwt.sign(this.privateKey);
  }
}
