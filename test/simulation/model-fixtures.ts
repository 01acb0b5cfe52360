import { VirtualClock } from '../../simulation/clock';
import type { CallerEnvironment, ClientCpuCosts } from '../../simulation/models/environment';
import { Cpu, Semaphore } from '../../simulation/models/resources';

/** An execution environment for a model's client: a whole CPU and `sockets` per service. */
export function callerOn(clock: VirtualClock, sockets = 50, cpuShare = 1): CallerEnvironment {
  const cpu = new Cpu(clock, cpuShare);
  const agents = new Map<string, Semaphore>();
  return {
    cpu,
    sockets: (service) => {
      let agent = agents.get(service);
      if (!agent) {
        agent = new Semaphore(clock, sockets);
        agents.set(service, agent);
      }
      return agent;
    },
  };
}

export const FREE_CPU: ClientCpuCosts = {
  managementCallMs: 0,
  invokeCallMs: 0,
  dynamodbCallMs: 0,
  dynamodbItemMs: 0,
};

/** Runs `act` on a fresh clock until nothing is left, and returns what it resolved to. */
export async function onClock<T>(clock: VirtualClock, act: () => Promise<T>): Promise<T> {
  const result = act();
  await clock.run();
  return result;
}
