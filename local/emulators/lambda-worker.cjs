'use strict';
// Runs one function's bundled handler inside a worker thread that has its own process.env, the way each
// Lambda function has its own environment. The parent sends invocations; the worker answers each by id.
const { parentPort, workerData } = require('node:worker_threads');
const path = require('node:path');

const { assetDir, handler, functionName, timeoutSeconds, memorySize } = workerData;
const dot = handler.lastIndexOf('.');
const modulePath = path.join(assetDir, handler.slice(0, dot));
const exportName = handler.slice(dot + 1);

let handlerFn;
let initError;
try {
  const mod = require(modulePath);
  handlerFn = mod[exportName];
  if (typeof handlerFn !== 'function') initError = new Error(`${handler} is not a function in ${modulePath}`);
} catch (error) {
  initError = error;
}

function serialiseError(error) {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

parentPort.on('message', async ({ id, event, requestId }) => {
  if (initError) {
    parentPort.postMessage({ id, error: serialiseError(initError) });
    return;
  }
  const deadline = Date.now() + timeoutSeconds * 1000;
  const context = {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memorySize),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
  try {
    const result = await handlerFn(event, context);
    parentPort.postMessage({ id, result });
  } catch (error) {
    parentPort.postMessage({ id, error: serialiseError(error) });
  }
});
parentPort.postMessage({ ready: true, initError: initError ? serialiseError(initError) : undefined });
