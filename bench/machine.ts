import * as os from 'node:os';
import { sleep } from '../contracts/backoff';
import type { MachineInfo } from './result';

/** Share of all cores busy over `ms`, from the kernel's per-core time counters. */
export async function cpuBusyShare(ms: number): Promise<number> {
  const total = (): { busy: number; all: number } =>
    os.cpus().reduce(
      (sum, cpu) => {
        const { user, nice, sys, idle, irq } = cpu.times;
        return { busy: sum.busy + user + nice + sys + irq, all: sum.all + user + nice + sys + idle + irq };
      },
      { busy: 0, all: 0 },
    );
  const before = total();
  await sleep(ms);
  const after = total();
  const all = after.all - before.all;
  return all > 0 ? Math.round(((after.busy - before.busy) / all) * 100) / 100 : 0;
}

export function machineInfo(cpuBusyBeforeStart: number): MachineInfo {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    loadAverageAtStart: os.loadavg().map((load) => Math.round(load * 100) / 100),
    cpuBusyBeforeStart,
  };
}
