import { isValidCorrelationId } from '../../contracts/correlation';
import { isRecord } from '../../contracts/json';
import { parseBroadcastEnvelope, type BroadcastEnvelope } from '../../contracts/protocol';

/**
 * A broadcast accepted with `Prefer: respond-async`, queued as an asynchronous invocation of the broadcast
 * function itself: the HTTP answer (202) goes back at once, and this job does the publish in the
 * background, exactly as a synchronous broadcast would have.
 */
export interface PublishJob {
  kind: 'publish';
  /** Returned to the caller in the 202, and logged by the job: follows one broadcast through the logs. */
  jobId: string;
  envelope: BroadcastEnvelope;
  correlationId?: string;
}

export function isPublishJob(event: unknown): boolean {
  return isRecord(event) && event.kind === 'publish';
}

/**
 * Checks a job event. Only the broadcast function invokes itself with one, so this guards against our own
 * mistakes and hand-made redrives; the envelope goes through the same parser as the HTTP body did.
 */
export function parsePublishJob(event: unknown): PublishJob {
  if (!isRecord(event) || event.kind !== 'publish' || typeof event.jobId !== 'string' || event.jobId === '') {
    throw new Error('Not a publish job: needs kind "publish" and a jobId');
  }
  const envelope = parseBroadcastEnvelope(JSON.stringify(event.envelope ?? null));
  if (!envelope.ok) throw new Error(`Not a publish job: ${envelope.error.message}`);
  return {
    kind: 'publish',
    jobId: event.jobId,
    envelope: envelope.value,
    ...(isValidCorrelationId(event.correlationId) ? { correlationId: event.correlationId } : {}),
  };
}

/** The correlation id of a job event, read before the event is checked (the invocation logs under it). */
export function correlationIdOfJob(event: unknown): string | undefined {
  const correlationId = isRecord(event) ? event.correlationId : undefined;
  return isValidCorrelationId(correlationId) ? correlationId : undefined;
}
