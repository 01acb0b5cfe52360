import { scaleDown } from '../../simulation/scale-model';
import { AWS_SERVICES, PROD_STAGE, streamSettings, type SimulationSettings } from '../../simulation/settings';

describe('scaleDown', () => {
  const settings: SimulationSettings = {
    seed: 1,
    stage: PROD_STAGE,
    ...AWS_SERVICES,
    stream: streamSettings(PROD_STAGE),
    functions: {
      memoryMb: 256,
      broadcastInitMs: 76,
      workerInitMs: 72,
      publisherInitMs: 76,
      broadcastTimeoutMs: 29_000,
      workerTimeoutMs: 60_000,
      publisherTimeoutMs: 60_000,
    },
    clientCpu: { managementCallMs: 0.2, invokeCallMs: 0.2, dynamodbCallMs: 0.2, dynamodbItemMs: 0.002 },
  };

  it('divides every shared capacity and the audience by k, and keeps what one batch or page goes through', () => {
    // Act
    const { settings: scaled, workload } = scaleDown(
      settings,
      { posts: 1, subscribersPerPost: 1_000_000, stream: true },
      10,
    );

    // Assess
    expect(workload.subscribersPerPost).toBe(100_000);
    expect(scaled.managementApi.admission).toMatchObject({ ratePerSecond: 1_000, burst: 500 });
    expect(scaled.lambda.accountConcurrency).toBe(100);
    expect(scaled.stage.fanOutWorkerConcurrency).toBe(PROD_STAGE.fanOutWorkerConcurrency / 10);
    expect(scaled.dynamodb.pageBytes * 10).toBe(settings.dynamodb.pageBytes);
    expect(scaled.clientCpu.dynamodbItemMs).toBeCloseTo(0.02, 10);
    expect(scaled.stage.fanOutBatchSize).toBe(PROD_STAGE.fanOutBatchSize);
    expect(scaled.stage.fanOutConcurrency).toBe(PROD_STAGE.fanOutConcurrency);
  });

  it('scales many posts by their number, not their audience', () => {
    const { workload } = scaleDown(settings, { posts: 1_000, subscribersPerPost: 1_000, stream: true }, 10);
    expect(workload).toMatchObject({ posts: 100, subscribersPerPost: 1_000 });
  });
});
