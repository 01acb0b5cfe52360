import 'aws-sdk-client-mock-jest';

/**
 * Runs before every test file. The SDK must never find real credentials or probe the instance-metadata
 * address, and Powertools stays quiet: a test that asserts on logs spies on the logger instead. Tracing is
 * off as it is outside Lambda anyway (no AWS_EXECUTION_ENV), stated so that no test depends on that rule.
 */
const defaults: Record<string, string> = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'dummy',
  AWS_SECRET_ACCESS_KEY: 'dummy',
};
for (const [name, value] of Object.entries(defaults)) {
  process.env[name] ??= value;
}
process.env.AWS_EC2_METADATA_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_TRACE_ENABLED = 'false';
