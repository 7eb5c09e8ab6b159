// Worker tests run inside workerd (Miniflare) through Cloudflare's Vitest integration, with the
// R2 binding from wrangler.toml; global-setup.ts builds the fixture models in Node first.
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";

export default defineProject({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: fileURLToPath(new URL("../wrangler.toml", import.meta.url)) },
      miniflare: { bindings: { MODEL_REFRESH_SECONDS: "0" } },
    }),
  ],
  test: {
    name: "worker",
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
  },
});
