import { VirtualClock } from '../../simulation/clock';
import { ConnectionBook } from '../../simulation/models/connection-book';
import { ManagementApiModel, TokenBucket, type Admission } from '../../simulation/models/management-api';
import { seededRandom } from '../../simulation/random';
import { ManagementApiNotifier } from '../../lambda/shared/connection-notifier';
import { callerOn, FREE_CPU, onClock } from './model-fixtures';

const FIXED = { p50Ms: 20, p99Ms: 20 };

function model(admission: Admission, { stale = 0, errorShare = 0, size = 1000 } = {}) {
  const clock = new VirtualClock();
  const book = new ConnectionBook(size, stale, seededRandom(1));
  const api = new ManagementApiModel(clock, seededRandom(2), book, { latency: FIXED, admission, errorShare });
  return { clock, book, api };
}

describe('TokenBucket', () => {
  it('gives the burst at once, then refills at its rate, never above the burst', () => {
    // Prepare
    const bucket = new TokenBucket(10, 5);

    // Act
    const atZero = Array.from({ length: 8 }, () => bucket.take(0)).filter(Boolean).length;
    const afterHalfASecond = Array.from({ length: 8 }, () => bucket.take(500)).filter(Boolean).length;
    const afterAnHour = Array.from({ length: 8 }, () => bucket.take(3_600_500)).filter(Boolean).length;

    // Assess
    expect(atZero).toBe(5);
    expect(afterHalfASecond).toBe(5);
    expect(afterAnHour).toBe(5);
  });
});

describe('ManagementApiModel', () => {
  const bucket = (ratePerSecond: number, burst: number, otherTrafficPerSecond = 0): Admission => ({
    kind: 'tokenBucket',
    ratePerSecond,
    burst,
    otherTrafficPerSecond,
  });

  it('answers 429 once the account bucket is empty, and admits at the rate after that', async () => {
    // Prepare
    const { clock, api } = model(bucket(100, 10));
    const ids = Array.from({ length: 40 }, (_, i) => ConnectionBook.idOf(i));

    // Act
    const first = await onClock(clock, () => Promise.all(ids.map((id) => api.post(id))));
    const start = clock.now();
    const spaced = await onClock(clock, async () => {
      const outcomes = [];
      for (const id of ids) outcomes.push(await api.post(id));
      return outcomes;
    });

    // Assess
    expect(first.filter((o) => o === 'delivered')).toHaveLength(10);
    expect(first.filter((o) => o === 'throttled')).toHaveLength(30);
    expect(api.stats.throttled).toBe(30);
    // One call every 20 ms (the latency) is 50/s, under the 100/s rate: all admitted.
    expect(spaced.every((o) => o === 'delivered')).toBe(true);
    expect(clock.now() - start).toBeCloseTo(40 * 20, 0);
  });

  it('leaves the rest of the account its share: other traffic lowers the rate left for pushes', async () => {
    // Prepare
    const { clock, api } = model(bucket(100, 1, 90));
    const ids = Array.from({ length: 1000 }, (_, i) => ConnectionBook.idOf(i));

    // Act
    const outcomes = await onClock(clock, async () => {
      const all = [];
      for (const id of ids) {
        all.push(api.post(id));
        await clock.sleep(1);
      }
      return Promise.all(all);
    });

    // Assess: about 10/s over one second of tries.
    const delivered = outcomes.filter((o) => o === 'delivered').length;
    expect(delivered).toBeGreaterThanOrEqual(10);
    expect(delivered).toBeLessThanOrEqual(12);
  });

  it('answers 410 for stale connections and records what each connection got', async () => {
    // Prepare
    const { clock, api, book } = model(bucket(10_000, 5_000), { stale: 0.5, size: 200 });
    const ids = Array.from({ length: 200 }, (_, i) => ConnectionBook.idOf(i));

    // Act
    await onClock(clock, () => Promise.all(ids.map((id) => api.post(id))));

    // Assess
    const outcomes = book.outcomes();
    expect(outcomes.delivered + outcomes.stale).toBe(200);
    expect(outcomes.stale).toBe(api.stats.gone);
    expect(outcomes.stale).toBeGreaterThan(70);
    expect(outcomes.stale).toBeLessThan(130);
    expect(book.firstDeliveryAt).toBe(10);
  });

  it('queues on the local gateway instead of refusing: its throughput is the measured ceiling', async () => {
    // Prepare
    const { clock, api } = model({ kind: 'server', callsPerSecond: 50 });
    const ids = Array.from({ length: 100 }, (_, i) => ConnectionBook.idOf(i));

    // Act
    const outcomes = await onClock(clock, () => Promise.all(ids.map((id) => api.post(id))));

    // Assess
    expect(outcomes.every((o) => o === 'delivered')).toBe(true);
    expect(clock.now()).toBeGreaterThan(2000);
    expect(clock.now()).toBeLessThan(2050);
  });

  it("speaks the SDK's language to our ManagementApiNotifier: 410 gone, 429 and 500 retryable failures", async () => {
    // Prepare
    const { clock, api } = model(bucket(10_000, 1), { stale: 0, errorShare: 0 });
    const staleBook = model(bucket(10_000, 5), { stale: 1 });
    const failing = model(bucket(10_000, 5), { errorShare: 1 });
    const notifier = (m: ManagementApiModel, c: VirtualClock) =>
      new ManagementApiNotifier(m.client(callerOn(c), FREE_CPU));

    // Act
    const [delivered, throttled] = await onClock(clock, () =>
      Promise.all([
        notifier(api, clock).send(ConnectionBook.idOf(1), 'x'),
        notifier(api, clock).send(ConnectionBook.idOf(2), 'x'),
      ]),
    );
    const gone = await onClock(staleBook.clock, () =>
      notifier(staleBook.api, staleBook.clock).send(ConnectionBook.idOf(1), 'x'),
    );
    const error = await onClock(failing.clock, () =>
      notifier(failing.api, failing.clock).send(ConnectionBook.idOf(1), 'x'),
    );

    // Assess
    expect(delivered).toEqual({ outcome: 'delivered' });
    expect(throttled).toMatchObject({ outcome: 'failed', retryable: true });
    expect(throttled.error?.name).toBe('LimitExceededException');
    expect(gone).toEqual({ outcome: 'gone' });
    expect(error).toMatchObject({ outcome: 'failed', retryable: true });
  });

  it("charges the caller's CPU and holds one of its sockets per call", async () => {
    // Prepare
    const { clock, api } = model(bucket(10_000, 5_000));
    const caller = callerOn(clock, 2, 0.5);
    const notifier = new ManagementApiNotifier(api.client(caller, { ...FREE_CPU, managementCallMs: 1 }));

    // Act
    await onClock(clock, () =>
      Promise.all(Array.from({ length: 4 }, (_, i) => notifier.send(ConnectionBook.idOf(i), 'x'))),
    );

    // Assess: 2 ms of CPU each at half a core, one after another; the last two wait for a socket, the
    // fourth until the second call's answer at 4 + 20 ms, and is answered 20 ms later.
    expect(caller.cpu.usage.busyMs).toBe(8);
    expect(caller.sockets('managementApi').usage.waits).toBe(2);
    expect(clock.now()).toBeCloseTo(4 + 20 + 20, 6);
  });
});
