/**
 * Two projects: `unit` (handlers, services, local-stack parts, CDK templates: no servers) and `e2e`
 * (real WebSocket clients, real DynamoDB Local and real Chromium against the local stack, which the
 * e2e global setup starts and stops, or against a deployed stage named by E2E_OUTPUTS_FILE).
 * `npm test` runs both; see package.json.
 */
const common = {
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': 'ts-jest' },
  setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
};

const deployedTarget = Boolean(process.env.E2E_OUTPUTS_FILE);

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      roots: ['<rootDir>/test'],
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/'],
      snapshotSerializers: ['<rootDir>/test/asset-hash-serializer.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      roots: ['<rootDir>/test/e2e'],
      testMatch: ['**/*.test.ts'],
      // Tests that need the local stack's fault injection cannot run against a deployed stage.
      testPathIgnorePatterns: [
        '/node_modules/',
        ...(deployedTarget ? ['<rootDir>/test/e2e/local-only/'] : []),
      ],
      globalSetup: '<rootDir>/test/e2e/global-setup.ts',
      globalTeardown: '<rootDir>/test/e2e/global-teardown.ts',
    },
  ],
  // Template tests bundle every function with esbuild and e2e tests wait on real sockets: room on 2 cores.
  // (testTimeout is a global option: inside `projects` it would be ignored.)
  testTimeout: 60000,
};
