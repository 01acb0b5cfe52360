import { cpus, loadavg } from 'node:os';
import { Readable } from 'node:stream';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LambdaFanOutDispatcher } from '../lambda/fan-out/fan-out-batch';
import { ManagementApiNotifier } from '../lambda/shared/connection-notifier';
import { DynamoConnectionAudience } from '../lambda/shared/connection-repository';
import type { ClientCpuCosts } from './models/environment';
import { ConnectionBook } from './models/connection-book';

/**
 * What one call costs the caller's CPU: our adapter and the real SDK client (serialising, SigV4 signing,
 * middleware, parsing the answer), with the network replaced by a stub that answers at once. This is the
 * CPU a Lambda instance spends per call whatever the service's latency, and at 256 MB it gets 0.145 of a
 * vCPU for it. It is measured on this machine (one core of it); Graviton cores are taken as equal.
 * Real TLS and sockets add to it, so the numbers are a lower bound.
 */
export interface Calibration {
  readonly measuredAt: string;
  readonly machine: { cpuModel: string; cpus: number; node: string; loadAverage: number[] };
  readonly rounds: number;
  readonly costs: ClientCpuCosts;
}

const credentials = { accessKeyId: 'AKIDSIMULATION', secretAccessKey: 'simulation-secret' };
const region = 'us-east-1';

type Answer = { statusCode: number; headers: Record<string, string>; body: string };
/** An SDK request handler that never touches the network. */
const stubHandler = (answer: () => Answer) => ({
  handle: async () => {
    const { statusCode, headers, body } = answer();
    return { response: { statusCode, headers, body: Readable.from([Buffer.from(body)]) } };
  },
  updateHttpClientConfig: () => undefined,
  httpHandlerConfigs: () => ({}),
});

/** CPU milliseconds (user + system) per call of `call`, run `calls` times with 50 in flight. */
async function cpuPerCall(calls: number, call: (i: number) => Promise<unknown>): Promise<number> {
  const started = process.cpuUsage();
  for (let i = 0; i < calls; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, calls - i) }, (_, k) => call(i + k)));
  }
  const used = process.cpuUsage(started);
  return (used.user + used.system) / 1000 / calls;
}

const PAYLOAD = JSON.stringify({
  type: 'comment.created',
  data: { postId: '01JSIM', comment: { id: '01JCOMMENT', content: 'x'.repeat(120) } },
  eventId: 'evt',
  seq: 1,
});

function queryPage(items: number): Answer {
  const Items = Array.from({ length: items }, (_, i) => ({ sk: { S: ConnectionBook.idOf(i) } }));
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/x-amz-json-1.0' },
    body: JSON.stringify({ Items, Count: items, ScannedCount: items }),
  };
}

/** Measures every cost `rounds` times and keeps each one's minimum: the least disturbed by other work. */
export async function calibrate(rounds = 5): Promise<Calibration> {
  const notifier = new ManagementApiNotifier(
    new ApiGatewayManagementApiClient({
      region,
      credentials,
      maxAttempts: 1,
      endpoint: 'https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod',
      requestHandler: stubHandler(() => ({ statusCode: 200, headers: {}, body: '' })),
    }),
  );
  const dispatcher = new LambdaFanOutDispatcher(
    new LambdaClient({
      region,
      credentials,
      requestHandler: stubHandler(() => ({ statusCode: 202, headers: {}, body: '' })),
    }),
    'fan-out-worker',
  );
  const batch = {
    broadcastId: 'b',
    batch: 1,
    generation: 1,
    envelope: JSON.parse(PAYLOAD) as { type: string },
    connectionIds: Array.from({ length: 200 }, (_, i) => ConnectionBook.idOf(i)),
  };
  let pageItems = 1;
  const audience = new DynamoConnectionAudience(
    DynamoDBDocumentClient.from(
      new DynamoDBClient({ region, credentials, requestHandler: stubHandler(() => queryPage(pageItems)) }),
    ),
    'connections',
  );
  const readAll = async (): Promise<void> => {
    for await (const page of audience.postSubscribers('01JSIM')) void page;
  };
  const best = { managementCallMs: Infinity, invokeCallMs: Infinity, small: Infinity, large: Infinity };
  const LARGE = 5_000;
  for (let round = 0; round < rounds + 1; round += 1) {
    const management = await cpuPerCall(2_000, (i) => notifier.send(ConnectionBook.idOf(i), PAYLOAD));
    const invoke = await cpuPerCall(500, () => dispatcher.dispatch(batch));
    pageItems = 1;
    const small = await cpuPerCall(500, readAll);
    pageItems = LARGE;
    const large = await cpuPerCall(20, readAll);
    // The first round warms the JIT up and is not kept.
    if (round === 0) continue;
    best.managementCallMs = Math.min(best.managementCallMs, management);
    best.invokeCallMs = Math.min(best.invokeCallMs, invoke);
    best.small = Math.min(best.small, small);
    best.large = Math.min(best.large, large);
  }
  const dynamodbItemMs = Math.max(0, (best.large - best.small) / (LARGE - 1));
  return {
    measuredAt: new Date().toISOString(),
    machine: {
      cpuModel: cpus()[0]?.model ?? 'unknown',
      cpus: cpus().length,
      node: process.version,
      loadAverage: loadavg(),
    },
    rounds,
    costs: {
      managementCallMs: round(best.managementCallMs),
      invokeCallMs: round(best.invokeCallMs),
      dynamodbCallMs: round(best.small),
      dynamodbItemMs: round(dynamodbItemMs, 5),
    },
  };
}

const round = (value: number, digits = 4): number => Math.round(value * 10 ** digits) / 10 ** digits;
