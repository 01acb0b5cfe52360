import type { Cpu, Semaphore } from './resources';

/** The services an execution environment's SDK clients call, each through its own HTTP agent. */
export type ServiceName = 'managementApi' | 'lambda' | 'dynamodb';

/**
 * What a modelled SDK client needs from the environment it runs in: its processor (each call costs client
 * CPU: serialising, signing, parsing) and its HTTP agents (at most 50 requests on the wire per client).
 */
export interface CallerEnvironment {
  readonly cpu: Cpu;
  sockets(service: ServiceName): Semaphore;
}

/** Client CPU per call, in milliseconds of one full core (see simulation/calibration.ts). */
export interface ClientCpuCosts {
  /** One PostToConnection through the SDK client and our ManagementApiNotifier. */
  readonly managementCallMs: number;
  /** One Lambda Invoke (Event) through the SDK client and our LambdaFanOutDispatcher. */
  readonly invokeCallMs: number;
  /** One DynamoDB call, before its items. */
  readonly dynamodbCallMs: number;
  /** Per item of a Query page: parsing the response and unmarshalling the item. */
  readonly dynamodbItemMs: number;
}
