import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { RetryPolicy } from '../../contracts/backoff';
import { CommentsApiRoutes, type CommentsApiRouteKey } from '../../contracts/comments-api-routes';
import { sizeWebSocketThrottles } from './websocket-capacity';

/** The stages this app can be synthesized for; `cdk synth -c stage=<name>`. */
export const STAGE_NAMES = ['dev', 'prod'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** The stage used when `-c stage=…` is not given. */
export const DEFAULT_STAGE: StageName = 'dev';

/** API Gateway stage throttling: steady-state requests (or messages) per second, and the burst bucket. */
export interface ThrottleConfig {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/**
 * Who issues the tokens the APIs accept. `cognito` builds a user pool and its app client in the data stack;
 * `oidc` trusts an existing OpenID Connect issuer (Auth0, Entra ID, another account's user pool, …).
 */
export type IdentityConfig =
  | {
      readonly kind: 'cognito';
      /**
       * Whether anyone may create an account (SignUp). Off: users are created by an operator
       * (AdminCreateUser), because open sign-up on Cognito's default email sender invites bot accounts;
       * turn it on with a verified SES sender and threat protection.
       * @default false
       */
      readonly selfSignUp?: boolean;
      /**
       * Cognito threat protection (adaptive authentication, compromised-credential checks) in full-function
       * mode. Needs the Plus feature plan, billed per monthly active user.
       * @default false
       */
      readonly threatProtection?: boolean;
      /**
       * Sends the pool's e-mails (invitations, verification codes, password resets) through Amazon SES.
       * @default Cognito's own sender: no-reply@verificationemail.com, 50 e-mails a day per account
       */
      readonly email?: CognitoEmailConfig;
    }
  | {
      readonly kind: 'oidc';
      /** The `iss` claim, exactly: an https URL without a trailing slash. */
      readonly issuerUrl: string;
      /** The accepted `aud` (or Cognito `client_id`) claim. */
      readonly audience: string;
      /** @default `${issuerUrl}/.well-known/jwks.json` */
      readonly jwksUrl?: string;
    };

/**
 * A verified Amazon SES identity the user pool sends its e-mails from (Cognito's `DEVELOPER` sending
 * account). Cognito calls SES through its service-linked role; the identity must be verified (and, while
 * the SES account is in the sandbox, so must every recipient). See docs/deploy.md, "Cognito e-mail".
 */
export interface CognitoEmailConfig {
  /** The SES identity's ARN: `arn:aws:ses:<region>:<account>:identity/<address or domain>`. */
  readonly sesSourceArn: string;
  /** The From header: `no-reply@example.com` or `Example <no-reply@example.com>`, an address of that identity. */
  readonly from: string;
  /** @default replies go to the From address */
  readonly replyTo?: string;
  /** An SES configuration set (event publishing, dedicated IP pools). @default none */
  readonly configurationSet?: string;
}

/** Per-route throttles of the comments API, by route key; routes not named get the stage's `httpThrottle`. */
export type RouteThrottleConfig = Readonly<Partial<Record<CommentsApiRouteKey, ThrottleConfig>>>;

/**
 * Everything that differs between stages, resolved once in bin/ and passed down as props. Constructs never
 * read process.env or context themselves, so a test builds exactly what `cdk synth` builds.
 */
export interface StageConfig {
  readonly stageName: StageName;
  /**
   * Tables, the user pool, log groups, queues and the alarm key. RETAIN_ON_UPDATE_OR_DELETE keeps them (and
   * their data) when a stack is deleted or a resource replaced, but not when their own creation is rolled
   * back: a first deploy that fails leaves no empty orphans behind (DeletionPolicy RetainExceptOnCreate).
   */
  readonly removalPolicy: RemovalPolicy;
  readonly pointInTimeRecovery: boolean;
  /** DynamoDB deletion protection on the tables, and termination protection on the data stack. */
  readonly deletionProtection: boolean;
  /**
   * Connected clients the WebSocket stage is sized for, heartbeats included: its throttles below are derived
   * from it (lib/config/websocket-capacity.ts; docs/deploy.md, "Capacity"). Change this, not the throttles.
   */
  readonly webSocketClients: number;
  /** The WebSocket stage's default route throttle: $connect, subscribe, pages, $default. */
  readonly webSocketThrottle: ThrottleConfig;
  /** The `ping` route's own throttle: under overload, heartbeats are refused before anything else. */
  readonly webSocketPingThrottle: ThrottleConfig;
  /** Applies to the broadcast and comments HTTP API stages. */
  readonly httpThrottle: ThrottleConfig;
  /** Tighter limits on the comments API's write routes, where one caller can create rows (and broadcasts). */
  readonly commentsApiRouteThrottle: RouteThrottleConfig;
  readonly identity: IdentityConfig;
  /**
   * Whether $connect accepts a connection without a token, as a read-only subscriber. Off: every WebSocket
   * connection carries a valid token in its `token` query parameter.
   */
  readonly allowAnonymousSubscribers: boolean;
  /** Posts one WebSocket connection may subscribe to at once; bounds the rows (and fan-out) one client costs. */
  readonly maxSubscriptionsPerConnection: number;
  /** Origins the comments API answers CORS preflights for. */
  readonly corsAllowOrigins: readonly string[];
  readonly logRetention: RetentionDays;
  /**
   * Seconds a connection row lives after $connect. API Gateway closes every WebSocket after 2 hours, so
   * 2 h plus a 15-minute margin means TTL only ever reaps rows of connections that are already gone.
   */
  readonly connectionTtlSeconds: number;
  /** How long the comments API waits for the broadcast API before answering its own caller. */
  readonly broadcastTimeoutMs: number;
  /** postToConnection calls one broadcast (or one fan-out worker batch) keeps in flight. */
  readonly fanOutConcurrency: number;
  /**
   * Connection ids per fan-out worker batch. An audience of at most this many is delivered by the
   * broadcast function before it answers; a larger one is cut into batches that workers deliver in
   * parallel after the answer.
   */
  readonly fanOutBatchSize: number;
  /**
   * How a push throttled (429) or failed (5xx, network) by the Management API is retried: exponential
   * backoff with full jitter, retry n waiting a random time below min(maxMs, baseMs * 2^(n-1)). The
   * functions double the ceiling each retry (the contract's default factor); no variable carries another.
   */
  readonly fanOutRetry: Omit<RetryPolicy, 'factor'>;
  /**
   * Generations of a fan-out worker batch that attempt delivery: the broadcast's batch is the first; a
   * worker that reached some of its connections hands the others on as the next. The connections the
   * last generation could not reach are dead-lettered.
   */
  readonly fanOutMaxGenerations: number;
  /**
   * Fan-out worker instances that may run at once (reserved concurrency): a huge audience queues its
   * batches rather than taking the account's whole concurrency from $connect and comment writes. Reserving
   * needs an account concurrency limit of at least 100 more than every reservation (docs/deploy.md).
   */
  readonly fanOutWorkerConcurrency: number;
  /**
   * Seconds Lambda keeps trying an asynchronous fan-out batch (throttled or failed) before it goes to the
   * dead-letter queue with exactly the connections it did not reach.
   */
  readonly fanOutMaxEventAgeSeconds: number;
  /**
   * Memory (MB) of the functions that fan out: the broadcast function, the fan-out worker and the event
   * publisher. Lambda gives CPU in proportion to memory, and their cold starts and JSON work are CPU-bound:
   * at 256 MB a cold start of the whole chain delays a large audience's first delivery by seconds
   * (docs/capacity.md, which chose prod's value). The other functions keep the default, 256 MB.
   */
  readonly fanOutMemoryMb: number;
  /** The durable publishing path: the comments table's stream and the publisher function (docs/fan-out.md). */
  readonly publishing: PublishingConfig;
  /**
   * Seconds each comment change event is kept (the comments table's TTL on event items): a client that
   * resubscribes with a `lastSeq` this recent gets the events it missed replayed; an older one gets a
   * reset snapshot.
   */
  readonly eventRetentionSeconds: number;
  /** Dashboard, alarms and where they go. */
  readonly operations: OperationsConfig;
}

export interface PublishingConfig {
  /** Stream records per publisher invocation. */
  readonly batchSize: number;
  /**
   * Concurrent batches per stream shard. Records of one post (one partition key) stay in order whatever
   * the factor; more lets busy posts in the same shard publish side by side.
   */
  readonly parallelizationFactor: number;
  /** Retries of a batch that failed, bisected down to the record that fails, before it is dead-lettered. */
  readonly maxRetryAttempts: number;
  /** Seconds a record is tried at most, whatever its retries; then it goes to the failure queue. */
  readonly maxRecordAgeSeconds: number;
}

export interface OperationsConfig {
  /** Alarms cost money and page people: on where someone answers them. */
  readonly alarms: boolean;
  /**
   * Subscribed to the alarm topic when set (the address must confirm the subscription).
   * @default no subscription; subscribe a pager or chat integration to the AlarmTopicArn output instead
   */
  readonly alarmEmail?: string;
  /** API 5xx (and WebSocket integration/execution errors) in 5 minutes that raise an alarm. */
  readonly http5xxThreshold: number;
  /** Deliveries failed after every retry, in 5 minutes, that raise an alarm. */
  readonly fanOutFailureThreshold: number;
}

const FAN_OUT_RETRY: Omit<RetryPolicy, 'factor'> = { maxAttempts: 6, baseMs: 50, maxMs: 2000 };
/**
 * Prod retries soon and long: a large broadcast keeps the account's Management API quota saturated for
 * seconds, a 429 costs no quota, and a short backoff capped at 500 ms keeps the bucket busy; 30 attempts
 * outlast a quota shared with heartbeats or other broadcasts (docs/capacity.md).
 */
const PROD_FAN_OUT_RETRY: Omit<RetryPolicy, 'factor'> = { maxAttempts: 30, baseMs: 10, maxMs: 500 };

const TWO_HOURS_AND_A_QUARTER = 2 * 60 * 60 + 15 * 60;
const ONE_HOUR = 60 * 60;
const SIX_HOURS = 6 * ONE_HOUR;
const ONE_DAY = 24 * ONE_HOUR;

const { createPost, createComment, updateComment, deleteComment } = CommentsApiRoutes;

const DEV_WEBSOCKET_CLIENTS = 1_000;
const PROD_WEBSOCKET_CLIENTS = 20_000;
const devWebSocket = sizeWebSocketThrottles(DEV_WEBSOCKET_CLIENTS);
const prodWebSocket = sizeWebSocketThrottles(PROD_WEBSOCKET_CLIENTS);

export const stageConfigs: Readonly<Record<StageName, StageConfig>> = {
  dev: {
    stageName: 'dev',
    removalPolicy: RemovalPolicy.DESTROY,
    pointInTimeRecovery: false,
    deletionProtection: false,
    webSocketClients: DEV_WEBSOCKET_CLIENTS,
    webSocketThrottle: devWebSocket.stage,
    webSocketPingThrottle: devWebSocket.ping,
    httpThrottle: { rateLimit: 50, burstLimit: 100 },
    commentsApiRouteThrottle: {
      [createPost]: { rateLimit: 2, burstLimit: 5 },
      [createComment]: { rateLimit: 10, burstLimit: 20 },
      [updateComment]: { rateLimit: 5, burstLimit: 10 },
      [deleteComment]: { rateLimit: 5, burstLimit: 10 },
    },
    identity: { kind: 'cognito' },
    allowAnonymousSubscribers: false,
    maxSubscriptionsPerConnection: 20,
    corsAllowOrigins: ['*'],
    logRetention: RetentionDays.ONE_WEEK,
    connectionTtlSeconds: TWO_HOURS_AND_A_QUARTER,
    broadcastTimeoutMs: 3000,
    fanOutConcurrency: 50,
    // Small enough that a few dozen clients already take the worker path, as in the e2e suite.
    fanOutBatchSize: 50,
    fanOutRetry: FAN_OUT_RETRY,
    fanOutMaxGenerations: 3,
    fanOutWorkerConcurrency: 5,
    fanOutMemoryMb: 256,
    fanOutMaxEventAgeSeconds: ONE_HOUR,
    publishing: {
      batchSize: 10,
      parallelizationFactor: 2,
      maxRetryAttempts: 20,
      maxRecordAgeSeconds: ONE_HOUR,
    },
    eventRetentionSeconds: ONE_DAY,
    operations: { alarms: false, http5xxThreshold: 5, fanOutFailureThreshold: 10 },
  },
  prod: {
    stageName: 'prod',
    removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    pointInTimeRecovery: true,
    deletionProtection: true,
    webSocketClients: PROD_WEBSOCKET_CLIENTS,
    webSocketThrottle: prodWebSocket.stage,
    webSocketPingThrottle: prodWebSocket.ping,
    httpThrottle: { rateLimit: 500, burstLimit: 1000 },
    commentsApiRouteThrottle: {
      [createPost]: { rateLimit: 10, burstLimit: 20 },
      [createComment]: { rateLimit: 100, burstLimit: 200 },
      [updateComment]: { rateLimit: 50, burstLimit: 100 },
      [deleteComment]: { rateLimit: 50, burstLimit: 100 },
    },
    identity: { kind: 'cognito', threatProtection: true },
    allowAnonymousSubscribers: false,
    maxSubscriptionsPerConnection: 20,
    // No browser origin is known yet; narrow this once the front end has a domain.
    corsAllowOrigins: ['*'],
    logRetention: RetentionDays.ONE_MONTH,
    connectionTtlSeconds: TWO_HOURS_AND_A_QUARTER,
    broadcastTimeoutMs: 3000,
    // Sized by `npm run simulate` (docs/capacity.md) so that a 100,000-subscriber broadcast finishes within
    // 1.15 × the default quota's 10 s: its 200 batches of 500 all run at once (an async event beyond the
    // worker cap is throttled and retried after 1 s, 2 s, 4 s …), 10 pushes in flight each (a 256 MB worker
    // is CPU-bound at a few hundred a second), and 429s retried soon.
    fanOutConcurrency: 10,
    fanOutBatchSize: 500,
    fanOutRetry: PROD_FAN_OUT_RETRY,
    fanOutMaxGenerations: 3,
    fanOutWorkerConcurrency: 200,
    fanOutMemoryMb: 1024,
    fanOutMaxEventAgeSeconds: SIX_HOURS,
    publishing: {
      batchSize: 10,
      parallelizationFactor: 10,
      maxRetryAttempts: 100,
      maxRecordAgeSeconds: SIX_HOURS,
    },
    eventRetentionSeconds: ONE_DAY,
    operations: { alarms: true, http5xxThreshold: 5, fanOutFailureThreshold: 10 },
  },
};

export class UnknownStageError extends Error {
  constructor(stage: string) {
    super(
      `Unknown stage "${stage}". Valid stages: ${STAGE_NAMES.join(', ')}. Pass one with -c stage=<name>.`,
    );
    this.name = 'UnknownStageError';
  }
}

export function isStageName(value: string): value is StageName {
  return (STAGE_NAMES as readonly string[]).includes(value);
}

/**
 * Resolves the `stage` context value (a string, or undefined when not given) to its config.
 * @throws UnknownStageError for anything but a known stage name
 */
export function resolveStageConfig(stage: unknown = DEFAULT_STAGE): StageConfig {
  if (typeof stage !== 'string' || !isStageName(stage)) {
    throw new UnknownStageError(String(stage));
  }
  return stageConfigs[stage];
}
