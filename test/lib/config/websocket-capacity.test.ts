import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { resolveClientOptions } from '../../../client/options';
import { STAGE_NAMES, stageConfigs } from '../../../lib/config/stage-config';
import {
  clientsSupported,
  DEFAULT_CLIENT_PROFILE,
  sizeWebSocketThrottles,
  webSocketLoad,
} from '../../../lib/config/websocket-capacity';
import { REPO_ROOT } from '../../../lib/constructs/handler-function';

/** API Gateway's default account quotas per region (docs/deploy.md, "Capacity"). */
const ACCOUNT_REQUESTS_PER_SECOND = 10_000;

describe('WebSocket capacity', () => {
  it("assumes the client SDK's own heartbeat and connection lifetime", () => {
    const settings = resolveClientOptions({ url: 'wss://example.com/prod', WebSocket: class {} as never });
    expect(DEFAULT_CLIENT_PROFILE.pingIntervalSeconds * 1000).toBe(settings.pingIntervalMs);
    expect(DEFAULT_CLIENT_PROFILE.connectionSeconds * 1000).toBe(settings.maxConnectionMs);
  });

  it('counts a ping a minute: 10,000 clients send 167 pings a second', () => {
    expect(Math.round(webSocketLoad(10_000).pingsPerSecond)).toBe(167);
    expect(webSocketLoad(10_000).totalPerSecond).toBeGreaterThan(webSocketLoad(10_000).pingsPerSecond);
  });

  it.each(STAGE_NAMES)('sizes the %s throttles from the clients the stage is for', (stage) => {
    const config = stageConfigs[stage];
    const sized = sizeWebSocketThrottles(config.webSocketClients);
    expect({ stage: config.webSocketThrottle, ping: config.webSocketPingThrottle }).toEqual(sized);
    expect(clientsSupported(sized)).toBeGreaterThanOrEqual(config.webSocketClients);
    const load = webSocketLoad(config.webSocketClients);
    // The ping route never binds at the designed size, and pings alone cannot take the whole stage.
    expect(config.webSocketPingThrottle.rateLimit).toBeGreaterThan(load.pingsPerSecond);
    expect(config.webSocketPingThrottle.rateLimit).toBeLessThan(config.webSocketThrottle.rateLimit);
    expect(config.webSocketThrottle.rateLimit).toBeGreaterThanOrEqual(2 * load.totalPerSecond);
    // Every ping is answered by a pong through the callback API: both count against the account quota.
    expect(2 * load.totalPerSecond).toBeLessThan(ACCOUNT_REQUESTS_PER_SECOND / 10);
  });

  it('refuses a stage sized for no clients', () => {
    expect(() => sizeWebSocketThrottles(0)).toThrow(RangeError);
  });

  it.each(STAGE_NAMES)('is what docs/deploy.md says of %s', (stage) => {
    const config = stageConfigs[stage];
    const docs = readFileSync(path.join(REPO_ROOT, 'docs', 'deploy.md'), 'utf8');
    const number = (value: number) => value.toLocaleString('en-US');
    const row =
      `| ${stage} | ${number(config.webSocketClients)} | ` +
      `${number(config.webSocketThrottle.rateLimit)}/s, burst ${number(config.webSocketThrottle.burstLimit)} | ` +
      `${number(config.webSocketPingThrottle.rateLimit)}/s, burst ${number(config.webSocketPingThrottle.burstLimit)} |`;
    expect(docs).toContain(row);
  });
});
