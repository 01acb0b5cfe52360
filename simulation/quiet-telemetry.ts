/**
 * Imported first by the simulation's entry points, before any function code: the Powertools logger and
 * metrics read their settings when lambda/shared/telemetry.ts is loaded. A simulated million deliveries
 * must not print a million log lines or metric documents; the simulation counts outcomes itself.
 */
import asyncHooks from 'node:async_hooks';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_TRACE_ENABLED = 'false';
process.env.POWERTOOLS_SERVICE_NAME ??= 'simulation';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

/**
 * The Powertools tracer loads the X-Ray SDK, whose context (cls-hooked) installs an async hook with a
 * destroy callback when it is imported. With tracing off it is never read, but it still runs for every
 * promise, and the simulation's promises are counted in millions: they took 70 % of its time. The
 * simulation alone (never the functions) hands out inert hooks; Node's own AsyncLocalStorage does not use
 * this export.
 */
const inertHook: asyncHooks.AsyncHook = { enable: () => inertHook, disable: () => inertHook };
asyncHooks.createHook = () => inertHook;

/**
 * A saturated quota answers hundreds of thousands of 429s, each thrown by the modelled SDK client and caught
 * by our notifier. Nobody reads their stack traces here, and capturing them was most of their cost.
 */
Error.stackTraceLimit = 0;

export {};
