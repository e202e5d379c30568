import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['functions/adapters/local/polyfills.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    env: {
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      RUNBOOK_AUTOPILOT_CHECK_TOOL_OUTPUTS: '1',
    },
    benchmark: { include: ['test/bench/**/*.bench.ts'] },
  },
});
