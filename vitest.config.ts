import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["training/test/**/*.test.ts", "worker/node-test/**/*.test.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real-dataset tests parse ML-1M; running files one at a time keeps memory and the
          // two cores free for the kernels under test.
          fileParallelism: false,
        },
      },
      "worker/vitest.config.ts",
    ],
  },
});
