import { configDefaults, defineConfig } from "vitest/config";

/**
 * Tests that need a WebGPU adapter (a Vulkan driver: a GPU's, or Mesa's software lavapipe). They
 * run in `npm run test:gpu` (vitest.gpu.config.ts), never in `npm test`, which must pass on a
 * machine without a GPU driver.
 */
export const GPU_TESTS = "training/test/**/*.gpu.test.ts";

/** The Node project's settings, shared with the GPU tests. */
export const NODE_TEST_SETTINGS = {
  testTimeout: 120_000,
  hookTimeout: 120_000,
  // Real-dataset tests parse ML-1M; running files one at a time keeps memory and the
  // two cores free for the kernels under test.
  fileParallelism: false,
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["training/test/**/*.test.ts", "worker/node-test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, GPU_TESTS],
          ...NODE_TEST_SETTINGS,
        },
      },
      "worker/vitest.config.ts",
    ],
  },
});
