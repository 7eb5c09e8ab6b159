// Worker tests run inside workerd (Miniflare) through Cloudflare's Vitest integration, with the
// R2 and D1 bindings from wrangler.toml; global-setup.ts builds the fixture models in Node
// first, and apply-migrations.ts applies worker/migrations to the test's local D1.
import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";

const migrations = await readD1Migrations(fileURLToPath(new URL("migrations", import.meta.url)));

export default defineProject({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: fileURLToPath(new URL("../wrangler.toml", import.meta.url)) },
      // API_TOKEN "" (no token): the tests choose their own, whatever a local .dev.vars holds;
      // PUBLIC_RECS "open": anonymous reads as before tokens (honoured only while no secret is set).
      // LOG_LEVEL "error" (worker/src/log.ts): the warnings tests provoke on purpose (a broken
      // publication, a canceled request's lease) stay out of the output; a test that provokes an
      // error asserts it with a spy on log.error, so an error nobody expected still prints.
      // USER_STATE_CACHE_SECONDS "0": tests read what D1 holds (and D1's failures) on every request;
      // BUNDLE_CACHE "off": tests rewrite a version's files on purpose. edge.test.ts turns both caches on
      // where it tests them.
      miniflare: {
        // a second local database: the replica that DEV_LATENCY models (worker/src/edge/latency.ts, edge.test.ts)
        d1Databases: { DB_REPLICA: "edgerec-replica" },
        bindings: {
          MODEL_REFRESH_SECONDS: "0",
          CATALOGUE_REFRESH_SECONDS: "0",
          USER_STATE_CACHE_SECONDS: "0",
          BUNDLE_CACHE: "off",
          API_TOKEN: "",
          USER_TOKEN_SECRET: "",
          PUBLIC_RECS: "open",
          LOG_LEVEL: "error",
          TEST_MIGRATIONS: migrations,
        },
      },
    }),
  ],
  test: {
    name: "worker",
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    setupFiles: ["test/apply-migrations.ts"],
    testTimeout: 60_000,
    // spies (on log.error, say) end with their test
    restoreMocks: true,
    // no test may depend on another having run first: the order changes on every run
    // (a failure prints the seed; --sequence.seed=N replays it)
    sequence: { shuffle: true },
  },
});
