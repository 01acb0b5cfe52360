import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRecord } from '../../contracts/json';
import { readBody, requestUrl, sendInternalError, sendJson } from '../http-io';
import { FAULTS_PATH } from './control-paths';
import {
  FaultSettingsError,
  mergeFaults,
  NO_FAULTS,
  type FailureCounter,
  type FaultSettings,
} from './faults';

/** A fault update is a handful of switches; anything bigger is not one. */
const MAX_UPDATE_BYTES = 64 * 1024;

/**
 * The fault settings of a running local stack, which the emulators read on every call, and the admin
 * route that changes them: `GET /_local/faults` shows them, `PUT` (or `POST`) a JSON object of settings
 * merges it in (an unknown key or a bad value changes nothing and answers 400), `DELETE` turns every fault
 * off. A counted fault (`streamConsumerFailures`) lives in its counter: setting it arms that many failures,
 * and the settings show how many are left.
 */
export class FaultControl {
  private settings: FaultSettings;

  constructor(
    initial: FaultSettings,
    private readonly counters: { readonly streamConsumerFailures?: FailureCounter } = {},
  ) {
    this.settings = initial;
    const armedAtStart = initial.streamConsumerFailures;
    if (armedAtStart > 0) counters.streamConsumerFailures?.arm(armedAtStart);
  }

  /** The settings now; an arrow so the emulators can be handed it as their `faults` callback. */
  readonly current = (): FaultSettings => {
    const counter = this.counters.streamConsumerFailures;
    return counter ? { ...this.settings, streamConsumerFailures: counter.left() } : this.settings;
  };

  /**
   * The switches as the emulators read them on every call (each PostToConnection, each request): without
   * the counted fault, which its counter's owner reads itself, so no copy is made per call.
   */
  readonly switches = (): FaultSettings => this.settings;

  /** Applies a partial update; throws FaultSettingsError (and changes nothing) on a bad one. */
  update(update: Record<string, unknown>): FaultSettings {
    this.settings = mergeFaults(this.settings, update);
    if ('streamConsumerFailures' in update) {
      this.counters.streamConsumerFailures?.arm(this.settings.streamConsumerFailures);
    }
    return this.current();
  }

  /** Handles `/_local/faults`; returns false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    if (requestUrl(req)?.pathname !== FAULTS_PATH) return false;
    this.answer(req, res).catch(() => sendInternalError(res));
    return true;
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET') return sendJson(res, 200, this.current());
    if (req.method === 'DELETE') {
      this.settings = NO_FAULTS;
      this.counters.streamConsumerFailures?.arm(0);
      return sendJson(res, 200, this.current());
    }
    if (req.method !== 'PUT' && req.method !== 'POST') {
      return sendJson(res, 405, { message: 'Use GET, PUT or DELETE' });
    }
    const body = await readBody(req, MAX_UPDATE_BYTES);
    if (body === undefined) {
      return sendJson(res, 413, { message: `Body must be at most ${MAX_UPDATE_BYTES} bytes` });
    }
    try {
      const update: unknown = JSON.parse(body.toString('utf8'));
      if (!isRecord(update)) throw new FaultSettingsError('Body must be a JSON object of fault settings');
      sendJson(res, 200, this.update(update));
    } catch (error) {
      sendJson(res, 400, { message: (error as Error).message });
    }
  }
}
