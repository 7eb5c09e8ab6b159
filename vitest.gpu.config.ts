// `npm run test:gpu`: the tests that need a WebGPU adapter (*.gpu.test.ts), kept out of
// `npm test`. The npm script first runs training/src/cli/check-gpu.ts, which stops with one line
// saying what to install when Dawn finds no adapter.
import { defineConfig } from "vitest/config";
import { GPU_TESTS, NODE_TEST_SETTINGS } from "./vitest.config.ts";

export default defineConfig({
  test: {
    name: "gpu",
    include: [GPU_TESTS],
    ...NODE_TEST_SETTINGS,
  },
});
