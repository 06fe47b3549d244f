/** Tests run as native ES modules (middy is ESM-only), transformed by SWC: fast, no type check here; `npm run lint` type-checks. */
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } },
    ],
  },
  testTimeout: 60_000,
  // Each test file's modules stay in memory under --experimental-vm-modules: a worker is replaced once it
  // holds more than this after a file (and with a limit set, Jest runs files in a worker, even one, never
  // in its own process), so that the whole suite fits where one process would reach V8's 4 GB heap limit
  // (it did, after 120 files in CI on 2026-11-30).
  workerIdleMemoryLimit: '1536MB',
};
