import { randomBytes } from 'node:crypto';
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { BENCH_USER_ID, CONNECT_TIMEOUT_MS, type MeasurementContext } from '../measurement-context';
import { PlainWebSocketServer } from '../plain-ws-server';
import type { FanOutRow } from '../result';
import { deliveryStats, round } from '../stats';
import { boundedFanOut } from '../strategies';
import { subscriberQueryCost } from '../subscriber-reads';
import { createComment, managementClient } from '../target';
import { sharedNow } from '../worker-protocol';

/** The same bytes the comments API broadcasts for a new comment, with `content` as the marker. */
function commentCreatedPayload(postId: string, marker: string): string {
  const createdAt = new Date().toISOString();
  return JSON.stringify({
    type: 'comment.created',
    data: {
      postId,
      comment: {
        id: randomBytes(13).toString('hex').slice(0, 26).toUpperCase(),
        postId,
        userId: BENCH_USER_ID,
        content: marker,
        createdAt,
      },
    },
  });
}

/**
 * One event to real WebSocket clients at each fan-out size, three ways: our whole path (POST a comment →
 * comments API → broadcast API → Management API → client), a plain `ws` server writing to the same
 * clients (what this machine can push at most) and the Management API driven directly by a bounded loop
 * (its ceiling).
 */
export async function measureFanOutToClients(context: MeasurementContext): Promise<FanOutRow[]> {
  const { config, pool } = context;
  const sizes = [...config.fanOutSizes].sort((a, b) => a - b);
  const largest = Math.max(...sizes);
  const plain = await PlainWebSocketServer.start();
  const management = managementClient(context.target, { maxSockets: config.ceilingConcurrency });
  const rows: FanOutRow[] = [];
  try {
    context.log(`fan-out: connecting ${largest} clients to the plain ws baseline …`);
    const opened = await pool.open(
      'plain',
      plain.url,
      Array.from({ length: largest }, (_, index) => ({ index, posts: [] })),
      { queryIndex: true, concurrency: 50, timeoutMs: CONNECT_TIMEOUT_MS, label: 'connecting (plain ws)' },
    );
    if (opened.failed > 0) throw new Error(`plain ws baseline: ${opened.failed} clients failed to connect`);
    for (const clients of sizes) {
      context.log(`fan-out to ${clients} clients: ours, plain ws, Management API …`);
      rows.push(await fanOutRow(context, clients, plain, management));
    }
  } finally {
    management.destroy();
    await pool.closePool('plain', false);
    await plain.stop();
  }
  return rows;
}

async function fanOutRow(
  context: MeasurementContext,
  clients: number,
  plain: PlainWebSocketServer,
  management: ApiGatewayManagementApiClient,
): Promise<FanOutRow> {
  const { config, target } = context;
  const postId = context.postFor(clients);

  const oursMarker = context.marker(`fanout-ours-${clients}`);
  const oursStart = sharedNow();
  await createComment(target, BENCH_USER_ID, postId, oursMarker);
  const createMs = sharedNow() - oursStart;
  const ours = {
    ...deliveryStats(oursStart, await context.receipts(oursMarker, clients), clients),
    createMs: round(createMs) ?? 0,
  };

  const plainMarker = context.marker(`fanout-ws-${clients}`);
  const { startedAt: plainStart, sent } = plain.sendToFirst(
    clients,
    commentCreatedPayload(postId, plainMarker),
  );
  if (sent < clients)
    context.notes.push(`plain ws: only ${sent} of ${clients} baseline clients were connected`);
  const plainWs = deliveryStats(plainStart, await context.receipts(plainMarker, clients), clients);

  const { connectionIds } = await subscriberQueryCost(target, postId);
  const apiMarker = context.marker(`fanout-api-${clients}`);
  const run = await boundedFanOut(
    management,
    connectionIds,
    commentCreatedPayload(postId, apiMarker),
    config.ceilingConcurrency,
    config.deliveryTimeoutMs,
  );
  const managementApi = deliveryStats(run.startedAt, await context.receipts(apiMarker, clients), clients);
  if (run.failed > 0)
    context.notes.push(`Management API ceiling, ${clients} clients: ${run.failed} calls failed`);

  const share = (a: number | null, b: number | null): number | null => (a && b ? round(a / b, 3) : null);
  return {
    clients,
    ours,
    plainWs,
    managementApi,
    throughputVsPlainWs: share(ours.deliveriesPerSecond, plainWs.deliveriesPerSecond),
    throughputVsManagementApi: share(ours.deliveriesPerSecond, managementApi.deliveriesPerSecond),
  };
}
