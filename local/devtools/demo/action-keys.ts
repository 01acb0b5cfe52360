/**
 * Idempotency keys of writes that have not succeeded, by what they write: sending the same text again
 * after a failure is the same action, so if the first attempt was stored and only its answer was lost,
 * the server answers with that comment instead of storing a second one.
 */
export class ActionKeys {
  private readonly keys = new Map<string, string>();

  /** The action's key: made the first time, the same on every retry until {@link done}. */
  keyFor(action: string): string {
    let key = this.keys.get(action);
    if (!key) {
      key = randomKey();
      this.keys.set(action, key);
    }
    return key;
  }

  done(action: string): void {
    this.keys.delete(action);
  }
}

function randomKey(): string {
  // randomUUID needs a secure context: http://localhost is one, a LAN address is not.
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
    '',
  );
}
