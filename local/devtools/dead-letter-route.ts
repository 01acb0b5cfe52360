import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalLambdaInvokeApi } from '../emulators/lambda-invoke-api';
import { requestUrl, sendJson } from '../http-io';
import { DEAD_LETTERS_PATH } from './control-paths';

/**
 * `GET /_local/dead-letters`: the async invocations that failed every retry, with the Invoke API's counts,
 * so that a test or the benchmark can see what a deployed stage would have sent to its on-failure
 * destination. `DELETE` empties the list first and answers the same way.
 */
export function createDeadLetterRoute(
  invokeApi: Pick<LocalLambdaInvokeApi, 'deadLetters' | 'stats' | 'clearDeadLetters'>,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    if (requestUrl(req)?.pathname !== DEAD_LETTERS_PATH) return false;
    if (req.method === 'DELETE') invokeApi.clearDeadLetters();
    else if (req.method !== 'GET') {
      sendJson(res, 405, { message: 'Use GET or DELETE' });
      return true;
    }
    sendJson(res, 200, { ...invokeApi.stats(), deadLetters: invokeApi.deadLetters });
    return true;
  };
}
