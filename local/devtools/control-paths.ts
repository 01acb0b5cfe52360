/**
 * The local stack's own routes: dev tools for tests, demos and the benchmark, never part of a deployed
 * stage. The first three are on the gateway port (next to the Management and Invoke APIs they act on),
 * the token route on the app port (next to the comments API and the demo page that sign in through it).
 */

/** `GET`/`PUT`/`DELETE`: the fault injection settings (devtools/faults.ts). */
export const FAULTS_PATH = '/_local/faults';
/** `POST {"downForMs": n}`: an outage of the WebSocket gateway. */
export const GATEWAY_CRASH_PATH = '/_local/gateway/crash';
/** `GET`/`DELETE`: async invocations that failed every retry. */
export const DEAD_LETTERS_PATH = '/_local/dead-letters';
/** `POST {"userId": "…"}`: a token from the local issuer. */
export const LOCAL_TOKEN_PATH = '/_local/token';
