import type { ThrottleConfig } from './stage-config';

/**
 * What one connected client costs the WebSocket stage, from the client SDK's defaults (client/options.ts;
 * test/lib/config/websocket-capacity.test.ts fails when they drift apart). A stage's throttles are sized
 * from the number of clients it is meant to hold, with the heartbeat, so that neither is changed alone.
 */
export interface ClientProfile {
  /** The SDK's `pingIntervalMs`, in seconds: each ping is one message in (and its pong one callback out). */
  readonly pingIntervalSeconds: number;
  /** The SDK's `maxConnectionMs`, in seconds: every connection is replaced this often, ahead of API Gateway's 2 hours. */
  readonly connectionSeconds: number;
  /** Posts a client follows, each resubscribed on every new connection. An assumption, not a limit. */
  readonly postsFollowed: number;
}

export const DEFAULT_CLIENT_PROFILE: ClientProfile = {
  pingIntervalSeconds: 60,
  connectionSeconds: 6_900,
  postsFollowed: 2,
};

/** Messages per second the WebSocket routes take from the connected clients, in the steady state. */
export interface WebSocketLoad {
  readonly pingsPerSecond: number;
  /** $connect and $disconnect of every replaced connection, and per post followed a subscribe and a page. */
  readonly otherPerSecond: number;
  readonly totalPerSecond: number;
}

export function webSocketLoad(
  clients: number,
  profile: ClientProfile = DEFAULT_CLIENT_PROFILE,
): WebSocketLoad {
  const pingsPerSecond = clients / profile.pingIntervalSeconds;
  const otherPerSecond = (clients * (2 + 2 * profile.postsFollowed)) / profile.connectionSeconds;
  return { pingsPerSecond, otherPerSecond, totalPerSecond: pingsPerSecond + otherPerSecond };
}

/**
 * The stage's rate stays this many times above the steady load: clients that reconnected together ping in
 * phase, a reconnect wave resubscribes at once, and API Gateway's throttles are targets, not exact ceilings.
 */
export const STAGE_HEADROOM = 2;

/**
 * The `ping` route's own limit, above the designed ping rate. It never binds while the stage holds the clients
 * it is sized for; beyond that, pings are refused first and subscribes, pages and connects keep the rest.
 */
export const PING_HEADROOM = 1.5;

/** Both buckets fill in two seconds at their rate: room for a wave without letting one client flood. */
const BURST_SECONDS = 2;

export interface WebSocketThrottles {
  /** The stage's default route throttle. */
  readonly stage: ThrottleConfig;
  /** The route-level throttle of `ping` (RouteSettings on the stage). */
  readonly ping: ThrottleConfig;
}

/** The WebSocket stage's throttles for `clients` connected clients, rounded up to tens. */
export function sizeWebSocketThrottles(
  clients: number,
  profile: ClientProfile = DEFAULT_CLIENT_PROFILE,
): WebSocketThrottles {
  if (!Number.isInteger(clients) || clients <= 0) {
    throw new RangeError(`A WebSocket stage is sized for a positive whole number of clients, got ${clients}`);
  }
  const load = webSocketLoad(clients, profile);
  const bucket = (rate: number): ThrottleConfig => {
    const rateLimit = roundUp(rate);
    return { rateLimit, burstLimit: rateLimit * BURST_SECONDS };
  };
  return {
    stage: bucket(load.totalPerSecond * STAGE_HEADROOM),
    ping: bucket(load.pingsPerSecond * PING_HEADROOM),
  };
}

/** The most connected clients these throttles hold with their headroom kept: what docs/deploy.md lists. */
export function clientsSupported(
  throttles: WebSocketThrottles,
  profile: ClientProfile = DEFAULT_CLIENT_PROFILE,
): number {
  const perClient = webSocketLoad(1, profile);
  const clients = Math.min(
    throttles.stage.rateLimit / (perClient.totalPerSecond * STAGE_HEADROOM),
    throttles.ping.rateLimit / (perClient.pingsPerSecond * PING_HEADROOM),
  );
  return Math.floor(clients + 1e-6);
}

/** Up to the next multiple of ten; the epsilon keeps 500.0000001 (floating point) at 500. */
function roundUp(value: number): number {
  return Math.ceil(value / 10 - 1e-9) * 10;
}
