import type { Random } from '../random';

/**
 * Every simulated WebSocket connection, by index: which are stale (their client vanished without a
 * $disconnect, so API Gateway answers 410), and what happened to each. Typed arrays rather than objects,
 * so that a million connections cost a few megabytes.
 *
 * Ids have the shape and length of API Gateway's (16 characters, e.g. `L0SM9cOFvHcCIhw=`), so that worker
 * batches and Query pages weigh what they would on AWS.
 */
export class ConnectionBook {
  readonly size: number;
  private readonly stale: Uint8Array;
  private readonly deliveries: Uint16Array;
  private readonly gone: Uint8Array;
  private readonly firstDeliveredAt: Float64Array;
  private readonly deadLettered: Uint8Array;
  private deliveredCount = 0;
  private duplicates = 0;
  private lastDeliveredAt = Number.NaN;
  private firstAt = Number.NaN;

  constructor(size: number, staleShare: number, random: Random) {
    this.size = size;
    this.stale = new Uint8Array(size);
    this.deliveries = new Uint16Array(size);
    this.gone = new Uint8Array(size);
    this.firstDeliveredAt = new Float64Array(size).fill(Number.NaN);
    this.deadLettered = new Uint8Array(size);
    for (let i = 0; i < size; i += 1) this.stale[i] = random.next() < staleShare ? 1 : 0;
  }

  static idOf(index: number): string {
    return `${index.toString(36).padStart(15, '0')}=`;
  }

  /** The index of an id made by idOf, or -1 for any other string. */
  static indexOf(id: string): number {
    if (id.length !== 16 || id.charCodeAt(15) !== 61) return -1;
    const index = parseInt(id.slice(0, 15), 36);
    return Number.isSafeInteger(index) ? index : -1;
  }

  ids(from: number, count: number): string[] {
    return Array.from({ length: count }, (_, i) => ConnectionBook.idOf(from + i));
  }

  isStale(index: number): boolean {
    return this.stale[index] === 1;
  }

  /** A push answered 200: the client has the message (once more, if it already had it). */
  recordDelivery(index: number, at: number): void {
    const count = this.deliveries[index] ?? 0;
    if (count === 0) {
      this.deliveredCount += 1;
      this.firstDeliveredAt[index] = at;
      if (!(at >= this.firstAt)) this.firstAt = at;
      if (!(at <= this.lastDeliveredAt)) this.lastDeliveredAt = at;
    } else {
      this.duplicates += 1;
    }
    if (count < 65535) this.deliveries[index] = count + 1;
  }

  recordGone(index: number): void {
    this.gone[index] = 1;
  }

  recordDeadLetter(index: number): void {
    this.deadLettered[index] = 1;
  }

  get delivered(): number {
    return this.deliveredCount;
  }

  get duplicateDeliveries(): number {
    return this.duplicates;
  }

  get firstDeliveryAt(): number {
    return this.firstAt;
  }

  get lastDeliveryAt(): number {
    return this.lastDeliveredAt;
  }

  /**
   * Where each connection of [from, from + count) ended: delivered, stale (410), dead-lettered (its id is
   * in a dead-letter record and it was never delivered), or lost (none of these: a model or code bug).
   */
  outcomes(from = 0, count = this.size): ConnectionOutcomes {
    const result: ConnectionOutcomes = { addressed: count, delivered: 0, stale: 0, deadLettered: 0, lost: 0 };
    for (let i = from; i < from + count; i += 1) {
      if ((this.deliveries[i] ?? 0) > 0) result.delivered += 1;
      else if (this.gone[i] === 1) result.stale += 1;
      else if (this.deadLettered[i] === 1) result.deadLettered += 1;
      else result.lost += 1;
    }
    return result;
  }

  /** Delivery times of [from, from + count) (ms, ascending), for percentiles. */
  deliveryTimes(from = 0, count = this.size): Float64Array {
    const times = this.firstDeliveredAt.slice(from, from + count).filter((t) => !Number.isNaN(t));
    return times.sort();
  }
}

export interface ConnectionOutcomes {
  addressed: number;
  delivered: number;
  stale: number;
  deadLettered: number;
  lost: number;
}
