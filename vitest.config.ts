import { defineConfig } from "vitest/config";

// One gate for every package and service. Integration tests reach the real
// nats-server and Postgres (see packages/runtime/src/testing.ts) and isolate
// themselves by unique stream, consumer and database names.
export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "services/*/test/**/*.test.ts", "test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
