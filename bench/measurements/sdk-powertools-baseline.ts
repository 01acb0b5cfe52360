/**
 * The second cold-start baseline (bench/measurements/cold-start.ts): the SDK clients of
 * sdk-clients-baseline.ts, plus what lambda/shared/telemetry.ts builds at module scope (Powertools Logger,
 * Metrics and Tracer, each client captured by the tracer), bundled as the functions are. Between the two
 * baselines is what Powertools costs; between this one and a function, what our own code costs.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { clients } from './sdk-clients-baseline';

const tracer = new Tracer();

export const telemetry = {
  logger: new Logger(),
  metrics: new Metrics({ namespace: 'RealtimeComments' }),
  tracer,
  clients: {
    documents: tracer.captureAWSv3Client(clients.documents),
    management: tracer.captureAWSv3Client(clients.management),
    lambda: tracer.captureAWSv3Client(clients.lambda),
  },
};

export const handler = async (): Promise<void> => undefined;
