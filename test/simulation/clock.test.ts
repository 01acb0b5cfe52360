import { SimulationStalledError, VirtualClock } from '../../simulation/clock';
import { lognormal, lognormalMean, seededRandom } from '../../simulation/random';

describe('VirtualClock', () => {
  it('fires events in time order, ties first-in first-out, and advances only between them', async () => {
    // Prepare
    const clock = new VirtualClock();
    const fired: string[] = [];
    clock.schedule(20, () => fired.push(`b@${clock.now()}`));
    clock.schedule(10, () => fired.push(`a@${clock.now()}`));
    clock.schedule(20, () => fired.push(`c@${clock.now()}`));

    // Act
    const end = await clock.run();

    // Assess
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(end).toBe(20);
    expect(clock.pending).toBe(0);
  });

  it('runs every continuation of an instant before moving on, so chained sleeps add up exactly', async () => {
    // Prepare
    const clock = new VirtualClock();
    const seen: number[] = [];
    const chain = async (): Promise<void> => {
      for (let i = 0; i < 3; i += 1) {
        await clock.sleep(5);
        await Promise.resolve();
        seen.push(clock.now());
      }
    };
    const other = clock.sleep(12).then(() => seen.push(-clock.now()));

    // Act
    const done = chain();
    await clock.run();
    await Promise.all([done, other]);

    // Assess
    expect(seen).toEqual([5, 10, -12, 15]);
  });

  it('takes no real time: a day of virtual sleeps finishes at once', async () => {
    // Prepare
    const clock = new VirtualClock();
    const started = Date.now();

    // Act
    const done = clock.sleep(24 * 60 * 60 * 1000);
    await clock.run();
    await done;

    // Assess
    expect(clock.now()).toBe(86_400_000);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('never goes back: an event scheduled in the past fires now', async () => {
    // Prepare
    const clock = new VirtualClock();
    const times: number[] = [];
    clock.schedule(10, () => clock.at(3, () => times.push(clock.now())));

    // Act
    await clock.run();

    // Assess
    expect(times).toEqual([10]);
  });

  it('stops at untilMs and throws past maxEvents', async () => {
    // Prepare
    const clock = new VirtualClock();
    const tick = (): void => clock.schedule(1, tick);
    tick();

    // Act
    const reached = await clock.run({ untilMs: 50 });

    // Assess
    expect(reached).toBe(50);
    await expect(clock.run({ maxEvents: 100 })).rejects.toThrow(SimulationStalledError);
  });
});

describe('seeded randomness', () => {
  it('repeats a stream for the same seed and label, and differs across labels', () => {
    // Prepare
    const a = seededRandom(7).fork('x');
    const b = seededRandom(7).fork('x');
    const c = seededRandom(7).fork('y');

    // Act
    const draws = (random: typeof a): number[] => Array.from({ length: 5 }, () => random.next());

    // Assess
    const first = draws(a);
    expect(draws(b)).toEqual(first);
    expect(draws(c)).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('draws a lognormal with the asked median and 99th percentile', () => {
    // Prepare
    const sample = lognormal({ p50Ms: 20, p99Ms: 80 }, seededRandom(1));

    // Act
    const values = Array.from({ length: 50_000 }, sample).sort((x, y) => x - y);

    // Assess
    expect(values[25_000]).toBeGreaterThan(19);
    expect(values[25_000]).toBeLessThan(21);
    expect(values[49_500]).toBeGreaterThan(72);
    expect(values[49_500]).toBeLessThan(88);
    const mean = values.reduce((sum, v) => sum + v, 0) / values.length;
    expect(Math.abs(mean - lognormalMean({ p50Ms: 20, p99Ms: 80 }))).toBeLessThan(0.5);
  });
});
